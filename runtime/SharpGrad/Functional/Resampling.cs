using SharpGrad.Kernels;
using SharpGrad.Ops;

namespace SharpGrad;

public static partial class Functional
{
    /// <summary>
    /// Resizes the spatial dims of [N, C, L] or [N, C, H, W] input (PyTorch: <c>torch.nn.functional.interpolate</c>):
    /// give exactly one of <paramref name="size"/> (one value, or one per spatial dim) and <paramref name="scaleFactor"/>.
    /// Modes: <c>nearest</c> (3-d and 4-d), <c>nearest-exact</c>, <c>linear</c> (3-d), <c>bilinear</c> (4-d);
    /// <paramref name="alignCorners"/> only with the linear modes (default false). With a scale factor the output size is
    /// ⌊in·scale⌋ and, unless <paramref name="recomputeScaleFactor"/> is true, the source coordinates use 1/scale, as PyTorch does.
    /// </summary>
    public static Tensor Interpolate(Tensor input, int[]? size = null, double[]? scaleFactor = null, string mode = OpDefaults.Interpolate.Mode,
        bool? alignCorners = null, bool? recomputeScaleFactor = null)
    {
        const string op = "Interpolate";
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(mode);
        var kind = mode switch
        {
            "nearest" => ResampleMode.Nearest,
            "nearest-exact" => ResampleMode.NearestExact,
            "linear" or "bilinear" => ResampleMode.Linear,
            "bicubic" or "trilinear" or "area" => throw new NotSupportedException(
                $"{op}: mode '{mode}' is not implemented; use 'nearest', 'nearest-exact', 'linear' (3-d input) or 'bilinear' (4-d input)."),
            _ => throw new ArgumentException($"{op}: unknown mode '{mode}'; expected 'nearest', 'nearest-exact', 'linear' or 'bilinear'."),
        };
        if (input.Rank is not (3 or 4))
        {
            throw new ArgumentException($"{op}: expected a 3-d [N, C, L] or 4-d [N, C, H, W] input, but got shape {ShapeUtil.Format(input._shape)}.");
        }
        if (mode == "linear" && input.Rank != 3 || mode == "bilinear" && input.Rank != 4)
        {
            throw new ArgumentException(
                $"{op}: mode '{mode}' expects a {(mode == "linear" ? "3-d [N, C, L]" : "4-d [N, C, H, W]")} input, but got shape {ShapeUtil.Format(input._shape)}. " +
                $"Use '{(input.Rank == 3 ? "linear" : "bilinear")}' for this input.");
        }
        if (alignCorners is not null && kind != ResampleMode.Linear)
        {
            throw new ArgumentException($"{op}: alignCorners can only be set with the interpolating modes 'linear' and 'bilinear', not with '{mode}'.");
        }
        int spatial = input.Rank - 2;
        if ((size is null) == (scaleFactor is null))
        {
            throw new ArgumentException(size is null
                ? $"{op}: either size or scaleFactor must be given."
                : $"{op}: only one of size and scaleFactor may be given (got size {ShapeUtil.Format(size)} and scaleFactor [{string.Join(", ", scaleFactor!)}]).");
        }
        if (size is not null && recomputeScaleFactor == true)
        {
            throw new ArgumentException($"{op}: recomputeScaleFactor is not meaningful with an explicit size.");
        }
        var outSize = new int[spatial];
        var scales = new double?[spatial];
        for (int d = 0; d < spatial; d++)
        {
            int inSize = input._shape[2 + d];
            if (size is not null)
            {
                if (size.Length != 1 && size.Length != spatial)
                {
                    throw new ArgumentException($"{op}: size {ShapeUtil.Format(size)} must have 1 or {spatial} values for input of shape {ShapeUtil.Format(input._shape)}.");
                }
                outSize[d] = size[size.Length == 1 ? 0 : d];
            }
            else
            {
                if (scaleFactor!.Length != 1 && scaleFactor.Length != spatial)
                {
                    throw new ArgumentException(
                        $"{op}: scaleFactor [{string.Join(", ", scaleFactor)}] must have 1 or {spatial} values for input of shape {ShapeUtil.Format(input._shape)}.");
                }
                double s = scaleFactor[scaleFactor.Length == 1 ? 0 : d];
                if (!(s > 0) || double.IsInfinity(s)) throw new ArgumentException($"{op}: scaleFactor must be positive and finite, but got {s}.");
                double o = Math.Floor(inSize * s);
                outSize[d] = o > int.MaxValue ? -1 : (int)o;
                if (recomputeScaleFactor != true) scales[d] = s;
            }
            if (outSize[d] <= 0)
            {
                throw new ArgumentException(
                    $"{op}: the output size of spatial dim {d} would be {outSize[d]} for input of shape {ShapeUtil.Format(input._shape)}; it must be positive.");
            }
        }
        if (input.NumElements == 0) throw new ArgumentException($"{op}: the input of shape {ShapeUtil.Format(input._shape)} is empty.");
        int h = spatial == 2 ? input._shape[2] : 1, w = input._shape[^1];
        int ho = spatial == 2 ? outSize[0] : 1, wo = outSize[^1];
        var shape = (int[])input._shape.Clone();
        for (int d = 0; d < spatial; d++) shape[2 + d] = outSize[d];
        bool align = alignCorners ?? false;
        var dtype = FloatDType(op, input);
        var resampler = dtype == DType.Float32
            ? (IResampler)new Resampler<float>(input._shape[0] * input._shape[1], h, w, ho, wo, kind, align, spatial == 2 ? scales[0] : null, scales[^1])
            : new Resampler<double>(input._shape[0] * input._shape[1], h, w, ho, wo, kind, align, spatial == 2 ? scales[0] : null, scales[^1]);
        return ResampleApply(input, resampler, shape, dtype);
    }

    /// <summary>
    /// Resizes by one scale factor for every spatial dim (PyTorch: <c>interpolate(input, scale_factor=s, mode=…)</c>).
    /// </summary>
    public static Tensor Interpolate(Tensor input, double scaleFactor, string mode = OpDefaults.Interpolate.Mode, bool? alignCorners = null,
        bool? recomputeScaleFactor = null)
        => Interpolate(input, size: null, [scaleFactor], mode, alignCorners, recomputeScaleFactor);

    /// <summary>Resizes every spatial dim to <paramref name="size"/> (PyTorch: <c>interpolate(input, size=n, mode=…)</c>).</summary>
    public static Tensor Interpolate(Tensor input, int size, string mode = OpDefaults.Interpolate.Mode, bool? alignCorners = null)
        => Interpolate(input, [size], null, mode, alignCorners);

    /// <summary>One resampling's geometry in one dtype: forward and adjoint over dense data.</summary>
    private interface IResampler
    {
        void Forward(Tensor x, Tensor y);

        void Backward(Tensor gy, Tensor gx);
    }

    private sealed class Resampler<T> : IResampler where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        private readonly int _planes, _h, _w;
        private readonly ResampleTap<T>[] _rows, _cols;
        private readonly bool _linear;

        public Resampler(int planes, int h, int w, int ho, int wo, ResampleMode mode, bool alignCorners, double? scaleH, double? scaleW)
        {
            (_planes, _h, _w, _linear) = (planes, h, w, mode == ResampleMode.Linear);
            _rows = Resample.Axis<T>(h, ho, mode, alignCorners, scaleH);
            _cols = Resample.Axis<T>(w, wo, mode, alignCorners, scaleW);
        }

        public void Forward(Tensor x, Tensor y) => Resample.Forward<T>(_planes, _h, _w, _rows, _cols, _linear, Dense<T>(x), y.Data<T>());

        public void Backward(Tensor gy, Tensor gx) => Resample.Backward<T>(_planes, _h, _w, _rows, _cols, _linear, Dense<T>(gy), gx.Data<T>());
    }

    /// <summary>Resampling, recorded with its adjoint as the backward (both linear, so every order of derivative works).</summary>
    private static Tensor ResampleApply(Tensor input, IResampler r, int[] outShape, DType dtype)
    {
        var result = Tensor.Empty(outShape, dtype);
        r.Forward(CastRaw(input, dtype), result);
        if (!Tensor.ShouldRecord(input)) return result;
        var inShape = input._shape;
        return Tensor.Record(result, "UpsampleBackward", [input], (g, node) => [ResampleAdjoint(g, r, inShape, dtype).To(input.DType)]);
    }

    private static Tensor ResampleAdjoint(Tensor grad, IResampler r, int[] inShape, DType dtype)
    {
        var gx = Tensor.Empty(inShape, dtype);
        r.Backward(CastRaw(grad, dtype), gx);
        if (!Tensor.ShouldRecord(grad)) return gx;
        var outShape = grad._shape;
        return Tensor.Record(gx, "UpsampleBackwardBackward", [grad], (gg, node) => [ResampleApply(gg, r, outShape, dtype)]);
    }

    /// <summary>
    /// Pads the last dims of <paramref name="input"/> (PyTorch: <c>torch.nn.functional.pad</c>): <paramref name="pad"/> lists
    /// (before, after) pairs starting from the last dim — (left, right) pads the last dim, (left, right, top, bottom) the last two.
    /// Modes: <c>constant</c> (with <paramref name="value"/>; negative padding crops; up to 3 dims), <c>reflect</c>,
    /// <c>replicate</c> and <c>circular</c> (1 to 3 trailing dims of a 2- to 5-d input, non-negative padding; reflect needs
    /// padding smaller than the dim, circular at most the dim).
    /// </summary>
    public static Tensor Pad(Tensor input, int[] pad, string mode = OpDefaults.Pad.Mode, double value = OpDefaults.Pad.Value)
    {
        const string op = "Pad";
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(pad);
        ArgumentNullException.ThrowIfNull(mode);
        var kind = mode switch
        {
            "constant" => PadMode.Constant,
            "reflect" => PadMode.Reflect,
            "replicate" => PadMode.Replicate,
            "circular" => PadMode.Circular,
            _ => throw new ArgumentException($"{op}: unknown mode '{mode}'; expected 'constant', 'reflect', 'replicate' or 'circular'."),
        };
        if (pad.Length == 0 || pad.Length % 2 != 0)
        {
            throw new ArgumentException($"{op}: the padding {ShapeUtil.Format(pad)} must have an even, non-zero length ((before, after) per padded dim, last dim first).");
        }
        int dims = pad.Length / 2;
        if (dims > input.Rank)
        {
            throw new ArgumentException($"{op}: the padding {ShapeUtil.Format(pad)} pads {dims} dims, but the input of shape {ShapeUtil.Format(input._shape)} has only {input.Rank}.");
        }
        if (dims > 3) throw new NotSupportedException($"{op}: padding more than the last 3 dims (padding {ShapeUtil.Format(pad)}) is not supported.");
        if (kind != PadMode.Constant)
        {
            if (input.Rank < dims + 1 || input.Rank > dims + 2)
            {
                throw new ArgumentException(
                    $"{op}: mode '{mode}' with {dims} padded dim(s) expects a {dims + 1}-d or {dims + 2}-d input, but got shape {ShapeUtil.Format(input._shape)}.");
            }
            if (pad.Any(p => p < 0)) throw new ArgumentException($"{op}: mode '{mode}' needs non-negative padding, but got {ShapeUtil.Format(pad)}.");
        }
        var shape = (int[])input._shape.Clone();
        var maps = new int[3][];
        var inner = new int[3];
        for (int k = 0; k < 3; k++)
        {
            int j = 2 - k;  // maps[2] is the last dim, padded by pad[0], pad[1]
            if (j >= dims)
            {
                maps[k] = [0];
                inner[k] = 1;
                continue;
            }
            int d = input.Rank - 1 - j, size = input._shape[d], before = pad[2 * j], after = pad[2 * j + 1];
            if (kind == PadMode.Reflect && (before >= size || after >= size))
            {
                throw new ArgumentException(
                    $"{op}: reflect padding ({before}, {after}) of dim {d} must be smaller than its size {size} (input shape {ShapeUtil.Format(input._shape)}).");
            }
            if (kind == PadMode.Circular && (before > size || after > size))
            {
                throw new ArgumentException(
                    $"{op}: circular padding ({before}, {after}) of dim {d} must be at most its size {size} (input shape {ShapeUtil.Format(input._shape)}).");
            }
            if (kind != PadMode.Constant && size == 0)
            {
                throw new ArgumentException($"{op}: mode '{mode}' cannot pad the empty dim {d} of input shape {ShapeUtil.Format(input._shape)}.");
            }
            long outSize = (long)size + before + after;
            if (outSize < 0 || outSize > int.MaxValue)
            {
                throw new ArgumentException(
                    $"{op}: padding ({before}, {after}) of dim {d} (size {size}, input shape {ShapeUtil.Format(input._shape)}) gives an output size of {outSize}.");
            }
            shape[d] = (int)outSize;
            maps[k] = PadKernel.SourceMap(size, before, after, kind);
            inner[k] = size;
        }
        int plane = inner[0] * inner[1] * inner[2];
        int outer = plane == 0 ? ShapeUtil.Count(input._shape[..(input.Rank - dims)]) : input.NumElements / plane;
        var sources = PadKernel.Sources(outer, (inner[0], inner[1], inner[2]), maps[0], maps[1], maps[2]);
        return PadApply(input, sources, value, shape, FloatDType(op, input));
    }

    /// <summary>Padding, recorded with its adjoint (the gradient gathers from the padded output's interior).</summary>
    private static Tensor PadApply(Tensor input, int[] sources, double value, int[] outShape, DType dtype)
    {
        var result = Tensor.Empty(outShape, dtype);
        var x = CastRaw(input, dtype);
        if (dtype == DType.Float32) PadKernel.Forward(sources, (float)value, Dense<float>(x), result.Data<float>());
        else PadKernel.Forward(sources, value, Dense<double>(x), result.Data<double>());
        if (!Tensor.ShouldRecord(input)) return result;
        var inShape = input._shape;
        return Tensor.Record(result, "PadBackward", [input], (grad, node) => [PadAdjoint(grad, sources, inShape, dtype).To(input.DType)]);
    }

    private static Tensor PadAdjoint(Tensor grad, int[] sources, int[] inShape, DType dtype)
    {
        var gx = Tensor.Empty(inShape, dtype);
        var gr = CastRaw(grad, dtype);
        if (dtype == DType.Float32) PadKernel.Backward(sources, Dense<float>(gr), gx.Data<float>());
        else PadKernel.Backward(sources, Dense<double>(gr), gx.Data<double>());
        if (!Tensor.ShouldRecord(grad)) return gx;
        var outShape = grad._shape;
        // The adjoint of the adjoint is the padding again, with zeros outside (the constant does not depend on the input).
        return Tensor.Record(gx, "PadBackwardBackward", [grad], (gg, node) => [PadApply(gg, sources, 0, outShape, dtype)]);
    }
}
