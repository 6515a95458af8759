using SharpGrad.Generator.Tests.Support;

namespace SharpGrad.Generator.Tests.Compiler;

/// <summary>The emitted <c>Compiled</c> class: snapshots of four representative models, variants, and SG1017 for what is not emitted.</summary>
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
    [InlineData("Functional.Relu(", "Functional.Sigmoid(")] // another activation
    [InlineData("return fc2.Forward(h);", "return fc2.Forward(h) + fc2.Forward(h);")] // a child used twice
    [InlineData("    public Tensor Forward(", "    [Compiled] public Tensor Scores([Shape(\"N\", 784)] Tensor x) => Functional.Relu(fc1.Forward(x));\n    public Tensor Forward(")] // a [Compiled] method too
    public void VariantsAreCompiledWithoutDiagnostics(string from, string to)
    {
        var (result, output) = GeneratorHarness.Run(CompilerSources.Mlp.Replace(from, to));
        Assert.Contains(result.GeneratedSources, s => s.HintName.EndsWith(".Compiled.g.cs", StringComparison.Ordinal));
        Assert.Empty(result.Diagnostics);
        Assert.Empty(GeneratorHarness.Problems(output));
    }

    [Fact]
    public void AnElementwiseChainIsOneLoop()
    {
        var (result, output) = GeneratorHarness.Run(CompilerSources.Mlp.Replace("return fc2.Forward(h);", "return fc2.Forward(-(h * 2f + 1f));"));
        var text = result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.Mlp.Compiled.g.cs").SourceText.ToString();
        var loop = text.Split('\n').SkipWhile(l => !l.Contains("// fused: h * 2f, h * 2f + 1f and -(h * 2f + 1f) in one loop")).Skip(1).First();
        Assert.Contains("neg_out[j] = -((relu_out[j] * 2f) + 1f);", loop); // the three ops in one expression: nothing materialised in between
        Assert.Empty(result.Diagnostics);
        Assert.Empty(GeneratorHarness.Problems(output));
    }

    [Fact]
    public void AResidualAddAfterALinearIsInItsGemmEpilogue()
    {
        var source = CompilerSources.Mlp.Replace("new Linear(256, 10)", "new Linear(256, 256)").Replace("return fc2.Forward(h);", "return fc2.Forward(h) + h;");
        var (result, output) = GeneratorHarness.Run(source);
        var text = result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.Mlp.Compiled.g.cs").SourceText.ToString();
        Assert.Contains("// fused: the residual add `fc2.Forward(h) + h` in the GEMM's epilogue", text);
        Assert.Contains("residual: relu_out", text);
        Assert.Empty(result.Diagnostics);
        Assert.Empty(GeneratorHarness.Problems(output));
    }

    [Fact]
    public void AForeachOverAnArrayOfChildrenIsUnrolled()
    {
        var source = CompilerSources.Mlp
            .Replace("private readonly Linear fc2 = new Linear(256, 10);", "private readonly Linear fc2 = new Linear(256, 10);\n    private readonly Linear[] blocks = [new(256, 256), new(256, 256)];")
            .Replace("return fc2.Forward(h);", "foreach (var block in blocks) h = Functional.Relu(block.Forward(h));\n        return fc2.Forward(h);");
        var (result, output) = GeneratorHarness.Run(source);
        var text = result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.Mlp.Compiled.g.cs").SourceText.ToString();
        Assert.Contains("Submodule<global::SharpGrad.Layers.Linear>(module, \"blocks.0\")", text);
        Assert.Contains("Submodule<global::SharpGrad.Layers.Linear>(module, \"blocks.1\")", text);
        Assert.Contains("[return: global::SharpGrad.Shape(\"N\", 10)]", text);
        Assert.Empty(result.Diagnostics);
        Assert.Empty(GeneratorHarness.Problems(output));
    }

    [Fact]
    public void AnOpTheCodeGeneratorDoesNotEmitIsAGraphBreakAtTheExpression()
    {
        // Formerly warning SG1017 and no Compiled class: now a graph break (SG1019, info) and an eager Compiled class
        // whose Explanation names it.
        const string op = "Functional.Softmax(h, 0)";
        var source = CompilerSources.Mlp.Replace("return fc2.Forward(h);", "return fc2.Forward(" + op + ");");
        var (result, output) = GeneratorHarness.Run(source);
        var compiled = result.GeneratedSources.Single(s => s.HintName.EndsWith(".Compiled.g.cs", StringComparison.Ordinal)).SourceText.ToString();
        Assert.Contains("=> _m.Forward(x);", compiled);
        var diagnostic = Assert.Single(result.Diagnostics);
        Assert.Equal("SG1019", diagnostic.Id);
        Assert.Equal(Microsoft.CodeAnalysis.DiagnosticSeverity.Info, diagnostic.Severity);
        Assert.Equal(source.IndexOf(op, StringComparison.Ordinal), diagnostic.Location.SourceSpan.Start);
        Assert.Contains("Softmax", diagnostic.GetMessage());
        Assert.Contains("which the code generator does not emit yet", diagnostic.GetMessage());
        Assert.Contains("Softmax", compiled);   // the break, in the Explanation
        Assert.DoesNotContain(GeneratorHarness.Problems(output), d => d.Id != "SG1019");
    }

    [Fact]
    public void NestedModuleWithCompiledLossMatchesSnapshot()
    {
        var (result, output) = GeneratorHarness.Run(CompilerSources.Nested);
        var text = result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.Outer.Compiled.g.cs").SourceText.ToString();
        Assert.Contains("public float LossBackward(", text);
        Assert.Contains("in turn (their lives do not overlap)", text); // the Dropout output's buffer is reused once the Select has copied it
        Assert.Contains("Submodule<global::SharpGrad.Layers.Linear>(module, \"block.fc\")", text);
        Snapshot.Verify("Compiler.Demo.Compiled.Outer.Compiled", text);
        Assert.Empty(GeneratorHarness.Problems(output));
    }

    [Fact]
    public void SequentialCnnWithCrossEntropyMatchesSnapshot()
    {
        var (result, output) = GeneratorHarness.Run(CompilerSources.SequentialCnn);
        var text = result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.SeqCnn.Compiled.g.cs").SourceText.ToString();
        Assert.Contains("// fused: ", text);
        Assert.Contains("Kernels.ClassIndexLoss.Forward(", text);
        Assert.Contains("CompiledSupport.BatchNormForward(", text);
        Snapshot.Verify("Compiler.Demo.Compiled.SeqCnn.Compiled", text);
        Assert.Empty(result.Diagnostics);
        Assert.Empty(GeneratorHarness.Problems(output));
    }

    [Fact]
    public void CnnIsCompiledWithTheConvAndPoolKernels()
    {
        var (result, output) = GeneratorHarness.Run(CompilerSources.Cnn);
        var text = result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.Cnn.Compiled.g.cs").SourceText.ToString();
        Assert.Contains("CompiledSupport.ConvForward(", text);
        Assert.Contains("CompiledSupport.MaxPoolForward(", text);
        Assert.Contains("a view of the same buffer, no copy", text);
        Snapshot.Verify("Compiler.Demo.Compiled.Cnn.Compiled", text);
        Assert.Empty(GeneratorHarness.Problems(output));
    }

    [Fact]
    public void AvgPoolCnnIsCompiled()
    {
        var (result, output) = GeneratorHarness.Run(CompilerSources.Cnn.Replace("MaxPool2d", "AvgPool2d"));
        Assert.Contains("CompiledSupport.AvgPoolForward(", result.GeneratedSources.Single(s => s.HintName.EndsWith(".Compiled.g.cs", StringComparison.Ordinal)).SourceText.ToString());
        Assert.Empty(GeneratorHarness.Problems(output));
    }
}
