using System.Collections.Generic;
using System.Linq;

namespace SharpGrad.Generator.Emit;

/// <summary>
/// Emits the nested <c>Compiled</c> class of a module (<c>Net.Compiled.g.cs</c>) from its planned program
/// (<see cref="Planning.Planner"/>): the children and parameter gradients it binds, and one compiled method per parsed
/// method (<see cref="MethodEmitter"/>). Emission only: every decision was taken by the planner.
/// </summary>
internal static class CompiledEmitter
{
    public static string HintName(ModuleSpec spec) => ModuleEmitter.HintName(spec).Replace(".g.cs", ".Compiled.g.cs");

    public static string Emit(ModuleSpec spec, ProgramPlan p)
    {
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
            w.WriteLine("/// One instance per thread: the buffers are reused from call to call, so concurrent (or nested) calls of one instance");
            w.WriteLine("/// throw an <see cref=\"global::System.InvalidOperationException\"/> (<see cref=\"global::SharpGrad.CompiledCallGuard\"/>);");
            w.WriteLine("/// call <c>Compile()</c> once per thread, which shares the parameters (docs/threading.md).");
            w.WriteLine("/// </summary>");
            w.WriteLine(GeneratorInfo.GeneratedCodeAttribute);
            using (w.Block("public sealed class Compiled"))
            {
                w.WriteLine($"private readonly {cls} _m;");
                w.WriteLine($"private readonly {EmitContext.Guard} {EmitContext.GuardField} = new(\"{cls}.Compiled\"); // refuses concurrent calls");
                foreach (var c in p.Modules) w.WriteLine($"private readonly {c.Type} {c.Field};");
                foreach (var s in p.Params) w.WriteLine($"private readonly float[] {EmitContext.ParamGrad(s)}; // the gradient of {s.Path}");
                foreach (var s in p.Params) w.WriteLine($"private bool {EmitContext.Needed(s)};");
                var fused = new HashSet<ParamSlot>(p.Methods.Where(m => m.ScalarOutput).SelectMany(MethodEmitter.Slots));
                foreach (var s in p.Params.Where(fused.Contains))
                    w.WriteLine($"private {EmitContext.Tensor}? {EmitContext.ParamGrad(s)}_tensor; // the .Grad tensor the fused backward reuses");
                foreach (var m in p.Methods) new MethodEmitter(p, m, cls, w).Fields();
                w.WriteLine();
                using (w.Block($"internal Compiled({cls} module)"))
                {
                    w.WriteLine("_m = module;");
                    foreach (var c in p.Modules)
                    {
                        w.WriteLine(c.Path.Contains('.') || c.Path != c.Member
                            ? $"{c.Field} = {EmitContext.Support}.Submodule<{c.Type}>(module, \"{c.Path}\");"
                            : $"{c.Field} = module.{c.Member};");
                    }
                    foreach (var s in p.Params) w.WriteLine($"{EmitContext.ParamGrad(s)} = new float[{s.Expr}.NumElements];");
                }
                foreach (var m in p.Methods)
                {
                    w.WriteLine();
                    new MethodEmitter(p, m, cls, w).Emit();
                }
            }
        }
        return ModuleEmitter.EndFile(w, spec);
    }
}
