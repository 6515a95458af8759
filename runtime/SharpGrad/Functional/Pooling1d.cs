using SharpGrad.Kernels;
using SharpGrad.Ops;

namespace SharpGrad;

// 1-d pooling is 2-d pooling of a [·, 1, L] view (the kernels of Kernels/Pooling.cs), and adaptive max pooling.
public static partial class Functional
{
    /// <summary>
    /// 1-d max pooling over [N, C, L] (or [C, L]) input (PyTorch: <c>torch.nn.functional.max_pool1d</c>).
    /// <paramref name="stride"/> defaults to <paramref name="kernelSize"/>.
    /// </summary>
    public static Tensor MaxPool1d(Tensor input, int kernelSize, int? stride = null, int padding = OpDefaults.Pool.Padding,
        int dilation = OpDefaults.Pool.Dilation, bool ceilMode = OpDefaults.Pool.CeilMode)
        => MaxPool1dCore(input, kernelSize, stride, padding, dilation, ceilMode, indicesWanted: false).Output;

    /// <summary>
    /// 1-d max pooling that also returns the Int64 position of each maximum along L (PyTorch: <c>max_pool1d(…, return_indices=True)</c>).
    /// </summary>
    public static (Tensor Output, Tensor Indices) MaxPool1dWithIndices(Tensor input, int kernelSize, int? stride = null, int padding = OpDefaults.Pool.Padding,
        int dilation = OpDefaults.Pool.Dilation, bool ceilMode = OpDefaults.Pool.CeilMode)
    {
        var (output, indices) = MaxPool1dCore(input, kernelSize, stride, padding, dilation, ceilMode, indicesWanted: true);
        return (output, indices!);
    }

    private static (Tensor Output, Tensor? Indices) MaxPool1dCore(Tensor input, int kernelSize, int? stride, int padding, int dilation, bool ceilMode, bool indicesWanted)
    {
        CheckRank1d("MaxPool1d", input);
        var (y, idx) = MaxPool2dCore(input.Unsqueeze(-2), (1, kernelSize), (1, stride ?? kernelSize), (0, padding), (1, dilation), ceilMode, indicesWanted, "MaxPool1d");
        return (y.Squeeze(-2), idx?.Squeeze(-2));
    }

    /// <summary>
    /// 1-d average pooling over [N, C, L] (or [C, L]) input (PyTorch: <c>torch.nn.functional.avg_pool1d</c>); with
    /// <paramref name="countIncludePad"/> the zero padding counts towards the divisor.
    /// </summary>
    public static Tensor AvgPool1d(Tensor input, int kernelSize, int? stride = null, int padding = OpDefaults.Pool.Padding, bool ceilMode = OpDefaults.Pool.CeilMode,
        bool countIncludePad = OpDefaults.Pool.CountIncludePad)
    {
        const string op = "AvgPool1d";
        CheckRank1d(op, input);
        var x = input.Unsqueeze(-2);
        var (g, outShape) = PoolSetup(op, x, (1, kernelSize), (1, stride ?? kernelSize), (0, padding), (1, 1), ceilMode);
        return AvgApply(x, g, countIncludePad, null, outShape, FloatDType(op, input)).Squeeze(-2);
    }

    private static void CheckRank1d(string op, Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank is not (2 or 3))
        {
            throw new ArgumentException($"{op}: expected a 3-d [N, C, L] or 2-d [C, L] input, but got shape {ShapeUtil.Format(input._shape)}.");
        }
    }

    /// <summary>
    /// 2-d adaptive max pooling to a fixed output size (PyTorch: <c>torch.nn.functional.adaptive_max_pool2d</c>): output cell
    /// (i, j) is the maximum of rows [⌊i·H/oH⌋, ⌈(i+1)·H/oH⌉) and the same for columns.
    /// </summary>
    public static Tensor AdaptiveMaxPool2d(Tensor input, int outputSize) => AdaptiveMaxPool2dCore(input, (outputSize, outputSize), indicesWanted: false).Output;

    /// <summary>2-d adaptive max pooling to (height, width) (PyTorch: <c>adaptive_max_pool2d</c> with a tuple).</summary>
    public static Tensor AdaptiveMaxPool2d(Tensor input, (int H, int W) outputSize) => AdaptiveMaxPool2dCore(input, outputSize, indicesWanted: false).Output;

    /// <summary>
    /// 2-d adaptive max pooling that also returns where each maximum came from (PyTorch: <c>adaptive_max_pool2d(…, return_indices=True)</c>):
    /// Int64 indices, flat (h·W + w) within each input plane.
    /// </summary>
    public static (Tensor Output, Tensor Indices) AdaptiveMaxPool2dWithIndices(Tensor input, (int H, int W) outputSize)
    {
        var (output, indices) = AdaptiveMaxPool2dCore(input, outputSize, indicesWanted: true);
        return (output, indices!);
    }

    private static (Tensor Output, Tensor? Indices) AdaptiveMaxPool2dCore(Tensor input, (int H, int W) outputSize, bool indicesWanted)
    {
        const string op = "AdaptiveMaxPool2d";
        var (planes, h, w, outShape) = AdaptiveSetup(op, input, outputSize);
        var dtype = FloatDType(op, input);
        var result = Tensor.Empty(outShape, dtype);
        bool record = Tensor.ShouldRecord(input);
        var indices = indicesWanted || record ? Tensor.Empty(outShape, DType.Int64) : null;
        var idx = indices?.Data<long>();
        var x = CastRaw(input, dtype);
        if (dtype == DType.Float32) Pooling.AdaptiveMaxForward(planes, h, w, outputSize.H, outputSize.W, Dense<float>(x), result.Data<float>(), idx);
        else Pooling.AdaptiveMaxForward(planes, h, w, outputSize.H, outputSize.W, Dense<double>(x), result.Data<double>(), idx);
        if (!record) return (result, indices);
        var g = new PoolGeometry(planes, h, w, outputSize.H, outputSize.W, 0, 0, 0, 0, 0, 0, 0, 0);
        var inShape = input._shape;
        var output = Tensor.Record(result, "AdaptiveMaxPool2DBackward", [input], (grad, node) => [MaxScatter(grad, idx!, g, inShape, dtype).To(input.DType)], indices!);
        return (output, indices);
    }

    /// <summary>Checks an adaptive pooling's input and output size; returns the planes, the input H and W and the output shape.</summary>
    private static (int Planes, int H, int W, int[] OutShape) AdaptiveSetup(string op, Tensor input, (int H, int W) outputSize)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank is not (3 or 4))
        {
            throw new ArgumentException($"{op}: expected a 3-d [C, H, W] or 4-d [N, C, H, W] input, but got shape {ShapeUtil.Format(input._shape)}.");
        }
        int h = input._shape[^2], w = input._shape[^1];
        if (outputSize.H <= 0 || outputSize.W <= 0)
        {
            throw new ArgumentException($"{op}: the output size must be positive, but got ({outputSize.H}, {outputSize.W}).");
        }
        if (h == 0 || w == 0) throw new ArgumentException($"{op}: the input of shape {ShapeUtil.Format(input._shape)} has an empty spatial dimension.");
        var outShape = (int[])input._shape.Clone();
        outShape[^2] = outputSize.H;
        outShape[^1] = outputSize.W;
        return (input.NumElements / (h * w), h, w, outShape);
    }
}
