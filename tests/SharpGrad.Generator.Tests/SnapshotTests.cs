using Microsoft.CodeAnalysis;
using SharpGrad.Generator.Tests.Support;

namespace SharpGrad.Generator.Tests;

/// <summary>The generated source of representative modules, compared with the committed Snapshots/*.verified.cs.</summary>
public class SnapshotTests
{
    [Theory]
    [InlineData("Cnn", TestSources.Cnn, "Demo.Net.g.cs")]
    [InlineData("Cnn", TestSources.Cnn, "Demo.ResidualBlock.g.cs")]
    [InlineData("Cnn", TestSources.Cnn, "SharpGrad.Interceptors.g.cs")]
    [InlineData("Layers", TestSources.Layers, "Demo.Layers.Conv2d.g.cs")]
    [InlineData("Norm", TestSources.Norm, "Demo.Layers.BatchNormLike.g.cs")]
    [InlineData("Sequential", TestSources.Features, "Demo.Blocks.Features.g.cs")]
    public void GeneratedSourceMatchesSnapshot(string scenario, string source, string hintName)
    {
        var (result, _) = GeneratorHarness.Run(TestSources.Layers == source ? [source] : [TestSources.Layers, source]);

        var generated = result.GeneratedSources.SingleOrDefault(s => s.HintName == hintName);
        Assert.True(generated.HintName is not null,
            $"No generated file {hintName}; got: {string.Join(", ", result.GeneratedSources.Select(s => s.HintName))}");
        Snapshot.Verify(scenario + "." + hintName.Replace(".g.cs", ""), generated.SourceText.ToString());
    }

    [Theory]
    [InlineData(TestSources.Cnn)]
    [InlineData(TestSources.Norm)]
    [InlineData(TestSources.Features)]
    public void GeneratedCodeCompilesWithoutDiagnostics(string source)
    {
        var (result, output) = GeneratorHarness.Run(TestSources.Layers, source);

        // Only graph breaks (info): Features calls a child marked Compile = false.
        Assert.All(result.Diagnostics, d => Assert.Equal(("SG1019", DiagnosticSeverity.Info), (d.Id, d.Severity)));
        Assert.NotEmpty(result.GeneratedSources);
        var problems = GeneratorHarness.Problems(output);
        Assert.True(problems.Count == 0, GeneratorHarness.Format(problems));
    }

    [Fact]
    public void OneFilePerModuleNamedAfterNamespaceAndClass()
    {
        var (result, _) = GeneratorHarness.Run(TestSources.Layers, TestSources.Cnn, TestSources.Features);

        Assert.Equal(
            // The stub layers have no input shape: their Compile() runs Forward eagerly (a graph break, SG1019).
            ["Demo.Blocks.Features.g.cs", "Demo.Layers.Conv2d.Compiled.g.cs", "Demo.Layers.Conv2d.g.cs", "Demo.Layers.Linear.Compiled.g.cs", "Demo.Layers.Linear.g.cs",
             "Demo.Layers.ReLU.Compiled.g.cs", "Demo.Layers.ReLU.g.cs", "Demo.Net.Compiled.g.cs", "Demo.Net.g.cs", "Demo.ResidualBlock.g.cs",
             "SharpGrad.Interceptors.g.cs"],
            result.GeneratedSources.Select(s => s.HintName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void HandWrittenMembersAreNotGenerated()
    {
        var (result, output) = GeneratorHarness.Run(TestSources.Layers, """
            using System.Collections.Generic;
            using SharpGrad;
            using Demo.Layers;
            namespace Demo;

            [Module]
            public partial class Custom
            {
                private readonly Linear fc = new(1, 1);

                public override IEnumerable<(string Name, Module Module)> NamedChildren() { yield return ("renamed", fc); }

                protected override Tensor ForwardDynamic(Tensor[] inputs) => Forward(inputs[0]);

                public Tensor Forward(Tensor x) => fc.Forward(x);
            }

            [Sequential]
            public partial class Steps
            {
                private readonly ReLU relu = new();

                public Tensor Forward(Tensor input) => relu.Forward(input);
            }
            """);
        // Only the graph breaks of modules with no input shape (they run eagerly inside Compile()).
        Assert.All(result.Diagnostics, d => Assert.Contains("whose inputs have no batch dim known at build time", d.GetMessage()));
        var problems = GeneratorHarness.Problems(output);
        Assert.True(problems.Count == 0, GeneratorHarness.Format(problems));

        var custom = result.GeneratedSources.Single(s => s.HintName == "Demo.Custom.g.cs").SourceText.ToString();
        Assert.DoesNotContain("NamedChildren", custom);
        Assert.DoesNotContain("ForwardDynamic", custom);
        Assert.Contains("NamedDirectParameters", custom);

        var steps = result.GeneratedSources.Single(s => s.HintName == "Demo.Steps.g.cs").SourceText.ToString();
        Assert.DoesNotContain("public global::SharpGrad.Tensor Forward(", steps);
        Assert.Contains("ForwardDynamic", steps);
    }
}
