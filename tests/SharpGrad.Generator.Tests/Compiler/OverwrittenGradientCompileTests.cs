using SharpGrad.Generator.Tests.Support;

namespace SharpGrad.Generator.Tests.Compiler;

/// <summary>
/// Gradient buffers not cleared because their first writer overwrites them in full (<c>NodePlan.GradOverwriter</c>): a
/// reduction's spread and an encoder layer's input gradient; a second reader of the same value still adds; a value an
/// inlined child (a Sequential) takes as its argument is still cleared (its hooks snapshot that gradient before its backward).
/// The numbers are checked against eager by SharpGrad.Tests' CompiledOverwrittenGradientTests.
/// </summary>
public class OverwrittenGradientCompileTests
{
    /// <summary>Reductions only (the snapshot): a has two readers, h is also the argument of an inlined child whose sum reads it.</summary>
    private const string Reductions = """
        using SharpGrad;
        using SharpGrad.Layers;

        namespace Demo.Compiled;

        [Module]
        public partial class Pool
        {
            public Tensor Forward(Tensor x) => x.Sum(1);
        }

        [Module]
        public partial class Overwrite
        {
            private readonly Linear fc = new(8, 8);
            private readonly Pool pool = new();
            private readonly Linear head = new(8, 3);
            private readonly Linear head2 = new(8, 3);
            private readonly Linear head3 = new(8, 3);

            public Tensor Forward([Shape("N", 6, 8)] Tensor x)
            {
                var h = fc.Forward(x);
                var a = Functional.Relu(h);
                return head.Forward(a.Mean(1)) + head2.Forward(a.Sum(1)) + head3.Forward(pool.Forward(h));
            }
        }
        """;

    /// <summary>Encoder layers (no snapshot: the layer's call has lines wider than a snapshot's): h read by a mean and then a layer; a layer inside a Sequential.</summary>
    private const string Encoder = """
        using SharpGrad;
        using SharpGrad.Layers;

        namespace Demo.Compiled;

        [Module]
        public partial class EncoderOverwrite
        {
            private readonly Linear fc = new(8, 8);
            private readonly TransformerEncoderLayer layer0 = new(8, 2, 16, dropout: 0.0, batchFirst: true);
            private readonly Sequential encoder = new(new TransformerEncoderLayer(8, 2, 16, dropout: 0.0, batchFirst: true));
            private readonly Linear head = new(8, 3);

            public Tensor Forward([Shape("N", 6, 8)] Tensor x)
            {
                var h = fc.Forward(x);
                var skip = h.Mean(1);
                return head.Forward(encoder.Forward(layer0.Forward(h)).Mean(1) + skip);
            }
        }
        """;

    [Fact]
    public void ReductionsOverwriteTheirFirstWrittenGradients()
    {
        var (result, output) = GeneratorHarness.Run(Reductions);
        var text = result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.Overwrite.Compiled.g.cs").SourceText.ToString();
        Snapshot.Verify("Compiler.Demo.Compiled.Overwrite.Compiled", text);
        Assert.Empty(GeneratorHarness.Problems(output));
        // a (relu's output): the sum (the later reader) overwrites it, the mean adds; neither clears it.
        Assert.Contains("ReduceKernel.Spread(pool_sum_out_grad, pool_relu_out_grad, outer: n, size: 6, inner: 8, scale: 1f, overwrite: true);", text);
        Assert.Contains("ReduceKernel.Spread(pool_mean_out_grad, pool_relu_out_grad, outer: n, size: 6, inner: 8, scale: 1f / (6));", text);
        Assert.DoesNotContain("Array.Clear(pool_relu_out_grad", text);
        Assert.DoesNotContain("Array.Clear(_forward_relu_out_grad", text);
        // h: the inlined pool's sum writes it first, but pool's backward hooks snapshot it before: cleared, then added to.
        Assert.Contains("global::System.Array.Clear(_forward_fc_out_grad, 0, n * 48);", text);
        Assert.Contains("ReduceKernel.Spread(pool_sum_out_2_grad, fc_out_grad, outer: n, size: 6, inner: 8, scale: 1f);", text);
    }

    [Fact]
    public void EncoderLayersOverwriteTheirFirstWrittenInputGradients()
    {
        var (result, output) = GeneratorHarness.Run(Encoder);
        var text = result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.EncoderOverwrite.Compiled.g.cs").SourceText.ToString();
        Assert.Empty(GeneratorHarness.Problems(output));
        // h: layer0 (the later reader) overwrites it — cleared only for its hooks' snapshot —, skip's mean adds.
        Assert.Contains("if (global::SharpGrad.CompiledSupport.HasBackwardHooks(_layer0)) global::System.Array.Clear(fc_out_grad, 0, n * 48);", text);
        Assert.Contains("n, _forward_layer0_out_geometry, _forward_layer0_out_workspace!, overwriteInput: true,", text);
        // each layer is the first writer of its 12 parameters' gradients: written over the fresh ones (the entry binds them with out fresh)
        Assert.Contains("overwriteWeights: (_layer0_self_attn_in_proj_weight_grad_fresh ? 1 : 0) | (_layer0_self_attn_in_proj_bias_grad_fresh ? 2 : 0) | ", text);
        Assert.Contains("| (_layer0_norm2_bias_grad_fresh ? 2048 : 0));", text);
        Assert.Contains("out _layer0_linear2_weight_grad_fresh);", text);
        Assert.Contains("ReduceKernel.Spread(mean_out_grad, fc_out_grad, outer: n, size: 6, inner: 8, scale: 1f / (6));", text);
        Assert.DoesNotContain("Array.Clear(_forward_fc_out_grad", text);
        // layer0's output is the Sequential's argument (its hooks snapshot the gradient): cleared, the layer inside adds.
        Assert.Contains("global::System.Array.Clear(_forward_layer0_out_grad, 0, n * 48);", text);
        Assert.Contains("n, _forward_encoder_0_out_geometry, _forward_encoder_0_out_workspace!,", text);
        Assert.Contains("overwriteWeights: (_encoder_0_self_attn_in_proj_weight_grad_fresh ? 1 : 0) | ", text);
        // the encoder's output: the mean's spread overwrites it.
        Assert.Contains("ReduceKernel.Spread(mean_out_2_grad, encoder_out_grad, outer: n, size: 6, inner: 8, scale: 1f / (6), overwrite: true);", text);
        Assert.DoesNotContain("Array.Clear(_forward_encoder_0_out_grad", text);
    }
}
