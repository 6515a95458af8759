using Microsoft.CodeAnalysis;
using SharpGrad.Generator.Model;
using SharpGrad.Generator.Tests.Support;

namespace SharpGrad.Generator.Tests.Compiler;

/// <summary>Runs the generator and fishes the checked spec of one class out of the tracked steps.</summary>
internal static class CompilerHarness
{
    public static ModuleSpec Spec(GeneratorRunResult result, string className)
        => result.TrackedSteps[TrackingNames.CheckedSpecs]
            .SelectMany(r => r.Outputs)
            .Select(o => (ModuleSpec)o.Value)
            .Single(s => s.ClassName == className);

    public static (ModuleSpec Spec, GeneratorRunResult Result) Run(string className, params string[] sources)
    {
        var (result, _) = GeneratorHarness.Run(sources);
        return (Spec(result, className), result);
    }

    /// <summary>The nodes of a method as structural one-liners (kind, op, child, inputs, int args; no text or locations).</summary>
    public static string[] Dump(GraphMethod method) => [.. method.Nodes.Select(n => n.ToString())];
}
