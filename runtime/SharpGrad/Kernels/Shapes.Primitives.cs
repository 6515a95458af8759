using System.ComponentModel;

namespace SharpGrad.Kernels;

// The geometry of issue 13's primitive layers as generated code names it (per batch item; n is passed at each call).

/// <summary>
/// An Upsample over [C, H, W] planes (1-d: Height = OutHeight = 1): <see cref="Mode"/> 0 nearest, 1 nearest-exact, 2 (bi)linear;
/// a scale of 0 means the step is in/out (a given size, or recompute_scale_factor), else 1/scale as PyTorch.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly record struct ResampleShape(int Channels, int Height, int Width, int OutHeight, int OutWidth, int Mode, bool AlignCorners,
    double ScaleHeight = 0, double ScaleWidth = 0)
{
    /// <summary>The kernel's tap tables of the two axes.</summary>
    internal (ResampleTap<float>[] Rows, ResampleTap<float>[] Cols) Taps()
    {
        var mode = (ResampleMode)Mode;
        return (Resample.Axis<float>(Height, OutHeight, mode, AlignCorners, ScaleHeight > 0 ? ScaleHeight : null),
            Resample.Axis<float>(Width, OutWidth, mode, AlignCorners, ScaleWidth > 0 ? ScaleWidth : null));
    }
}

/// <summary>A ZeroPad2d over [C, H, W] images: the last two dims padded by (Left, Right, Top, Bottom) (negative crops).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly record struct PadShape(int Channels, int Height, int Width, int Left, int Right, int Top, int Bottom)
{
    /// <summary>Elements of one padded image.</summary>
    public int OutCount => Channels * (Height + Top + Bottom) * (Width + Left + Right);

    /// <summary>The flat source of each output element of one image (−1: zero), as eager's <c>Functional.Pad</c> builds it.</summary>
    internal int[] Sources()
        => PadKernel.Sources(Channels, (1, Height, Width), [0], PadKernel.SourceMap(Height, Top, Bottom, PadMode.Constant),
            PadKernel.SourceMap(Width, Left, Right, PadMode.Constant));
}
