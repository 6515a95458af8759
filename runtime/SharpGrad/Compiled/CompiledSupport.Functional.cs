using SharpGrad.Kernels;

namespace SharpGrad;

// Glue for the compiled Functional forms of the layers whose weights are values of the program (the module's own
// parameters): Functional.Linear(x, weight, bias), Functional.LayerNorm, Functional.Conv1d/Conv2d, Functional.GroupNorm. The kernels eager runs.
public static partial class CompiledSupport
{
    /// <summary>y = x · wᵀ (+ b) over <paramref name="n"/> × RowsPerItem rows: x [rows, in], w [out, in], b [out] or null (the bias added by the GEMM's epilogue).</summary>
    public static void FunctionalLinearForward(float[] x, float[] w, float[]? b, float[] y, int n, LinearShape shape)
    {
        int rows = n * shape.RowsPerItem, inF = shape.InFeatures, outF = shape.OutFeatures;
        Gemm.Sgemm(false, true, rows, outF, inF, 1f, x, 0, inF, w, 0, inF, 0f, y, 0, outF, new GemmEpilogue(b));
    }

    /// <summary>The gradients of <see cref="FunctionalLinearForward"/>, added to: gx += gy · w, gw += gyᵀ · x, gb += gy summed over rows; each may be null.</summary>
    public static void FunctionalLinearBackward(float[] x, float[] w, float[] gy, float[]? gx, float[]? gw, float[]? gb, int n, LinearShape shape)
        => LinearBackward(x, w, gy, gx, gw, gb, n, shape, overwriteWeight: false, overwriteBias: false, overwriteInput: false);

    /// <summary>
    /// <c>Functional.LayerNorm</c> over <paramref name="rows"/> rows of <paramref name="cols"/> with a weight and bias of
    /// <paramref name="cols"/> values (or none): the kernel eager runs, the statistics saved for the backward.
    /// </summary>
    public static void FunctionalLayerNormForward(float[] x, float[]? weight, float[]? bias, float[] y, int rows, int cols, double eps, float[] saveMean, float[] saveInvstd)
    {
        NormKernel.LayerNormForward<float>(x.AsSpan(0, rows * cols), y.AsSpan(0, rows * cols), rows, cols, weight is null ? [] : weight.AsSpan(0, cols),
            bias is null ? [] : bias.AsSpan(0, cols), eps, saveMean.AsSpan(0, rows), saveInvstd.AsSpan(0, rows));
    }

    /// <summary>The gradients of <see cref="FunctionalLayerNormForward"/>, added to <paramref name="gx"/>, <paramref name="gWeight"/> and <paramref name="gBias"/> (each may be null).</summary>
    public static void FunctionalLayerNormBackward(float[] x, float[] gy, float[]? gx, float[] saveMean, float[] saveInvstd, float[]? weight,
        float[]? gWeight, float[]? gBias, int rows, int cols)
    {
        NormKernel.LayerNormBackward<float>(x.AsSpan(0, rows * cols), gy.AsSpan(0, rows * cols), gx is null ? [] : gx.AsSpan(0, rows * cols),
            saveMean.AsSpan(0, rows), saveInvstd.AsSpan(0, rows), weight is null ? [] : weight.AsSpan(0, cols),
            gWeight is null ? [] : gWeight.AsSpan(0, cols), gBias is null ? [] : gBias.AsSpan(0, cols), rows, cols);
    }

    /// <summary>
    /// <c>Functional.Conv1d/Conv2d</c> (PyTorch: <c>F.conv1d</c>/<c>F.conv2d</c>) with the weight's and the bias's values
    /// (the module's own parameters): the convolution kernel eager runs, over <paramref name="n"/> images.
    /// </summary>
    public static void FunctionalConvForward(float[] x, float[] w, float[]? b, float[] y, int n, ConvShape shape)
        => Conv.Forward(shape.For(n), x, w, b, y);

    /// <summary>The gradients of <see cref="FunctionalConvForward"/>, added to <paramref name="gx"/>, <paramref name="gw"/> and <paramref name="gb"/> (each may be null) through the scratch arrays the kernel overwrites.</summary>
    public static void FunctionalConvBackward(float[] x, float[] w, float[] gy, float[]? gx, float[]? gw, float[]? gb, int n, ConvShape shape,
        float[] scratchX, float[] scratchWeight, float[]? scratchBias)
    {
        // The input's gradient is added into gx by the kernel itself (scratchX is no longer used for it).
        _ = scratchX;
        Conv.Backward(shape.For(n), x, w, gy, gx, gw is null ? null : scratchWeight, gb is null ? null : scratchBias, accumulateInput: true);
        if (gw is not null) AddInto(scratchWeight, gw, shape.WeightCount);
        if (gb is not null) AddInto(scratchBias!, gb, shape.OutChannels);
    }

    /// <summary>
    /// <c>Functional.GroupNorm</c> (PyTorch: <c>F.group_norm</c>) of <paramref name="n"/> samples [channels, length] in
    /// <paramref name="groups"/> groups, with a weight and bias of <paramref name="channels"/> values (or none): the kernel
    /// eager runs, the per-(sample, group) statistics saved for the backward.
    /// </summary>
    public static void FunctionalGroupNormForward(float[] x, float[]? weight, float[]? bias, float[] y, int n, int channels, int length, int groups, double eps,
        float[] saveMean, float[] saveInvstd)
    {
        int count = n * channels * length;
        GroupNormKernel.Forward<float>(x.AsSpan(0, count), y.AsSpan(0, count), n, channels, length, groups, weight is null ? [] : weight.AsSpan(0, channels),
            bias is null ? [] : bias.AsSpan(0, channels), eps, saveMean.AsSpan(0, n * groups), saveInvstd.AsSpan(0, n * groups), []);
    }

    /// <summary>The gradients of <see cref="FunctionalGroupNormForward"/>, added to <paramref name="gx"/>, <paramref name="gWeight"/> and <paramref name="gBias"/> (each may be null).</summary>
    public static void FunctionalGroupNormBackward(float[] x, float[] gy, float[]? gx, float[] saveMean, float[] saveInvstd, float[]? weight,
        float[]? gWeight, float[]? gBias, int n, int channels, int length, int groups)
    {
        int count = n * channels * length;
        GroupNormKernel.Backward<float>(x.AsSpan(0, count), gy.AsSpan(0, count), gx is null ? [] : gx.AsSpan(0, count), saveMean.AsSpan(0, n * groups),
            saveInvstd.AsSpan(0, n * groups), weight is null ? [] : weight.AsSpan(0, channels), gWeight is null ? [] : gWeight.AsSpan(0, channels),
            gBias is null ? [] : gBias.AsSpan(0, channels), n, channels, length, groups);
    }
}
