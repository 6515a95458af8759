using SharpGrad.Kernels;

namespace SharpGrad;

public static partial class Functional
{
    /// <summary>
    /// 2-d max pooling over [N, C, H, W] (or [C, H, W]) input (PyTorch: <c>torch.nn.functional.max_pool2d</c>).
    /// <paramref name="stride"/> defaults to <paramref name="kernelSize"/>.
    /// </summary>
    public static Tensor MaxPool2d(Tensor input, int kernelSize, int? stride = null, int padding = 0, int dilation = 1, bool ceilMode = false)
        => MaxPool2dCore(input, (kernelSize, kernelSize), stride is null ? null : (stride.Value, stride.Value), (padding, padding), (dilation, dilation), ceilMode, indicesWanted: false).Output;

    /// <summary>2-d max pooling with separate (height, width) settings (PyTorch: <c>max_pool2d</c> with tuples).</summary>
    public static Tensor MaxPool2d(Tensor input, (int H, int W) kernelSize, (int H, int W)? stride = null, (int H, int W) padding = default, (int H, int W)? dilation = null, bool ceilMode = false)
        => MaxPool2dCore(input, kernelSize, stride, padding, dilation, ceilMode, indicesWanted: false).Output;

    /// <summary>
    /// 2-d max pooling that also returns where each maximum came from (PyTorch: <c>max_pool2d(…, return_indices=True)</c>):
    /// Int64 indices, flat (h·W + w) within each input plane, as PyTorch gives them.
    /// </summary>
    public static (Tensor Output, Tensor Indices) MaxPool2dWithIndices(Tensor input, int kernelSize, int? stride = null, int padding = 0, int dilation = 1, bool ceilMode = false)
        => MaxPool2dWithIndices(input, (kernelSize, kernelSize), stride is null ? null : (stride.Value, stride.Value), (padding, padding), (dilation, dilation), ceilMode);

    /// <summary>2-d max pooling returning indices, with separate (height, width) settings.</summary>
    public static (Tensor Output, Tensor Indices) MaxPool2dWithIndices(Tensor input, (int H, int W) kernelSize, (int H, int W)? stride = null,
        (int H, int W) padding = default, (int H, int W)? dilation = null, bool ceilMode = false)
    {
        var (output, indices) = MaxPool2dCore(input, kernelSize, stride, padding, dilation, ceilMode, indicesWanted: true);
        return (output, indices!);
    }

    /// <summary>Max pooling; the indices are computed when asked for or when the backward needs them (null otherwise:
    /// inference skips the Int64 index tensor).</summary>
    private static (Tensor Output, Tensor? Indices) MaxPool2dCore(Tensor input, (int H, int W) kernelSize, (int H, int W)? stride,
        (int H, int W) padding, (int H, int W)? dilation, bool ceilMode, bool indicesWanted, string op = "MaxPool2d")
    {
        var s = stride ?? kernelSize;
        var d = dilation ?? (1, 1);
        var (g, outShape) = PoolSetup(op, input, kernelSize, s, padding, d, ceilMode);
        var dtype = FloatDType(op, input);
        var result = Tensor.Empty(outShape, dtype);
        bool record = Tensor.ShouldRecord(input);
        var indices = indicesWanted || record ? Tensor.Empty(outShape, DType.Int64) : null;
        // Indices made only for the backward are seen by nobody else: the caching allocator takes them back when backward
        // frees this node.
        if (indices is not null && !indicesWanted) indices.Storage.Internal = true;
        var idx = indices?.Data<long>();
        if (dtype == DType.Float32) Pooling.MaxForward(g, Dense<float>(input), result.Data<float>(), idx);
        else Pooling.MaxForward(g, Dense<double>(input), result.Data<double>(), idx);
        if (!record) return (result, indices);
        var inShape = input._shape;
        var output = Tensor.Record(result, "MaxPool2DWithIndicesBackward", [input],
            (grad, node) => [MaxScatter(grad, idx!, g, inShape, dtype)], indices!);
        return (output, indices);
    }

    /// <summary>The max-pool backward: gx[plane, idx] += g (linear in g; its own backward is <see cref="MaxGather"/>).</summary>
    private static Tensor MaxScatter(Tensor grad, long[] idx, PoolGeometry g, int[] inShape, DType dtype)
    {
        var gx = Tensor.Empty(inShape, dtype);
        var gr = CastRaw(grad, dtype);
        if (dtype == DType.Float32) Pooling.MaxBackward(g, Dense<float>(gr), idx, gx.Data<float>(), accumulate: false);
        else Pooling.MaxBackward(g, Dense<double>(gr), idx, gx.Data<double>(), accumulate: false);
        if (!Tensor.ShouldRecord(grad)) return gx;
        var outShape = grad._shape;
        return Tensor.Record(gx, "MaxPool2DWithIndicesBackwardBackward", [grad], (gg, node) => [MaxGather(gg, idx, g, outShape, dtype)]);
    }

    /// <summary>y[plane, o] = x[plane, idx[o]] (the adjoint of <see cref="MaxScatter"/>).</summary>
    private static Tensor MaxGather(Tensor x, long[] idx, PoolGeometry g, int[] outShape, DType dtype)
    {
        int hw = g.H * g.W, lo = g.HO * g.WO;
        var y = Tensor.Empty(outShape, dtype);
        var xr = CastRaw(x, dtype);
        if (dtype == DType.Float32) Gather(Dense<float>(xr), y.Data<float>());
        else Gather(Dense<double>(xr), y.Data<double>());
        if (!Tensor.ShouldRecord(x)) return y;
        var inShape = x._shape;
        return Tensor.Record(y, "MaxPoolGatherBackward", [x], (gg, node) => [MaxScatter(gg, idx, g, inShape, dtype)]);

        void Gather<T>(T[] src, T[] dst) where T : unmanaged
        {
            for (int p = 0; p < g.Planes; p++)
                for (int o = 0; o < lo; o++) dst[p * lo + o] = src[p * hw + (int)idx[p * lo + o]];
        }
    }

    /// <summary>
    /// 2-d average pooling (PyTorch: <c>torch.nn.functional.avg_pool2d</c>). <paramref name="stride"/> defaults to the kernel size;
    /// with <paramref name="countIncludePad"/> the zero padding counts towards the divisor.
    /// </summary>
    public static Tensor AvgPool2d(Tensor input, int kernelSize, int? stride = null, int padding = 0, bool ceilMode = false, bool countIncludePad = true, int? divisorOverride = null)
        => AvgPool2d(input, (kernelSize, kernelSize), stride is null ? null : (stride.Value, stride.Value), (padding, padding), ceilMode, countIncludePad, divisorOverride);

    /// <summary>2-d average pooling with separate (height, width) settings (PyTorch: <c>avg_pool2d</c> with tuples).</summary>
    public static Tensor AvgPool2d(Tensor input, (int H, int W) kernelSize, (int H, int W)? stride = null, (int H, int W) padding = default,
        bool ceilMode = false, bool countIncludePad = true, int? divisorOverride = null)
    {
        const string op = "AvgPool2d";
        if (divisorOverride is <= 0) throw new ArgumentException($"{op}: divisorOverride must be positive, but got {divisorOverride}.");
        var s = stride ?? kernelSize;
        var (g, outShape) = PoolSetup(op, input, kernelSize, s, padding, (1, 1), ceilMode);
        return AvgApply(input, g, countIncludePad, divisorOverride, outShape, FloatDType(op, input));
    }

    /// <summary>Average pooling, recorded with <see cref="AvgAdjoint"/> as its backward (both linear, so every order works).</summary>
    private static Tensor AvgApply(Tensor input, PoolGeometry g, bool countIncludePad, int? divisorOverride, int[] outShape, DType dtype)
    {
        var result = Tensor.Empty(outShape, dtype);
        var xr = CastRaw(input, dtype);
        if (dtype == DType.Float32) Pooling.AvgForward(g, countIncludePad, divisorOverride, Dense<float>(xr), result.Data<float>());
        else Pooling.AvgForward(g, countIncludePad, divisorOverride, Dense<double>(xr), result.Data<double>());
        if (!Tensor.ShouldRecord(input)) return result;
        var inShape = input._shape;
        return Tensor.Record(result, "AvgPool2DBackward", [input], (grad, node) => [AvgAdjoint(grad, g, countIncludePad, divisorOverride, inShape, dtype)]);
    }

    private static Tensor AvgAdjoint(Tensor grad, PoolGeometry g, bool countIncludePad, int? divisorOverride, int[] inShape, DType dtype)
    {
        var gx = Tensor.Empty(inShape, dtype);
        var gr = CastRaw(grad, dtype);
        if (dtype == DType.Float32) Pooling.AvgBackward(g, countIncludePad, divisorOverride, Dense<float>(gr), gx.Data<float>());
        else Pooling.AvgBackward(g, countIncludePad, divisorOverride, Dense<double>(gr), gx.Data<double>());
        if (!Tensor.ShouldRecord(grad)) return gx;
        var outShape = grad._shape;
        return Tensor.Record(gx, "AvgPool2DBackwardBackward", [grad], (gg, node) => [AvgApply(gg, g, countIncludePad, divisorOverride, outShape, dtype)]);
    }

    /// <summary>
    /// 2-d adaptive average pooling to a fixed output size (PyTorch: <c>torch.nn.functional.adaptive_avg_pool2d</c>);
    /// output cell (i, j) averages rows [⌊i·H/oH⌋, ⌈(i+1)·H/oH⌉) and the same for columns.
    /// </summary>
    public static Tensor AdaptiveAvgPool2d(Tensor input, int outputSize) => AdaptiveAvgPool2d(input, (outputSize, outputSize));

    /// <summary>2-d adaptive average pooling to (height, width) (PyTorch: <c>adaptive_avg_pool2d</c> with a tuple).</summary>
    public static Tensor AdaptiveAvgPool2d(Tensor input, (int H, int W) outputSize)
    {
        const string op = "AdaptiveAvgPool2d";
        var (planes, h, w, outShape) = AdaptiveSetup(op, input, outputSize);
        return AdaptiveApply(input, planes, h, w, outputSize.H, outputSize.W, outShape, FloatDType(op, input));
    }

    /// <summary>Adaptive average pooling, recorded with <see cref="AdaptiveAdjoint"/> as its backward (both linear).</summary>
    private static Tensor AdaptiveApply(Tensor input, int planes, int h, int w, int ho, int wo, int[] outShape, DType dtype)
    {
        var result = Tensor.Empty(outShape, dtype);
        var xr = CastRaw(input, dtype);
        if (dtype == DType.Float32) Pooling.AdaptiveAvgForward(planes, h, w, ho, wo, Dense<float>(xr), result.Data<float>());
        else Pooling.AdaptiveAvgForward(planes, h, w, ho, wo, Dense<double>(xr), result.Data<double>());
        if (!Tensor.ShouldRecord(input)) return result;
        var inShape = input._shape;
        return Tensor.Record(result, "AdaptiveAvgPool2DBackward", [input], (grad, node) => [AdaptiveAdjoint(grad, planes, h, w, ho, wo, inShape, dtype)]);
    }

    private static Tensor AdaptiveAdjoint(Tensor grad, int planes, int h, int w, int ho, int wo, int[] inShape, DType dtype)
    {
        var gx = Tensor.Empty(inShape, dtype);
        var gr = CastRaw(grad, dtype);
        if (dtype == DType.Float32) Pooling.AdaptiveAvgBackward(planes, h, w, ho, wo, Dense<float>(gr), gx.Data<float>());
        else Pooling.AdaptiveAvgBackward(planes, h, w, ho, wo, Dense<double>(gr), gx.Data<double>());
        if (!Tensor.ShouldRecord(grad)) return gx;
        var outShape = grad._shape;
        return Tensor.Record(gx, "AdaptiveAvgPool2DBackwardBackward", [grad], (gg, node) => [AdaptiveApply(gg, planes, h, w, ho, wo, outShape, dtype)]);
    }

    private static (PoolGeometry Geometry, int[] OutShape) PoolSetup(string op, Tensor input, (int H, int W) k, (int H, int W) s, (int H, int W) p, (int H, int W) d, bool ceilMode)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank is not (3 or 4))
        {
            throw new ArgumentException($"{op}: expected a 3-d [C, H, W] or 4-d [N, C, H, W] input, but got shape {ShapeUtil.Format(input._shape)}.");
        }
        if (k.H <= 0 || k.W <= 0) throw new ArgumentException($"{op}: kernel size must be positive, but got ({k.H}, {k.W}).");
        if (s.H <= 0 || s.W <= 0) throw new ArgumentException($"{op}: stride must be positive, but got ({s.H}, {s.W}).");
        if (d.H <= 0 || d.W <= 0) throw new ArgumentException($"{op}: dilation must be positive, but got ({d.H}, {d.W}).");
        if (p.H < 0 || p.W < 0 || p.H > k.H / 2 || p.W > k.W / 2)
        {
            throw new ArgumentException($"{op}: padding ({p.H}, {p.W}) must be non-negative and at most half the kernel size ({k.H}, {k.W}).");
        }
        int h = input._shape[^2], w = input._shape[^1];
        int ho = Ops.ShapeRules.OutputSize(h, k.H, s.H, p.H, d.H, ceilMode) ?? 0;
        int wo = Ops.ShapeRules.OutputSize(w, k.W, s.W, p.W, d.W, ceilMode) ?? 0;
        if (ho <= 0 || wo <= 0)
        {
            throw new ArgumentException(
                $"{op}: the input of shape {ShapeUtil.Format(input._shape)} is too small for kernel ({k.H}, {k.W}) with padding ({p.H}, {p.W}) " +
                $"and dilation ({d.H}, {d.W}): the output would be {ho} × {wo}.");
        }
        int planes = h * w == 0 ? 0 : input.NumElements / (h * w);
        var outShape = (int[])input._shape.Clone();
        outShape[^2] = ho;
        outShape[^1] = wo;
        return (new PoolGeometry(planes, h, w, ho, wo, k.H, k.W, s.H, s.W, p.H, p.W, d.H, d.W), outShape);
    }
}
