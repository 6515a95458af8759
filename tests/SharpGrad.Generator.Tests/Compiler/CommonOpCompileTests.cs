using Microsoft.CodeAnalysis;
using SharpGrad.Generator.Tests.Support;

namespace SharpGrad.Generator.Tests.Compiler;

/// <summary>
/// The common ops of issue 12 compile: each snippet's Forward gets a compiled program (no SG1019 graph break, no other
/// diagnostic) whose code calls the op's kernel; provable argument errors of slicing and joining are SG1021 errors.
/// </summary>
public class CommonOpCompileTests
{
    private static string Model(string parameters, string body) => $$"""
        using SharpGrad;
        using SharpGrad.Data;
        using SharpGrad.Layers;

        namespace Demo.Compiled;

        [Module]
        public partial class Net
        {
            private readonly Linear fc = new(8, 8);
            private readonly Parameter cw = new(Tensor.Randn([4, 1, 3, 3]));
            private readonly Parameter cb = new(Tensor.Randn(4));
            private readonly Parameter cw1 = new(Tensor.Randn([3, 2, 3]));
            private readonly Parameter gw = new(Tensor.Randn(4));
            private readonly Parameter gb = new(Tensor.Randn(4));

            public Tensor Forward({{parameters}})
            {
                var h = fc.Forward(x);
        {{body}}
            }
        }
        """;

    public static TheoryData<string, string, string> Ops() => new()
    {
        { "[Shape(\"N\", 8)] Tensor x", "return h.Narrow(1, 2, 3);", "AxisCopyKernel.Read" },
        { "[Shape(\"N\", 8)] Tensor x", "return h.Slice(1, 1, -1, 2);", "AxisCopyKernel.Read" },
        { "[Shape(\"N\", 8)] Tensor x", "return h.Select(1, 0);", "AxisCopyKernel.Read" },
        { "[Shape(\"N\", 8)] Tensor x", "return h.Chunk(3, 1)[2];", "AxisCopyKernel.Read" },
        { "[Shape(\"N\", 8)] Tensor x", "var (a, b) = h.Chunk(2, -1);\n        return a * b;", "AxisCopyKernel.Read" },
        { "[Shape(\"N\", 8)] Tensor x", "var parts = h.Split([3, 5], 1);\n        return parts[1];", "AxisCopyKernel.Read" },
        { "[Shape(\"N\", 4, 8)] Tensor x", "return h.Unbind(1)[3];", "AxisCopyKernel.Read" },
        { "[Shape(\"N\", 8)] Tensor x", "return Tensor.Cat([h, x, h], 1);", "AxisCopyKernel.Write" },
        { "[Shape(\"N\", 8)] Tensor x", "return Tensor.Stack(new[] { h, x }, 1);", "AxisCopyKernel.Write" },
        { "[Shape(\"N\", 8)] Tensor x", "return h.Pow(3.0);", "PowScalarOp" },
        { "[Shape(\"N\", 2, 3, 8)] Tensor x, [Shape(8, 5)] Tensor w", "return h.MatMul(w);", "MatMulBroadcastForward" },
        { "[Shape(\"N\", 3, 8)] Tensor x, [Shape(1, 4, 3)] Tensor w", "return w.MatMul(h);", "MatMulBroadcastForward" },
        { "[Shape(\"N\", 8)] Tensor x, [Shape(8)] Tensor keep", "return Tensor.Where(keep, h, x);", "WhereKernel.Forward" },
        { "[Shape(\"N\", 8)] Tensor x", "return h.Clamp(-0.5, 0.5);", "ClampOp" },
        { "[Shape(\"N\", 8)] Tensor x", "return h.Clamp(min: 0);", "ClampOp" },
        { "[Shape(\"N\", 8)] Tensor x", "return h.MaskedFill(Tensor.Ones([8], DType.Bool).Triu(1), 0.0);", "Tensor.Ones(shape: new int[] { 8 }" },
        { "[Shape(\"N\", 8)] Tensor x", "return h.MaskedFill(Tensor.Arange(8).Lt(Tensor.Full([8], 3.0)), -1.0);", "Tensor.Arange(end: (long)8).Lt(" },
        { "[Shape(\"N\", 8)] Tensor x", "return Tensor.Where(Tensor.Arange(8).Ge(4), h, 0.5);", "MaskedFillKernel.Forward" },
        { "[Shape(\"N\", 8)] Tensor x", "return h * Tensor.Arange(8).Gt(2).To(DType.Float32);", "CompiledSupport.Data(" },
        { "[Shape(\"N\", 2, 8)] Tensor x", "return h.Var(-1, unbiased: false, keepDim: true) + h.Std(1);", "VarianceKernel.Forward" },
        { "[Shape(\"N\", 2, 8)] Tensor x", "return h.Max() - h.Min();", "ReduceKernel.SpreadExtremeAll" },
        // Functional pooling in Forward (F.max_pool2d(x, 2) in PyTorch): the layers' rules, the window read from the call.
        { "[Shape(\"N\", 8)] Tensor x", "return Functional.MaxPool2d(h.View(-1, 2, 2, 2), 2);", "MaxPoolForward" },
        { "[Shape(\"N\", 8)] Tensor x", "return Functional.MaxPool2d(h.View(-1, 2, 2, 2), (2, 1), stride: (1, 1), padding: (1, 0));", "MaxPoolForward" },
        { "[Shape(\"N\", 8)] Tensor x", "return Functional.AvgPool2d(h.View(-1, 2, 2, 2), 2, stride: 1, ceilMode: true, countIncludePad: false);", "AvgPoolForward" },
        { "[Shape(\"N\", 8)] Tensor x", "return Functional.AdaptiveAvgPool2d(h.View(-1, 2, 2, 2), 1);", "AdaptivePoolForward" },
        { "[Shape(\"N\", 8)] Tensor x", "return Functional.MaxPool1d(h.View(-1, 2, 4), 3, stride: 1, padding: 1);", "MaxPoolForward" },
        { "[Shape(\"N\", 8)] Tensor x", "return Functional.AvgPool1d(h.View(-1, 2, 4), 2);", "AvgPoolForward" },
        // Functional convolution and group normalisation over the module's own parameters (F.conv2d(x, self.weight, self.bias, …)).
        { "[Shape(\"N\", 8)] Tensor x", "return Functional.Conv2d(h.View(-1, 2, 2, 2), cw, cb, stride: 1, padding: 1, groups: 2);", "FunctionalConvForward" },
        { "[Shape(\"N\", 8)] Tensor x", "return Functional.Conv2d(h.View(-1, 2, 2, 2), cw, cb, (2, 1), (1, 1), groups: 2);", "FunctionalConvForward" },
        { "[Shape(\"N\", 8)] Tensor x", "return Functional.Conv1d(h.View(-1, 2, 4), cw1, padding: 1, dilation: 2);", "FunctionalConvForward" },
        { "[Shape(\"N\", 8)] Tensor x", "return Functional.GroupNorm(h.View(-1, 4, 2), 2, gw, gb);", "FunctionalGroupNormForward" },
        { "[Shape(\"N\", 8)] Tensor x", "return Functional.GroupNorm(h.View(-1, 4, 2), 4, eps: 1e-3);", "FunctionalGroupNormForward" },
        // Masks that broadcast other than by repetition, batched ones included (a key-padding mask), expanded at each call.
        { "[Shape(\"N\", 8)] Tensor x, [Shape(\"N\", 1)] Tensor keep", "return h.MaskedFill(keep, 0.0);", "CompiledSupport.MaskOver(" },
        { "[Shape(\"N\", 8)] Tensor x, [Shape(\"N\", 8)] Tensor keep", "return Tensor.Where(keep, h, x);", "CompiledSupport.MaskOver(" },
        { "[Shape(\"N\", 8)] Tensor x, [Shape(\"N\", 4)] Tensor pad", "return h.View(-1, 2, 4).MaskedFill(pad.Unsqueeze(1), -1.0);", "CompiledSupport.MaskOver(" },
        { "[Shape(\"N\", 8)] Tensor x, [Shape(2, 1)] Tensor rows", "return Tensor.Where(rows, h.View(-1, 2, 4), 0.5);", "CompiledSupport.MaskOver(" },
    };

    [Theory]
    [MemberData(nameof(Ops))]
    public void TheOpCompilesWithoutAGraphBreak(string parameters, string body, string kernel)
    {
        var (result, output) = GeneratorHarness.Run(Model(parameters, body));
        Assert.True(result.Diagnostics.IsEmpty, GeneratorHarness.Format(result.Diagnostics));
        var errors = output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        Assert.True(errors.Count == 0, GeneratorHarness.Format(errors));
        var compiled = result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.Net.Compiled.g.cs").SourceText.ToString();
        Assert.Contains("private int _forward_capacity", compiled);   // a compiled program, not the eager stand-in
        Assert.Contains(kernel, compiled);
    }

    [Fact]
    public void ParametersAndBuffersOfKnownShapeCompile()
    {
        var source = """
            using SharpGrad;
            using SharpGrad.Layers;

            namespace Demo.Compiled;

            [Module]
            public partial class Net
            {
                private readonly Parameter scale = new(Tensor.Ones(8));
                public Parameter Bias { get; } = new(Tensor.Zeros([4, 8]));
                [Buffer] private readonly Tensor mask = Tensor.Ones([4, 4]).Triu(1).Gt(0);

                public Tensor Forward([Shape("N", 4, 8)] Tensor x)
                {
                    var h = x * scale + Bias;
                    return h.MatMul(h.Transpose(1, 2)).MaskedFill(mask, 0.0);
                }
            }
            """;
        var (result, output) = GeneratorHarness.Run(source);
        Assert.True(result.Diagnostics.IsEmpty, GeneratorHarness.Format(result.Diagnostics));
        Assert.Empty(output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error));
        var compiled = result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.Net.Compiled.g.cs").SourceText.ToString();
        Assert.Contains("private int _forward_capacity", compiled);
        Assert.Contains("CompiledSupport.Member(_m.scale", compiled);
        Assert.Contains("CompiledSupport.Member(_m.Bias", compiled);
        Assert.Contains("CompiledSupport.Mask(_m.mask", compiled);
    }

    [Theory]
    [InlineData("return h.Narrow(1, 6, 4);", "h.Narrow(1, 6, 4)", "[6, 10) is outside dim 1 has size 8")]
    [InlineData("return h.Select(1, 8);", "h.Select(1, 8)", "index 8 is out of range: dim 1 has size 8")]
    [InlineData("return h.Split([3, 4], 1)[0];", "h.Split([3, 4], 1)", "the split sizes add up to 7, but dim 1 has size 8")]
    [InlineData("return h.Chunk(2, 1)[2];", "h.Chunk(2, 1)[2]", "part 2 does not exist: dim 1 of size 8 gives 2 parts")]
    [InlineData("return h.Narrow(2, 0, 1);", "h.Narrow(2, 0, 1)", "dim 2 is out of range for 2 dims")]
    public void AWindowOutsideItsDimIsSG1021(string body, string expression, string problem)
    {
        var (result, _) = GeneratorHarness.Run(Model("[Shape(\"N\", 8)] Tensor x", body));
        var d = Assert.Single(result.Diagnostics);
        Assert.Equal("SG1021", d.Id);
        Assert.Equal(DiagnosticSeverity.Error, d.Severity);
        var span = d.Location.SourceSpan;
        Assert.Equal(expression, Model("[Shape(\"N\", 8)] Tensor x", body).Substring(span.Start, span.Length));
        Assert.Contains("cannot take `h` with shape [N, 8]: " + problem, d.GetMessage());
    }

    [Fact]
    public void CatOfMismatchedShapesIsSG1021NamingBothShapes()
    {
        var (result, _) = GeneratorHarness.Run(Model("[Shape(\"N\", 8)] Tensor x, [Shape(\"N\", 3, 2)] Tensor y", "return Tensor.Cat([h, y], 1);"));
        var d = Assert.Single(result.Diagnostics);
        Assert.Equal("SG1021", d.Id);
        Assert.Contains("cannot take `y` with shape [N, 3, 2]: Cat needs the same number of dims, but `h` has shape [N, 8]", d.GetMessage());
    }

    [Fact]
    public void StackOfDifferentShapesIsSG1021()
    {
        var (result, _) = GeneratorHarness.Run(Model("[Shape(\"N\", 8)] Tensor x, [Shape(\"N\", 7)] Tensor y", "return Tensor.Stack([h, y], 1);"));
        var d = Assert.Single(result.Diagnostics);
        Assert.Equal("SG1021", d.Id);
        Assert.Contains("Stack needs equal shapes, but `h` has shape [N, 8]", d.GetMessage());
    }
}
