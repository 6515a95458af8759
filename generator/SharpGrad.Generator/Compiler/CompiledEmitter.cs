using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using SharpGrad.Generator.Model;

namespace SharpGrad.Generator.Compiler;

/// <summary>
/// Emits the nested <c>Compiled</c> class of a module (<c>Net.Compiled.g.cs</c>) when every node of its parsed methods
/// is inside what the compiler generates code for (<see cref="CompiledPlanner"/> decides; anything else: no class).
/// <para>
/// One compiled method per parsed method (<c>Forward</c>, each <c>[Compiled]</c> method): a straight-line forward over
/// contiguous float32 buffers (calls into <c>SharpGrad.Kernels</c> and <c>CompiledSupport</c>, elementwise loops inline)
/// and a backward generated from the IR — one vector-Jacobian rule per node, in reverse order, accumulating into
/// gradient buffers. Fusions are marked in the generated code with a <c>// fused:</c> comment.
/// </para>
/// </summary>
internal static class CompiledEmitter
{
    internal const string Tensor = "global::SharpGrad.Tensor";
    internal const string Support = "global::SharpGrad.CompiledSupport";
    internal const string Gemm = "global::SharpGrad.Kernels.Gemm";

    public static string HintName(ModuleSpec spec) => ModuleEmitter.HintName(spec).Replace(".g.cs", ".Compiled.g.cs");

    /// <summary>
    /// The Compiled class, or null with <paramref name="notCompiled"/> saying why (SG1017) when an op is outside what the
    /// code generator emits; null without a diagnostic when shapes are simply unknown at build time (no [Shape], no first layer).
    /// </summary>
    public static string? TryEmit(ModuleSpec spec, out DiagnosticInfo? notCompiled)
    {
        var failure = new PlanFailure();
        var program = CompiledPlanner.TryPlan(spec, failure);
        notCompiled = program is null && failure.Reason is { } reason
            ? new DiagnosticInfo(DiagnosticDescriptors.NotCompiledId, failure.Location, new[] { spec.ClassName, reason }.ToEquatableArray())
            : null;
        return program is null ? null : Emit(program);
    }

    private static string Emit(CompiledProgram p)
    {
        var spec = p.Spec;
        var w = ModuleEmitter.BeginFile(spec);
        string cls = spec.ClassName;
        using (w.Block($"{spec.DeclarationKeywords} {cls}"))
        {
            w.WriteLine("/// <summary>Returns the compiled program of this module, sharing its parameters (no copies). See <see cref=\"Compiled\"/>.</summary>");
            w.WriteLine(GeneratorInfo.GeneratedCodeAttribute);
            w.WriteLine("public Compiled Compile() => new(this);");
            w.WriteLine();
            w.WriteLine("/// <summary>");
            w.WriteLine("/// The program SharpGrad generated at build time from this module's parsed methods: a straight-line forward over");
            w.WriteLine("/// SharpGrad.Kernels and a generated backward (PyTorch: what <c>torch.compile</c> produces). Each method's output");
            w.WriteLine("/// enters the eager tape as one node; buffers are allocated on the first call and reused while the batch does not");
            w.WriteLine("/// grow, so call Backward on an output before calling the same method again. Float32 only; hooks registered on");
            w.WriteLine("/// children are called with materialised values (observing hooks; a hook that returns a replacement throws).");
            w.WriteLine("/// </summary>");
            w.WriteLine(GeneratorInfo.GeneratedCodeAttribute);
            using (w.Block("public sealed class Compiled"))
            {
                w.WriteLine($"private readonly {cls} _m;");
                foreach (var c in p.Modules) w.WriteLine($"private readonly {c.Type} {c.Field};");
                foreach (var s in p.Params) w.WriteLine($"private readonly float[] _gp{s.Index}; // gradient of {s.Path}");
                var fused = new HashSet<ParamSlot>(p.Methods.Where(m => m.ScalarOutput).SelectMany(MethodEmitter.Slots));
                foreach (var s in p.Params.Where(fused.Contains)) w.WriteLine($"private {Tensor}? _gt{s.Index}; // the .Grad tensor the fused backward reuses");
                w.WriteLine($"private readonly bool[] _needP = new bool[{p.Params.Count}];");
                foreach (var m in p.Methods) MethodEmitter.Fields(w, m);
                w.WriteLine();
                using (w.Block($"internal Compiled({cls} module)"))
                {
                    w.WriteLine("_m = module;");
                    foreach (var c in p.Modules)
                    {
                        w.WriteLine(c.Path.Contains('.') || c.Path != c.Member
                            ? $"{c.Field} = {Support}.Submodule<{c.Type}>(module, \"{c.Path}\");"
                            : $"{c.Field} = module.{c.Member};");
                    }
                    foreach (var s in p.Params) w.WriteLine($"_gp{s.Index} = new float[{s.Expr}.NumElements];");
                }
                foreach (var m in p.Methods)
                {
                    w.WriteLine();
                    new MethodEmitter(p, m, w).Emit();
                }
            }
        }
        return ModuleEmitter.EndFile(w, spec);
    }
}
