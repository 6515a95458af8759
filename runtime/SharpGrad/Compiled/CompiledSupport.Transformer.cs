using SharpGrad.Kernels;
using SharpGrad.Layers;

namespace SharpGrad;

// Glue of compiled Transformer layers: the layer's weights as arrays for the shared kernels (Kernels/TransformerLayer.cs).
public static partial class CompiledSupport
{
    /// <summary>A TransformerEncoderLayer's 12 weights in PyTorch's order, checked against the program's shape.</summary>
    private static float[][] EncoderLayerWeights(TransformerEncoderLayer layer, in EncoderLayerShape shape)
    {
        ArgumentNullException.ThrowIfNull(layer);
        var attn = layer.SelfAttn;
        if (layer.DModel != shape.DModel || layer.Nhead != shape.Heads || layer.DimFeedforward != shape.FeedForward || layer.NormFirst != shape.NormFirst
            || attn.InProjWeight is null || attn.InProjBias is null || attn.OutProj.Bias is null || layer.Norm1.Weight is null || layer.Norm2.Weight is null)
        {
            throw new InvalidOperationException(
                $"Compiled program: the TransformerEncoderLayer (d_model {layer.DModel}, nhead {layer.Nhead}, dim_feedforward {layer.DimFeedforward}) is not the " +
                $"one the program was generated for (d_model {shape.DModel}, nhead {shape.Heads}, dim_feedforward {shape.FeedForward}, with biases); rebuild the project.");
        }
        return
        [
            Dense(attn.InProjWeight), Dense(attn.InProjBias), Dense(attn.OutProj.Weight), Dense(attn.OutProj.Bias),
            Dense(layer.Linear1.Weight), Dense(layer.Linear1.Bias!), Dense(layer.Linear2.Weight), Dense(layer.Linear2.Bias!),
            Dense(layer.Norm1.Weight), Dense(layer.Norm1.Bias!), Dense(layer.Norm2.Weight), Dense(layer.Norm2.Bias!),
        ];
    }

    /// <summary>A compiled TransformerEncoderLayer's forward (no masks, dropout 0; <see cref="TransformerLayerKernel.Forward"/>).</summary>
    public static void EncoderLayerForward(TransformerEncoderLayer layer, float[] x, float[] y, int n, EncoderLayerShape shape, EncoderLayerWorkspace workspace)
        => TransformerLayerKernel.Forward(shape, x, y, n, EncoderLayerWeights(layer, shape), workspace);

    /// <summary>Its backward: the input's gradient added into <paramref name="gx"/>, each weight's into <paramref name="weightGrads"/>.</summary>
    public static void EncoderLayerBackward(TransformerEncoderLayer layer, float[] gy, float[]? gx, float[]?[] weightGrads, int n, EncoderLayerShape shape,
        EncoderLayerWorkspace workspace)
        => TransformerLayerKernel.Backward(shape, gy, gx, n, EncoderLayerWeights(layer, shape), weightGrads, workspace);
}
