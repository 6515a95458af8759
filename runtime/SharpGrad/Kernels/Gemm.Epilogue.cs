using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SharpGrad.Kernels;

/// <summary>The activation a <see cref="GemmEpilogue"/> applies last (PyTorch: the <c>relu</c> of <c>relu(addmm(…))</c>).</summary>
public enum GemmActivation
{
    /// <summary>No activation.</summary>
    None,

    /// <summary><c>max(0, x)</c> (PyTorch: <c>torch.relu</c>).</summary>
    Relu,
}

/// <summary>
/// Work fused into a GEMM's output tiles while they are in cache (PyTorch has no single op for this: it is
/// <c>torch.relu(torch.addmm(bias, x, w.t()) + residual)</c>, what <c>torch.compile</c>/cuBLASLt call a GEMM epilogue):
/// <c>C = act(alpha·op(A)·op(B) + beta·C + bias + residual)</c>, with <c>bias</c> broadcast over the rows (one value per
/// output column, as in <c>Linear</c>) and <c>residual</c> an m×n matrix of its own leading dimension.
/// Pass it to <see cref="Gemm.Sgemm(bool, bool, int, int, int, float, float[], int, int, float[], int, int, float, float[], int, int, in GemmEpilogue)"/>.
/// The residual must not overlap C.
/// </summary>
public readonly struct GemmEpilogue
{
    /// <summary>Creates an epilogue; every part is optional.</summary>
    /// <param name="bias">One value per output column (n values from <paramref name="biasOffset"/>), or null.</param>
    /// <param name="biasOffset">Index of the bias of column 0.</param>
    /// <param name="residual">An m×n matrix added to the result, or null.</param>
    /// <param name="residualOffset">Index of the residual's element [0, 0].</param>
    /// <param name="residualLd">The residual's row stride (≥ n).</param>
    /// <param name="activation">Applied last.</param>
    public GemmEpilogue(float[]? bias = null, int biasOffset = 0, float[]? residual = null, int residualOffset = 0, int residualLd = 0,
        GemmActivation activation = GemmActivation.None)
    {
        Bias = bias;
        BiasOffset = biasOffset;
        Residual = residual;
        ResidualOffset = residualOffset;
        ResidualLd = residualLd;
        Activation = activation;
    }

    /// <summary>One value per output column, or null (PyTorch: the <c>input</c> of <c>addmm</c>, broadcast over rows).</summary>
    public float[]? Bias { get; }

    /// <summary>Index of the bias of column 0 in <see cref="Bias"/>.</summary>
    public int BiasOffset { get; }

    /// <summary>An m×n matrix added to the result, or null (a residual connection: <c>+ residual</c>).</summary>
    public float[]? Residual { get; }

    /// <summary>Index of the residual's element [0, 0] in <see cref="Residual"/>.</summary>
    public int ResidualOffset { get; }

    /// <summary>The residual's row stride.</summary>
    public int ResidualLd { get; }

    /// <summary>The activation applied last.</summary>
    public GemmActivation Activation { get; }

    internal Epi<float> ToEpi() => new(Bias, BiasOffset, Residual, ResidualOffset, ResidualLd, Activation == GemmActivation.Relu);
}

/// <summary>The epilogue as the generic kernels see it (default = nothing to do).</summary>
internal readonly struct Epi<T> where T : unmanaged, INumber<T>
{
    public readonly T[]? Bias;
    public readonly int BiasOff;
    public readonly T[]? Residual;
    public readonly int ResOff;
    public readonly int ResLd;
    public readonly bool Relu;

    /// <summary>The bias has one value per row of C (a convolution's output channel) instead of one per column.</summary>
    public readonly bool RowBias;

    public Epi(T[]? bias, int biasOff, T[]? residual, int resOff, int resLd, bool relu, bool rowBias = false)
    {
        RowBias = rowBias;
        Bias = bias;
        BiasOff = biasOff;
        Residual = residual;
        ResOff = resOff;
        ResLd = resLd;
        Relu = relu;
    }

    public bool IsNone => Bias is null && Residual is null && !Relu;

    public void Check(int m, int n)
    {
        int nb = RowBias ? m : n;
        if (Bias is not null && (BiasOff < 0 || (long)BiasOff + nb > Bias.Length))
            throw new ArgumentException($"Gemm epilogue: the bias needs {nb} values (one per output {(RowBias ? "row" : "column")}) from offset {BiasOff}, but its array has {Bias.Length} elements.");
        if (Residual is not null && (ResLd < n || ResOff < 0 || (long)ResOff + (long)(m - 1) * ResLd + n > Residual.Length))
            throw new ArgumentException($"Gemm epilogue: the residual ({m}×{n}, ld {ResLd}, offset {ResOff}) does not fit in its array of {Residual.Length} elements; ld must be ≥ {n}.");
    }

    /// <summary>Applies the epilogue to <paramref name="row"/> = C[i, j0 .. j0 + row.Length).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void ApplyRow(Span<T> row, int i, int j0)
    {
        if (RowBias)
        {
            if (Bias is not null) Gemm.AddScalar(Bias[BiasOff + i], row);
            if (Residual is not null) Gemm.AddRow<T>(Residual.AsSpan(ResOff + i * ResLd + j0, row.Length), row);
            if (Relu) ReluRow(row);
            return;
        }
        // the operands' ranges checked here (the spans), then the one fused pass ApplyTile runs per row
        ref T bias = ref Bias is null ? ref Unsafe.NullRef<T>() : ref MemoryMarshal.GetReference(Bias.AsSpan(BiasOff + j0, row.Length));
        ref T res = ref Residual is null ? ref Unsafe.NullRef<T>() : ref MemoryMarshal.GetReference(Residual.AsSpan(ResOff + i * ResLd + j0, row.Length));
        FusedRow(ref MemoryMarshal.GetReference(row), ref bias, ref res, row.Length);
    }

    /// <summary>
    /// Applies the epilogue to the <paramref name="rows"/> × <paramref name="width"/> tile of C at <paramref name="c"/> (rows
    /// <paramref name="ldc"/> apart; C[i0.., j0..]) just written by a micro-kernel: <see cref="ApplyRow"/> on each row (its
    /// fused pass, the same bits), without a span per row and operand.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void ApplyTile(ref T c, int ldc, int rows, int i0, int j0, int width)
    {
        if (RowBias)
        {
            for (int r = 0; r < rows; r++) ApplyRow(MemoryMarshal.CreateSpan(ref Unsafe.Add(ref c, (nint)r * ldc), width), i0 + r, j0);
            return;
        }
        ref T bias = ref Bias is null ? ref Unsafe.NullRef<T>() : ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(Bias), BiasOff + j0);
        ref T res = ref Residual is null ? ref Unsafe.NullRef<T>() : ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(Residual), ResOff + (nint)i0 * ResLd + j0);
        bool hasRes = Residual is not null;
        for (int r = 0; r < rows; r++)
            FusedRow(ref Unsafe.Add(ref c, (nint)r * ldc), ref bias, ref hasRes ? ref Unsafe.Add(ref res, (nint)r * ResLd) : ref res, width);
    }

    /// <summary>
    /// y[0..width) += bias, += residual (each unless its ref is null), then ReLU (NaN stays NaN, like torch.relu), in one pass:
    /// whole vectors from the start (ReLU as <c>Vector.Max</c> with zero), then the scalar tail — the vector/scalar split of
    /// <see cref="ReluRow"/>, and the adds are element-wise, so the bits are those of the separate passes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void FusedRow(ref T y, ref T bias, ref T res, int width)
    {
        bool hasBias = !Unsafe.IsNullRef(ref bias), hasRes = !Unsafe.IsNullRef(ref res), relu = Relu;
        int vc = Vector<T>.Count, full = Vector.IsHardwareAccelerated ? width / vc * vc : 0;
        int j = 0;
        for (; j < full; j += vc)
        {
            var v = Vector.LoadUnsafe(ref y, (nuint)j);
            if (hasBias) v += Vector.LoadUnsafe(ref bias, (nuint)j);
            if (hasRes) v += Vector.LoadUnsafe(ref res, (nuint)j);
            if (relu) v = Vector.Max(v, Vector<T>.Zero);
            v.StoreUnsafe(ref y, (nuint)j);
        }
        for (; j < width; j++)
        {
            T e = Unsafe.Add(ref y, j);
            if (hasBias) e += Unsafe.Add(ref bias, j);
            if (hasRes) e += Unsafe.Add(ref res, j);
            if (relu && e < T.Zero) e = T.Zero;
            Unsafe.Add(ref y, j) = e;
        }
    }

    /// <summary>Applies the epilogue to C[i0..i1, j0..j1].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void ApplyRows(T[] c, int cOff, int ldc, int i0, int i1, int j0, int j1)
    {
        for (int i = i0; i < i1; i++) ApplyRow(c.AsSpan(cOff + i * ldc + j0, j1 - j0), i, j0);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ReluRow(Span<T> y)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated && y.Length >= Vector<T>.Count)
        {
            for (; i <= y.Length - Vector<T>.Count; i += Vector<T>.Count)
            {
                Vector.Max(new Vector<T>(y[i..]), Vector<T>.Zero).CopyTo(y[i..]);
            }
        }
        // NaN stays NaN, like torch.relu.
        for (; i < y.Length; i++) if (y[i] < T.Zero) y[i] = T.Zero;
    }
}
