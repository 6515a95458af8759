using System.ComponentModel;

namespace SharpGrad.Kernels;

// The geometry of the heavy ops, as generated code names it (one constant per layer, with named arguments), per batch
// item: the batch size n is passed at each call.

/// <summary>A Linear layer's GEMM: [n·RowsPerItem, InFeatures] · weightᵀ → [n·RowsPerItem, OutFeatures].</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly record struct LinearShape(int InFeatures, int OutFeatures, int RowsPerItem = 1);

/// <summary>A 2-d convolution on [C, H, W] images (a 1-d one has Height = KernelHeight = 1).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly record struct ConvShape(
    int InChannels, int Height, int Width, int OutChannels, int KernelHeight, int KernelWidth,
    int StrideHeight, int StrideWidth, int PaddingHeight, int PaddingWidth, int DilationHeight, int DilationWidth,
    int Groups, int OutHeight, int OutWidth)
{
    /// <summary>The kernel's geometry for a batch of <paramref name="n"/> images.</summary>
    internal ConvGeometry For(int n) => new(n, InChannels, Height, Width, OutChannels, KernelHeight, KernelWidth, StrideHeight, StrideWidth,
        PaddingHeight, PaddingWidth, DilationHeight, DilationWidth, Groups, OutHeight, OutWidth);

    /// <summary>The number of weight elements (OutChannels · InChannels / Groups · KernelHeight · KernelWidth).</summary>
    public int WeightCount => OutChannels * (InChannels / Groups) * KernelHeight * KernelWidth;
}

/// <summary>A 2-d pooling window over [C, H, W] images (max, average, or adaptive average when the window is 0).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly record struct PoolShape(
    int Channels, int Height, int Width, int OutHeight, int OutWidth,
    int KernelHeight = 0, int KernelWidth = 0, int StrideHeight = 1, int StrideWidth = 1, int PaddingHeight = 0, int PaddingWidth = 0,
    int DilationHeight = 1, int DilationWidth = 1, bool CeilMode = false, bool CountIncludePad = true)
{
    /// <summary>The kernel's geometry for a batch of <paramref name="n"/> images (n · Channels planes).</summary>
    internal PoolGeometry For(int n) => new(n * Channels, Height, Width, OutHeight, OutWidth, KernelHeight, KernelWidth, StrideHeight, StrideWidth,
        PaddingHeight, PaddingWidth, DilationHeight, DilationWidth);
}

/// <summary>A tensor viewed as [Outer, Size, Inner] around the dim an op works along (per batch item when batched).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly record struct AxisShape(int Outer, int Size, int Inner);

/// <summary>A batched matrix product per item: [M, K] · [K, N] → [M, N].</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly record struct MatMulShape(int M, int K, int N);
