using System.Numerics;

namespace SharpGrad.Kernels;

/// <summary>
/// Where one output coordinate of a resampled axis reads: two source indices and their weights (nearest: one index,
/// weights 1 and 0). PyTorch: the index/lambda pairs of <c>upsample_nearest*</c> and <c>upsample_(bi)linear*</c>.
/// </summary>
internal readonly record struct ResampleTap<T>(int I0, int I1, T L0, T L1);

/// <summary>How an axis is resampled (PyTorch's <c>interpolate</c> modes this kernel covers).</summary>
internal enum ResampleMode
{
    /// <summary>PyTorch <c>nearest</c>: src = min(⌊dst·scale⌋, in − 1), scale computed in float as PyTorch does.</summary>
    Nearest,

    /// <summary>PyTorch <c>nearest-exact</c>: src = min(⌊(dst + ½)·scale⌋, in − 1).</summary>
    NearestExact,

    /// <summary>PyTorch <c>linear</c>/<c>bilinear</c>: two taps per axis.</summary>
    Linear,
}

/// <summary>
/// Nearest and (bi)linear resampling of [planes, H, W] data (a 1-d signal is H = 1), forward and its adjoint, with PyTorch's
/// source-index rules (<c>aten/src/ATen/native/UpSample.h</c>: <c>nearest_idx</c>, <c>area_pixel_compute_scale</c>,
/// <c>area_pixel_compute_source_index</c>). The output is separable: one tap table per axis.
/// </summary>
internal static class Resample
{
    /// <summary>
    /// The taps of one axis from <paramref name="inSize"/> to <paramref name="outSize"/>. <paramref name="scaleFactor"/>
    /// is the user's scale factor when PyTorch passes it to the kernel (then the step is 1/scale, not in/out).
    /// Arithmetic in <typeparamref name="T"/> (float for Float32, as PyTorch's opmath), except nearest, which PyTorch does in float.
    /// </summary>
    public static ResampleTap<T>[] Axis<T>(int inSize, int outSize, ResampleMode mode, bool alignCorners, double? scaleFactor)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var taps = new ResampleTap<T>[outSize];
        if (mode != ResampleMode.Linear)
        {
            float scale = scaleFactor is > 0 ? (float)(1.0 / scaleFactor.Value) : (float)inSize / outSize;
            for (int o = 0; o < outSize; o++)
            {
                int i;
                if (mode == ResampleMode.Nearest)
                {
                    i = outSize == inSize ? o : outSize == 2 * inSize ? o >> 1 : Math.Min((int)MathF.Floor(o * scale), inSize - 1);
                }
                else
                {
                    i = outSize == inSize ? o : Math.Min((int)MathF.Floor((o + 0.5f) * scale), inSize - 1);
                }
                taps[o] = new ResampleTap<T>(i, i, T.One, T.Zero);
            }
            return taps;
        }
        T ratio = alignCorners
            ? (outSize > 1 ? T.CreateTruncating(inSize - 1) / T.CreateTruncating(outSize - 1) : T.Zero)
            : scaleFactor is > 0 ? T.CreateTruncating(1.0 / scaleFactor.Value) : T.CreateTruncating(inSize) / T.CreateTruncating(outSize);
        T half = T.CreateTruncating(0.5);
        for (int o = 0; o < outSize; o++)
        {
            if (outSize == inSize)
            {
                taps[o] = new ResampleTap<T>(o, o, T.One, T.Zero);
                continue;
            }
            T real = alignCorners ? ratio * T.CreateTruncating(o) : T.Max(ratio * (T.CreateTruncating(o) + half) - half, T.Zero);
            int i0 = int.CreateTruncating(real);
            int i1 = i0 < inSize - 1 ? i0 + 1 : i0;
            T l1 = T.Clamp(real - T.CreateTruncating(i0), T.Zero, T.One);
            taps[o] = new ResampleTap<T>(i0, i1, T.One - l1, l1);
        }
        return taps;
    }

    /// <summary>y[p, oh, ow] = Σ rows[oh]·cols[ow]·x[p, ·, ·] (nearest: a copy of one element).</summary>
    public static void Forward<T>(int planes, int h, int w, ResampleTap<T>[] rows, ResampleTap<T>[] cols, bool linear, ReadOnlySpan<T> x, Span<T> y)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int ho = rows.Length, wo = cols.Length;
        for (int p = 0; p < planes; p++)
        {
            var xp = x.Slice(p * h * w, h * w);
            var yp = y.Slice(p * ho * wo, ho * wo);
            for (int oh = 0; oh < ho; oh++)
            {
                var r = rows[oh];
                int a = r.I0 * w, b = r.I1 * w;
                for (int ow = 0; ow < wo; ow++)
                {
                    var c = cols[ow];
                    if (!linear)
                    {
                        yp[oh * wo + ow] = xp[a + c.I0];
                        continue;
                    }
                    T top = xp[a + c.I0] * c.L0 + xp[a + c.I1] * c.L1;
                    if (h == 1)
                    {
                        yp[oh * wo + ow] = top;
                        continue;
                    }
                    T bottom = xp[b + c.I0] * c.L0 + xp[b + c.I1] * c.L1;
                    yp[oh * wo + ow] = top * r.L0 + bottom * r.L1;
                }
            }
        }
    }

    /// <summary>The adjoint of <see cref="Forward{T}"/>: gx (cleared first) receives each gy through the same taps.</summary>
    public static void Backward<T>(int planes, int h, int w, ResampleTap<T>[] rows, ResampleTap<T>[] cols, bool linear, ReadOnlySpan<T> gy, Span<T> gx)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        gx.Clear();
        int ho = rows.Length, wo = cols.Length;
        for (int p = 0; p < planes; p++)
        {
            var gxp = gx.Slice(p * h * w, h * w);
            var gyp = gy.Slice(p * ho * wo, ho * wo);
            for (int oh = 0; oh < ho; oh++)
            {
                var r = rows[oh];
                int a = r.I0 * w, b = r.I1 * w;
                T r0 = h == 1 ? T.One : r.L0;
                for (int ow = 0; ow < wo; ow++)
                {
                    var c = cols[ow];
                    T g = gyp[oh * wo + ow];
                    if (!linear)
                    {
                        gxp[a + c.I0] += g;
                        continue;
                    }
                    gxp[a + c.I0] += g * r0 * c.L0;
                    gxp[a + c.I1] += g * r0 * c.L1;
                    if (h == 1) continue;
                    gxp[b + c.I0] += g * r.L1 * c.L0;
                    gxp[b + c.I1] += g * r.L1 * c.L1;
                }
            }
        }
    }
}
