using System.Diagnostics;
using Microsoft.CodeAnalysis;
using SharpGrad.Generator.Tests.Support;
using Xunit.Abstractions;

namespace SharpGrad.Generator.Tests.Compiler;

/// <summary>
/// The build time the generator adds for a 30-layer model (docs/compiler.md, "Build time"). A measurement, not a test:
/// it runs only with <c>SHARPGRAD_MEASURE_BUILD_TIME=1</c> and prints medians; nothing is asserted about time.
/// <code>SHARPGRAD_MEASURE_BUILD_TIME=1 dotnet test tests/SharpGrad.Generator.Tests --filter BuildTimeMeasurement --logger "console;verbosity=detailed"</code>
/// </summary>
public class BuildTimeMeasurement(ITestOutputHelper output)
{
    /// <summary>30 layers: 10 [Module] blocks of (Linear, ReLU, Linear) inlined into a model, plus a flat 30-Linear MLP.</summary>
    internal static string ThirtyLayers()
    {
        var sb = new System.Text.StringBuilder("""
            using SharpGrad;
            using SharpGrad.Layers;

            namespace Demo.Big;

            [Module]
            public partial class Block
            {
                private readonly Linear fc1 = new(64, 64);
                private readonly Linear fc2 = new(64, 64);

                public Tensor Forward(Tensor x) => fc2.Forward(Functional.Relu(fc1.Forward(x))) + x;
            }

            [Module]
            public partial class Deep
            {
                private readonly Linear stem = new(784, 64);

            """);
        for (int i = 0; i < 10; i++) sb.AppendLine($"    private readonly Block block{i} = new();");
        sb.AppendLine("    private readonly Linear head = new(64, 10);");
        sb.AppendLine("    public Tensor Forward(Tensor x)\n    {\n        var h = stem.Forward(x);");
        for (int i = 0; i < 10; i++) sb.AppendLine($"        h = block{i}.Forward(h);");
        sb.AppendLine("        return head.Forward(h);\n    }\n}\n\n[Module]\npublic partial class Flat\n{");
        for (int i = 0; i < 30; i++) sb.AppendLine($"    private readonly Linear fc{i} = new({(i == 0 ? 784 : 64)}, {(i == 29 ? 10 : 64)});");
        sb.AppendLine("    public Tensor Forward(Tensor x)\n    {\n        var h = x;");
        for (int i = 0; i < 30; i++) sb.AppendLine(i == 29 ? $"        return fc{i}.Forward(h);" : $"        h = Functional.Relu(fc{i}.Forward(h));");
        sb.AppendLine("    }\n}");
        return sb.ToString();
    }

    [Fact]
    public void ThirtyLayerModelGeneratesWithoutErrors()
    {
        var (result, compiled) = GeneratorHarness.Run(ThirtyLayers());
        Assert.Empty(result.Diagnostics);
        Assert.Empty(GeneratorHarness.Problems(compiled));
        foreach (var file in result.GeneratedSources) Snapshot.AssertReadableWidth(file.HintName, file.SourceText.ToString());
        var deep = CompilerHarness.Spec(result, "Deep");
        Assert.Equal("[N, 10]", deep.Shapes.Single().Output?.ToString());
        Assert.Equal(1 + 1 + (10 * 5) + 1, deep.Graph!.Methods.Single().Nodes.Count);   // input, stem, 10 × (fc1, relu, fc2, add, boundary), head

        if (Environment.GetEnvironmentVariable("SHARPGRAD_MEASURE_BUILD_TIME") != "1") return;

        // One module per file, as a project would have them: Block.cs, Deep.cs, Flat.cs.
        var source = ThirtyLayers();
        string usings = source.Substring(0, source.IndexOf("[Module]", StringComparison.Ordinal));
        var parts = source.Substring(usings.Length).Split("[Module]", StringSplitOptions.RemoveEmptyEntries);
        string[] names = ["Block.cs", "Deep.cs", "Flat.cs"];
        Compilation Create(Func<string, string> edit, bool modules = true)
            => GeneratorHarness.CreateCompilation([.. parts.Select((p, i) =>
                GeneratorHarness.Parse(usings + (modules ? "[Module]" : "") + (i == 0 ? edit(p) : p), names[i]))]);

        const int Runs = 30;
        var full = new List<double>();
        var edit = new List<double>();
        var baseline = new List<double>();
        for (int run = 0; run < Runs + 3; run++)
        {
            // Full: a new driver over a fresh compilation of the model (what a clean build pays).
            var compilation = Create(p => p);
            var watch = Stopwatch.StartNew();
            var driver = GeneratorHarness.CreateDriver().RunGeneratorsAndUpdateCompilation(compilation, out _, out _);
            watch.Stop();
            if (run >= 3) full.Add(watch.Elapsed.TotalMilliseconds);

            // Incremental: Block's Forward body edited in Block.cs (what an IDE keystroke pays): Block re-parses, Deep
            // (which inlines it ten times) re-runs, Flat stays cached.
            var edited = compilation.ReplaceSyntaxTree(compilation.SyntaxTrees.First(),
                Create(p => p.Replace("Functional.Relu(fc1.Forward(x))) + x", "Functional.Relu(fc1.Forward(x))) - x")).SyntaxTrees.First());
            watch.Restart();
            driver.RunGeneratorsAndUpdateCompilation(edited, out _, out _);
            watch.Stop();
            if (run >= 3) edit.Add(watch.Elapsed.TotalMilliseconds);

            // Baseline: the same code without [Module] (the generator finds nothing to do).
            var plain = Create(p => p, modules: false);
            watch.Restart();
            GeneratorHarness.CreateDriver().RunGeneratorsAndUpdateCompilation(plain, out _, out _);
            watch.Stop();
            if (run >= 3) baseline.Add(watch.Elapsed.TotalMilliseconds);
        }
        static double Median(List<double> xs) => xs.Order().ElementAt(xs.Count / 2);
        output.WriteLine($"30-layer model ({Runs} runs, median): full generator run {Median(full):F1} ms, incremental after a body edit {Median(edit):F1} ms, "
                         + $"same code without [Module] {Median(baseline):F1} ms");
    }
}
