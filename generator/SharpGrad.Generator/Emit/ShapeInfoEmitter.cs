using System.Linq;
using SharpGrad.Generator.Model;

namespace SharpGrad.Generator.Emit;

/// <summary>
/// Writes the shapes inferred for a shape-checked module where analyzers can read them, in a file of its own
/// (<c>Net.Shapes.g.cs</c>) so the plumbing file stays as it was: a nested <c>ShapeInfo</c> class holding one
/// delegate per parsed method, whose parameters and return value carry <c>[Shape(…)]</c>. A delegate has no body
/// and costs nothing at run time; an analyzer reads <c>Net.ShapeInfo.Forward.Invoke</c>'s attributes.
/// </summary>
internal static class ShapeInfoEmitter
{
    private const string Tensor = "global::SharpGrad.Tensor";
    private const string Shape = "global::SharpGrad.Shape";

    public static string HintName(ModuleSpec spec) => ModuleEmitter.HintName(spec).Replace(".g.cs", ".Shapes.g.cs");

    public static string Emit(ModuleSpec spec)
    {
        // A module subclass's ShapeInfo hides its base's (`new`; CS0109 when the base has none).
        bool subclass = spec.BaseKind == BaseKind.ModuleSubclass;
        var w = subclass ? ModuleEmitter.BeginFile(spec, ["#pragma warning disable CS0109 // `new` hides the base module's ShapeInfo when it has one"]) : ModuleEmitter.BeginFile(spec);

        using (w.Block($"{spec.DeclarationKeywords} {spec.ClassName}"))
        {
            w.WriteLine($"/// <summary>The shapes SharpGrad inferred for {spec.ClassName} at build time, for analyzers (one delegate per checked method).</summary>");
            w.WriteLine(GeneratorInfo.GeneratedCodeAttribute);
            w.WriteLine("[global::System.ComponentModel.EditorBrowsable(global::System.ComponentModel.EditorBrowsableState.Never)]");
            using (w.Block((subclass ? "internal new static class" : "internal static class") + " ShapeInfo"))
            {
                var used = new System.Collections.Generic.Dictionary<string, int>();
                bool first = true;
                foreach (var method in spec.Shapes)
                {
                    if (!first) w.WriteLine();
                    first = false;
                    used.TryGetValue(method.Name, out int seen);
                    used[method.Name] = seen + 1;
                    string name = seen == 0 ? method.Name : method.Name + (seen + 1);

                    string inputs = string.Join(", ", method.Inputs.Select(i => i.Name + " " + (i.Shape?.ToString() ?? "[unknown]")));
                    w.WriteLine($"/// <summary><c>{method.Name}({inputs})</c> returns <c>{method.Output?.ToString() ?? "[unknown]"}</c>.</summary>");
                    if (method.Output is { } output) w.WriteLine($"[return: {Shape}({Arguments(output)})]");
                    var parameters = method.Inputs.Select(i => (i.Shape is { } s ? $"[{Shape}({Arguments(s)})] " : "") + $"{Tensor} {Escape(i.Name)}");
                    w.WriteLine($"internal delegate {Tensor} {name}({string.Join(", ", parameters)});");
                }
            }
        }

        return ModuleEmitter.EndFile(w, spec);
    }

    /// <summary><c>"N", 3, 8, 8</c>: symbols (and <c>"?"</c> for unknown) as strings, sizes as ints.</summary>
    private static string Arguments(TensorShape shape)
        => string.Join(", ", shape.Dims.Select(d => d.IsFixed ? d.Size.ToString(System.Globalization.CultureInfo.InvariantCulture) : "\"" + d.Symbol + "\""));

    private static string Escape(string name)
        => Microsoft.CodeAnalysis.CSharp.SyntaxFacts.GetKeywordKind(name) != Microsoft.CodeAnalysis.CSharp.SyntaxKind.None ? "@" + name : name;
}
