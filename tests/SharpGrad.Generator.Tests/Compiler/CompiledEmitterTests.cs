using SharpGrad.Generator.Tests.Support;

namespace SharpGrad.Generator.Tests.Compiler;

/// <summary>The emitted <c>Compiled</c> class: a snapshot for an MLP, and no class (and no error) outside the slice.</summary>
public class CompiledEmitterTests
{
    [Fact]
    public void CompiledMlpMatchesSnapshot()
    {
        var (result, output) = GeneratorHarness.Run(CompilerSources.Mlp);
        var generated = result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.Mlp.Compiled.g.cs");
        Snapshot.Verify("Compiler.Demo.Compiled.Mlp.Compiled", generated.SourceText.ToString());
        Assert.Empty(result.Diagnostics);
        Assert.Empty(GeneratorHarness.Problems(output));
    }

    [Fact]
    public void CompiledForwardCarriesTheInferredShapes()
    {
        var (_, output) = GeneratorHarness.Run(CompilerSources.Mlp);
        var forward = output.GetTypeByMetadataName("Demo.Compiled.Mlp+Compiled")!.GetMembers("Forward").OfType<Microsoft.CodeAnalysis.IMethodSymbol>().Single();
        var returned = forward.GetReturnTypeAttributes().Single(a => a.AttributeClass!.Name == "ShapeAttribute");
        Assert.Equal(["N", 10], returned.ConstructorArguments[0].Values.Select(v => v.Value));
        Assert.Equal(["N", 784], forward.Parameters.Single().GetAttributes().Single().ConstructorArguments[0].Values.Select(v => v.Value));
    }

    [Theory]
    [InlineData("Functional.Relu(", "Functional.Sigmoid(")] // an activation without a rule yet
    [InlineData("return fc2.Forward(h);", "return fc2.Forward(h) + fc2.Forward(h);")] // a child used twice
    [InlineData("    public Tensor Forward(", "    [Compiled] public Tensor Scores([Shape(\"N\", 784)] Tensor x) => Functional.Relu(fc1.Forward(x));\n    public Tensor Forward(")] // a [Compiled] method too
    public void OutsideTheSliceNoCompiledClassAndNoError(string from, string to)
    {
        var (result, output) = GeneratorHarness.Run(CompilerSources.Mlp.Replace(from, to));
        Assert.DoesNotContain(result.GeneratedSources, s => s.HintName.EndsWith(".Compiled.g.cs", StringComparison.Ordinal));
        Assert.Empty(result.Diagnostics);
        Assert.Empty(GeneratorHarness.Problems(output));
    }

    [Fact]
    public void CnnIsCompiledWithTheConvAndPoolKernels()
    {
        var (result, output) = GeneratorHarness.Run(CompilerSources.Cnn);
        var text = result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.Cnn.Compiled.g.cs").SourceText.ToString();
        Assert.Contains("CompiledSupport.Conv2dForward(", text);
        Assert.Contains("CompiledSupport.MaxPool2dForward(", text);
        Assert.Contains("a view, no copy", text);
        Snapshot.Verify("Compiler.Demo.Compiled.Cnn.Compiled", text);
        Assert.Empty(GeneratorHarness.Problems(output));
    }

    [Fact]
    public void AvgPoolCnnIsNotCompiledYet()
    {
        var (result, output) = GeneratorHarness.Run(CompilerSources.Cnn.Replace("MaxPool2d", "AvgPool2d"));
        Assert.DoesNotContain(result.GeneratedSources, s => s.HintName.EndsWith(".Compiled.g.cs", StringComparison.Ordinal));
        Assert.Empty(GeneratorHarness.Problems(output));
    }
}
