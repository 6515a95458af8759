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

    /// <summary>
    /// A module class derived from another module class (<c>class DerivedBlock : BaseBlock</c>, PyTorch's subclassing of a
    /// module) declares its own <c>Compile()</c> and <c>Compiled</c>, hiding the base's when the base has them (a [Module]
    /// base gets them from this generator, a runtime layer may have its own). Whether the base's exist depends on how the base
    /// compiles, which this class's generation does not see, so the members are declared <c>new</c> and CS0109 ("the new
    /// keyword is not required") is silenced for the file.
    /// </summary>
    private static string New(ModuleSpec spec) => spec.BaseKind == BaseKind.ModuleSubclass ? "new " : "";

    private static IndentedWriter BeginFile(ModuleSpec spec)
        => spec.BaseKind == BaseKind.ModuleSubclass
            ? ModuleEmitter.BeginFile(spec, ["#nullable enable", "#pragma warning disable CS0109 // `new` hides the base module's Compile()/Compiled when it has them"])
            : ModuleEmitter.BeginFile(spec);

    public static string Emit(ModuleSpec spec, ProgramPlan p)
    {
        if (p.Methods.IsEmpty && p.Runners.IsEmpty) return EmitEager(spec, p);
        var w = BeginFile(spec);
        string cls = spec.ClassName;
        using (w.Block($"{spec.DeclarationKeywords} {cls}"))
        {
            w.WriteLine("/// <summary>Returns the compiled program of this module, sharing its parameters (no copies). See <see cref=\"Compiled\"/>.</summary>");
            w.WriteLine(GeneratorInfo.GeneratedCodeAttribute);
            w.WriteLine($"public {New(spec)}Compiled Compile() => new(this);");
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
            if (p.Breaks.IsEmpty && p.Eager.IsEmpty && ElementLoops(spec, p).Count > 0)
            {
                w.WriteLine("/// Its loops over a list the constructor sizes call each element's own program (listed by <see cref=\"Explanation\"/>),");
                w.WriteLine("/// each entering the tape as one node; the regions around them are compiled.");
            }
            else if (!p.IsWhole)
            {
                w.WriteLine("/// Its graph breaks (SG1019, listed by <see cref=\"Explanation\"/>): what lies between the compiled regions runs eagerly,");
                w.WriteLine("/// each compiled region entering the tape as one node (PyTorch: a <c>torch.compile</c> graph break).");
            }
            w.WriteLine("/// </summary>");
            w.WriteLine(GeneratorInfo.GeneratedCodeAttribute);
            using (w.Block($"public {New(spec)}sealed class Compiled"))
            {
                w.WriteLine($"private readonly {cls} _m;");
                w.WriteLine($"private readonly {EmitContext.Guard} {EmitContext.GuardField} = new(\"{cls}.Compiled\"); // refuses concurrent calls");
                if (p.Runners.Any(r => r.Segments.Any(s => s.Region is null && s.Code.Contains("__compiled.__elements."))))
                    w.WriteLine("internal readonly global::SharpGrad.ElementPrograms __elements = new(); // the compiled programs of the elements its loops run");
                foreach (var c in p.Modules) w.WriteLine($"private readonly {c.Type} {c.Field};");
                foreach (var s in p.Params.Where(s => !s.IsGroup)) w.WriteLine($"private float[] {EmitContext.ParamGrad(s)} = []; // the gradient of {s.Path}, bound before each backward");
                foreach (var s in p.Params.Where(s => !s.IsGroup)) w.WriteLine($"private bool {EmitContext.Needed(s)};");
                foreach (var s in p.Params.Where(s => s.IsGroup))
                    w.WriteLine($"private readonly global::SharpGrad.CompiledParameterGroup {EmitContext.Group(s)}; // {s.Path}'s parameters, as many as it has");
                foreach (var s in p.Params.Where(s => !s.IsGroup && p.Methods.Any(m => MethodEmitter.Overwrites(m, s))))
                    w.WriteLine($"private bool {EmitContext.Fresh(s)}; // set when the gradient is fresh: its first writer in the backward overwrites it");
                var bound = new HashSet<ParamSlot>(p.Methods.SelectMany(MethodEmitter.BoundSlots));
                foreach (var s in p.Params.Where(s => !s.IsGroup && bound.Contains(s)))
                    w.WriteLine($"private {EmitContext.Tensor}? {EmitContext.ParamGrad(s)}_tensor; // the .Grad tensor the backward reuses");
                foreach (var b in p.Sizes.Where(b => b.Field is not null))
                    w.WriteLine($"private readonly int {b.Field}; // {b.Symbol.Substring(b.Symbol.IndexOf('*') + 1)}, bound from {b.What} when Compile() is called");
                foreach (var atom in p.PerCallSizes)
                    w.WriteLine($"private int {SizeSymbols.Field(atom)}; // {atom}, read from the inputs at each call (the backward restores its call's)");
                foreach (var m in p.Methods) new MethodEmitter(p, m, cls, w).Fields();
                w.WriteLine();
                using (w.Block($"internal Compiled({cls} module)"))
                {
                    if (!spec.DeclarationKeywords.Split(' ').Contains("sealed"))
                    {
                        // Compile() is not virtual (each class's Compiled is its own type): called through a base reference on a
                        // subclass, it would run the base's Forward where eager runs the override. Refuse rather than differ.
                        w.WriteLine($"{EmitContext.Support}.RequireExactType(module, typeof({cls}));");
                    }
                    w.WriteLine("_m = module;");
                    foreach (var c in p.Modules)
                    {
                        w.WriteLine(c.Path.Contains('.') || c.Path != c.Member
                            ? $"{c.Field} = {EmitContext.Support}.Submodule<{c.Type}>(module, \"{c.Path}\");"
                            : $"{c.Field} = module.{Identifier(c.Member)};");
                    }
                    foreach (var s in p.Params.Where(s => s.IsGroup)) w.WriteLine($"{EmitContext.Group(s)} = new({s.Expr});");
                    SizeBindings(w, cls, p.Sizes);
                }
                foreach (var m in p.Methods)
                {
                    w.WriteLine();
                    new MethodEmitter(p, m, cls, w).Emit();
                }
                foreach (var m in p.Runners)
                {
                    w.WriteLine();
                    // Named in text: the method's parameters may be of any type (a tuple cref is not C#), and an overload would make a bare cref ambiguous.
                    w.WriteLine($"/// <summary>Runs <c>{cls}.{m.Name}</c> with its static regions compiled and the statements between them eager (its graph breaks).</summary>");
                    w.WriteLine($"public {m.Signature} => _m.{RegionEmitter.RunnerName(m)}(this{(m.Arguments.Length == 0 ? "" : ", " + m.Arguments)});");
                }
                StandIns(w, cls, p.Eager);
                w.WriteLine();
                Explanation(w, p.Regions, p.Breaks, ElementLoops(spec, p));
            }
        }
        return ModuleEmitter.EndFile(w, spec);
    }

    /// <summary>The loops of the runners over element programs: the method and where, and the list's member and state-dict name.</summary>
    private static List<(string Loop, string Member, string Path, bool Single)> ElementLoops(ModuleSpec spec, ProgramPlan p)
        => p.Runners.SelectMany(r => r.Segments.SelectMany(s => s.ElementLoops.Select(l =>
            (r.Name + ", " + l.Where, l.List, spec.Graph?.Children.FirstOrDefault(c => c.Name == l.List)?.Path ?? l.List, l.Single)))).ToList();

    /// <summary>
    /// The <c>Compiled</c> class of a module whose graph breaks (SG1019): each parsed method runs the module's own
    /// method eagerly (outputs, gradients and hooks exactly as eager), and <c>Explanation</c> lists every break.
    /// </summary>
    private static string EmitEager(ModuleSpec spec, ProgramPlan p)
    {
        var w = BeginFile(spec);
        string cls = spec.ClassName;
        using (w.Block($"{spec.DeclarationKeywords} {cls}"))
        {
            w.WriteLine("/// <summary>Returns this module's program (see <see cref=\"Compiled\"/>: its graph breaks, so it runs eagerly).</summary>");
            w.WriteLine(GeneratorInfo.GeneratedCodeAttribute);
            w.WriteLine($"public {New(spec)}Compiled Compile() => new(this);");
            w.WriteLine();
            w.WriteLine("/// <summary>");
            w.WriteLine("/// The program SharpGrad generated at build time for this module. Its graph breaks (SG1019, listed by");
            w.WriteLine("/// <see cref=\"Explanation\"/>, PyTorch: <c>torch._dynamo.explain</c>), so its methods run eagerly: same outputs and");
            w.WriteLine("/// gradients as the module itself.");
            w.WriteLine("/// </summary>");
            w.WriteLine(GeneratorInfo.GeneratedCodeAttribute);
            using (w.Block($"public {New(spec)}sealed class Compiled"))
            {
                w.WriteLine($"private readonly {cls} _m;");
                w.WriteLine();
                w.WriteLine($"internal Compiled({cls} module) => _m = module;");
                StandIns(w, cls, p.Eager);
                w.WriteLine();
                Explanation(w, p.Regions, p.Breaks);
            }
        }
        return ModuleEmitter.EndFile(w, spec);
    }

    /// <summary>
    /// Binds the sizes the program was generated with symbolically (<c>new Linear(4, hidden)</c>) from the built layers,
    /// and checks once every other size the build could not prove (docs/static-subset.md).
    /// </summary>
    private static void SizeBindings(IndentedWriter w, string cls, EquatableArray<SizeBinding> sizes)
    {
        if (sizes.IsEmpty) return;
        w.Comment("Sizes bound when the module was built: each symbol from one layer, every other symbolic size checked against it.");
        string where = Literal(cls + ".Compile()");
        foreach (var b in sizes)
        {
            if (b.Field is not null)
                w.Call($"{b.Field} = {EmitContext.Support}.BindSize", [b.Source, MethodDraft.I(b.Coefficient), Literal(b.Symbol), Literal(b.What), where]);
            else if (b.Regions.IsEmpty)
                w.Call($"{EmitContext.Support}.CheckSize", [b.Source, b.Expected, Literal(b.Symbol), Literal(b.What), where]);
        }
    }

    /// <summary>A member name as C# code: a keyword (<c>out</c>, a child the user declared as <c>@out</c>) gets its <c>@</c>.</summary>
    private static string Identifier(string name)
        => Microsoft.CodeAnalysis.CSharp.SyntaxFacts.GetKeywordKind(name) != Microsoft.CodeAnalysis.CSharp.SyntaxKind.None ? "@" + name : name;

    /// <summary>A member per method that runs eagerly: it calls the module's own method (outputs, gradients and hooks as eager).</summary>
    private static void StandIns(IndentedWriter w, string cls, EquatableArray<GraphMethod> methods)
    {
        foreach (var m in methods)
        {
            w.WriteLine();
            // Named in text, as the runners: an overload of the name, parsed or not, would make a bare cref ambiguous.
            w.WriteLine($"/// <summary>Runs <c>{cls}.{m.Name}</c> eagerly (its graph breaks).</summary>");
            w.WriteLine($"public {m.Signature} => _m.{m.Name}({m.Arguments});");
        }
    }

    /// <summary>The <c>Explanation</c> property: the compiled regions and the graph breaks, as data.</summary>
    private static void Explanation(IndentedWriter w, EquatableArray<string> regions, EquatableArray<GraphIssue> breaks,
        List<(string Loop, string Member, string Path, bool Single)>? loops = null)
    {
        const string type = "global::SharpGrad.GraphExplanation";
        w.WriteLine("/// <summary>What was compiled and where the graph breaks (PyTorch: <c>torch._dynamo.explain</c>).</summary>");
        if (loops is { Count: > 0 })
        {
            // A loop over element programs adds each element's explanation, read when asked (the elements are the module's now).
            string explanation = "new(s_regions, s_breaks)";
            foreach (var (loop, member, path, single) in loops)
            {
                explanation = single
                    ? $"__elements.ExplainChild({explanation}, {Literal(loop)}, {Literal(path)}, _m.{Identifier(member)}, static e => e.Compile(), static c => c.Explanation)"
                    : $"__elements.Explain({explanation}, {Literal(loop)}, {Literal(path)}, _m.{Identifier(member)}, static e => e.Compile(), static c => c.Explanation)";
            }
            w.WriteLine($"public {type} Explanation => {explanation};");
        }
        else
        {
            w.WriteLine($"public {type} Explanation {{ get; }} = new(s_regions, s_breaks);");
        }
        w.WriteLine();
        using (w.Block("private static readonly string[] s_regions =", "};"))
        {
            foreach (var r in regions) w.WriteLine(Literal(r) + ",");
        }
        w.WriteLine();
        using (w.Block("private static readonly global::SharpGrad.GraphBreak[] s_breaks =", "};"))
        {
            foreach (var b in breaks)
            {
                w.WriteLine($"new({Literal(b.Method)}, {Literal(b.At)},");
                foreach (var piece in Pieces(b.What, ",")) w.WriteLine("    " + piece);
                foreach (var piece in Pieces(b.Reason, "),")) w.WriteLine("    " + piece);
            }
        }
    }

    internal static string Literal(string text) => Microsoft.CodeAnalysis.CSharp.SymbolDisplay.FormatLiteral(text, quote: true);

    /// <summary>A long string as literals of at most 100 characters joined by <c>+</c>, one per line, the last followed by <paramref name="tail"/>.</summary>
    internal static IEnumerable<string> Pieces(string text, string tail)
    {
        int start = 0;
        do
        {
            string piece = Literal(text.Substring(start, System.Math.Min(100, text.Length - start)));
            start += 100;
            yield return start < text.Length ? piece + " +" : piece + tail;
        }
        while (start < text.Length);
    }
}
