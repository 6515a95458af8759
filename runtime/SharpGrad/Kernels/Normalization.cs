using System.ComponentModel;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace SharpGrad.Kernels;

/// <summary>
/// Batch normalisation (PyTorch: <c>F.batch_norm</c>) over [n, c, l] and layer normalisation (PyTorch: <c>F.layer_norm</c>)
/// over [rows, cols], forward and backward. Statistics are accumulated in double. Eager <c>Functional.BatchNorm</c>,
/// <c>Functional.LayerNorm</c> and generated code call the same kernels.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static partial class NormKernel
{
    /// <summary>
    /// y = (x − mean)·invstd·weight + bias per channel, with the batch statistics (biased variance) when
    /// <paramref name="useBatchStats"/>, else the running ones. With batch statistics and running statistics given,
    /// they are updated: running = (1 − momentum)·running + momentum·batch (the unbiased variance for running_var).
    /// <paramref name="saveMean"/>/<paramref name="saveInvstd"/> (c values) receive the statistics used.
    /// Empty <paramref name="weight"/>/<paramref name="bias"/>/<paramref name="runningMean"/>/<paramref name="runningVar"/> mean none.
    /// </summary>
    public static void BatchNormForward<T>(ReadOnlySpan<T> x, Span<T> y, int n, int c, int l, ReadOnlySpan<T> weight, ReadOnlySpan<T> bias,
        Span<T> runningMean, Span<T> runningVar, bool useBatchStats, double momentum, double eps, Span<T> saveMean, Span<T> saveInvstd)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int count = n * l;
        bool update = useBatchStats && !runningMean.IsEmpty;
        T keep = T.CreateTruncating(1 - momentum), mom = T.CreateTruncating(momentum);
        T unbias = T.CreateTruncating(count / (double)Math.Max(count - 1, 1));
        for (int ch = 0; ch < c; ch++)
        {
            T mean, variance;
            if (useBatchStats)
            {
                double sum = 0;
                for (int i = 0; i < n; i++) sum += double.CreateTruncating(TensorPrimitives.Sum(x.Slice((i * c + ch) * l, l)));
                mean = T.CreateTruncating(sum / count);
                double sq = 0;
                for (int i = 0; i < n; i++)
                {
                    var row = x.Slice((i * c + ch) * l, l);
                    for (int k = 0; k < l; k++)
                    {
                        double d = double.CreateTruncating(row[k] - mean);
                        sq += d * d;
                    }
                }
                variance = T.CreateTruncating(sq / count);
                if (update)
                {
                    runningMean[ch] = runningMean[ch] * keep + mean * mom;
                    runningVar[ch] = runningVar[ch] * keep + variance * unbias * mom;
                }
            }
            else
            {
                mean = runningMean[ch];
                variance = runningVar[ch];
            }
            T invstd = T.CreateTruncating(1.0 / Math.Sqrt(double.CreateTruncating(variance) + eps));
            saveMean[ch] = mean;
            saveInvstd[ch] = invstd;
            T w = weight.IsEmpty ? T.One : weight[ch];
            T b = bias.IsEmpty ? T.Zero : bias[ch];
            for (int i = 0; i < n; i++)
            {
                int o = (i * c + ch) * l;
                for (int k = 0; k < l; k++)
                {
                    T v = (x[o + k] - mean) * invstd;
                    if (!weight.IsEmpty) v *= w;
                    if (!bias.IsEmpty) v += b;
                    y[o + k] = v;
                }
            }
        }
    }

    /// <summary>
    /// Gradients of <see cref="BatchNormForward{T}"/> from the saved statistics: <paramref name="gx"/> (when not empty),
    /// <paramref name="gWeight"/> and <paramref name="gBias"/> (c values, when not empty) are added to.
    /// </summary>
    public static void BatchNormBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> gy, Span<T> gx, ReadOnlySpan<T> saveMean, ReadOnlySpan<T> saveInvstd,
        ReadOnlySpan<T> weight, Span<T> gWeight, Span<T> gBias, int n, int c, int l, bool useBatchStats)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int count = n * l;
        for (int ch = 0; ch < c; ch++)
        {
            T mean = saveMean[ch], invstd = saveInvstd[ch];
            T w = weight.IsEmpty ? T.One : weight[ch];
            double sg = 0, sgx = 0, sgw = 0, sgb = 0;
            for (int i = 0; i < n; i++)
            {
                int o = (i * c + ch) * l;
                for (int k = 0; k < l; k++)
                {
                    T g = gy[o + k];
                    T xhat = (x[o + k] - mean) * invstd;
                    T gxhat = weight.IsEmpty ? g : g * w;
                    sg += double.CreateTruncating(gxhat);
                    sgx += double.CreateTruncating(gxhat * xhat);
                    sgw += double.CreateTruncating(g * xhat);
                    sgb += double.CreateTruncating(g);
                }
            }
            if (!gWeight.IsEmpty) gWeight[ch] += T.CreateTruncating(sgw);
            if (!gBias.IsEmpty) gBias[ch] += T.CreateTruncating(sgb);
            if (gx.IsEmpty) continue;
            T mg = T.CreateTruncating(sg / count), mgx = T.CreateTruncating(sgx / count);
            for (int i = 0; i < n; i++)
            {
                int o = (i * c + ch) * l;
                for (int k = 0; k < l; k++)
                {
                    T g = gy[o + k];
                    T gxhat = weight.IsEmpty ? g : g * w;
                    if (useBatchStats)
                    {
                        T xhat = (x[o + k] - mean) * invstd;
                        gx[o + k] += invstd * (gxhat - mg - xhat * mgx);
                    }
                    else gx[o + k] += gxhat * invstd;
                }
            }
        }
    }

    /// <summary>
    /// y = (x − mean)·invstd·weight + bias per row of <paramref name="cols"/> elements (the biased variance);
    /// <paramref name="saveMean"/>/<paramref name="saveInvstd"/> (rows values) receive the statistics. Rows are vectorised
    /// (the row's sums in <typeparamref name="T"/> SIMD lanes) and split over the worker pool when there are many.
    /// </summary>
    public static unsafe void LayerNormForward<T>(ReadOnlySpan<T> x, Span<T> y, int rows, int cols, ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, double eps,
        Span<T> saveMean, Span<T> saveInvstd)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (rows <= 0) return;
        if (cols <= 0)
        {
            // empty rows: mean 0, variance 0
            saveMean[..rows].Clear();
            saveInvstd[..rows].Fill(T.CreateTruncating(1.0 / Math.Sqrt(eps)));
            return;
        }
        fixed (T* px = x, py = y, pw = weight, pb = bias, pm = saveMean, pi = saveInvstd)
        {
            var body = new LayerNormForwardRows<T>(px, py, cols, weight.IsEmpty ? null : pw, bias.IsEmpty ? null : pb, eps, pm, pi);
            RunRowParts(rows, cols, body);
        }
    }

    /// <summary>
    /// Gradients of <see cref="LayerNormForward{T}"/>: <paramref name="gx"/> (when not empty), <paramref name="gWeight"/> and
    /// <paramref name="gBias"/> (cols values, when not empty) are added to. Split over the worker pool like the forward, each
    /// part summing its rows' weight and bias gradients on its own before they are added up.
    /// </summary>
    public static void LayerNormBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> gy, Span<T> gx, ReadOnlySpan<T> saveMean, ReadOnlySpan<T> saveInvstd,
        ReadOnlySpan<T> weight, Span<T> gWeight, Span<T> gBias, int rows, int cols)
        where T : unmanaged, IFloatingPointIeee754<T>
        => LayerNormBackward(x, gy, gx, saveMean, saveInvstd, weight, gWeight, gBias, rows, cols, store: false, [], []);

    /// <summary>
    /// <see cref="LayerNormBackward{T}(ReadOnlySpan{T}, ReadOnlySpan{T}, Span{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, Span{T}, Span{T}, int, int)"/>
    /// for float rows that <see cref="RowsInVectors512"/> takes, with the input gradient <b>written</b> into <paramref name="gx"/>
    /// as the add into a cleared array writes it (each element v + (+0)), also written into <paramref name="gxCopy"/> and added
    /// into <paramref name="gxAdd"/> (as <c>TensorPrimitives.Add(gxAdd, gx, gxAdd)</c> adds it) when they are not empty: the
    /// encoder layer's backward cleared the array, added into it, then copied it or added it on in passes of their own.
    /// </summary>
    internal static void LayerNormBackwardStore(ReadOnlySpan<float> x, ReadOnlySpan<float> gy, Span<float> gx, Span<float> gxCopy, Span<float> gxAdd,
        ReadOnlySpan<float> saveMean, ReadOnlySpan<float> saveInvstd, ReadOnlySpan<float> weight, Span<float> gWeight, Span<float> gBias, int rows, int cols)
    {
        if (!RowsInVectors512(cols) || gx.Length < rows * cols || (!gxCopy.IsEmpty && gxCopy.Length < rows * cols) || (!gxAdd.IsEmpty && gxAdd.Length < rows * cols))
            throw new ArgumentException($"LayerNormBackwardStore: rows of {cols} need the 512-bit rows and arrays of {rows * cols} elements.");
        LayerNormBackward(x, gy, gx, saveMean, saveInvstd, weight, gWeight, gBias, rows, cols, store: true, gxCopy, gxAdd);
    }

    private static unsafe void LayerNormBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> gy, Span<T> gx, ReadOnlySpan<T> saveMean, ReadOnlySpan<T> saveInvstd,
        ReadOnlySpan<T> weight, Span<T> gWeight, Span<T> gBias, int rows, int cols, bool store, Span<T> gxCopy, Span<T> gxAdd)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (rows <= 0 || cols <= 0) return;
        int parts = RowParts(rows, cols);
        bool sums = !gWeight.IsEmpty || !gBias.IsEmpty;
        // Each part's weight and bias gradients: [parts, 2, cols] (part 0 of a single part writes straight into gWeight/gBias).
        T[]? partial = parts > 1 && sums ? Scratch<T>.Pool.Rent(parts * 2 * cols) : null;
        try
        {
            if (partial is not null) partial.AsSpan(0, parts * 2 * cols).Clear();
            fixed (T* px = x, pg = gy, pgx = gx, pm = saveMean, pi = saveInvstd, pw = weight, pgw = gWeight, pgb = gBias, pp = partial, pc = gxCopy, pa = gxAdd)
            {
                var body = new LayerNormBackwardRows<T>(px, pg, gx.IsEmpty ? null : pgx, pm, pi, weight.IsEmpty ? null : pw, gWeight.IsEmpty ? null : pgw,
                    gBias.IsEmpty ? null : pgb, partial is null ? null : pp, cols, (rows + parts - 1) / parts, rows)
                {
                    Store = store,
                    Copy = gxCopy.IsEmpty ? null : pc,
                    Add = gxAdd.IsEmpty ? null : pa,
                };
                if (parts == 1) body.Invoke(0);
                else Parallelism.For(parts, body);
            }
            if (partial is not null)
            {
                for (int p = 0; p < parts; p++)
                {
                    if (!gWeight.IsEmpty) TensorPrimitives.Add(gWeight, partial.AsSpan(p * 2 * cols, cols), gWeight);
                    if (!gBias.IsEmpty) TensorPrimitives.Add(gBias, partial.AsSpan(p * 2 * cols + cols, cols), gBias);
                }
            }
        }
        finally
        {
            if (partial is not null) Scratch<T>.Pool.Return(partial);
        }
    }

    /// <summary>Elements per part below which layer-norm rows are not split further (a few µs of work).</summary>
    private const int LayerNormElementsPerPart = 16384;

    private static int RowParts(int rows, int cols) => Math.Min(rows, Parallelism.Parts((double)rows * cols, LayerNormElementsPerPart));

    /// <summary>Runs <paramref name="body"/> over row ranges: part p gets rows [p·chunk, (p + 1)·chunk).</summary>
    private static void RunRowParts<TBody>(int rows, int cols, TBody body) where TBody : struct, IRowRange
    {
        int parts = RowParts(rows, cols);
        int chunk = (rows + parts - 1) / parts;
        if (parts == 1) body.Rows(0, rows);
        else Parallelism.For((rows + chunk - 1) / chunk, new RowRangeParts<TBody>(body, chunk, rows));
    }

    private interface IRowRange
    {
        void Rows(int start, int end);
    }

    private readonly struct RowRangeParts<TBody>(TBody body, int chunk, int rows) : IParallelBody where TBody : struct, IRowRange
    {
        public void Invoke(int index) => body.Rows(index * chunk, Math.Min(rows, (index + 1) * chunk));
    }

    private readonly unsafe struct LayerNormForwardRows<T>(T* x, T* y, int cols, T* weight, T* bias, double eps, T* mean, T* invstd) : IRowRange
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        public void Rows(int start, int end)
        {
            if (typeof(T) == typeof(float) && RowsInVectors512(cols))
            {
                ForwardRows512((float*)x, (float*)y, cols, (float*)weight, (float*)bias, eps, (float*)mean, (float*)invstd, start, end);
                return;
            }
            T tCols = T.CreateTruncating(cols);
            for (int r = start; r < end; r++)
            {
                var xr = new ReadOnlySpan<T>(x + (long)r * cols, cols);
                var yr = new Span<T>(y + (long)r * cols, cols);
                T m = TensorPrimitives.Sum(xr) / tCols;
                // y holds x − mean until it is scaled (y may be x: each element is read before it is written)
                TensorPrimitives.Subtract(xr, m, yr);
                double variance = double.CreateTruncating(TensorPrimitives.SumOfSquares<T>(yr)) / cols;
                T inv = T.CreateTruncating(1.0 / Math.Sqrt(variance + eps));
                mean[r] = m;
                invstd[r] = inv;
                // y = ((y·inv)·weight) + bias in one pass (were three TensorPrimitives calls per row; the same roundings)
                ScaleShift(yr, inv, weight, bias);
            }
        }
    }

    /// <summary>
    /// y = ((y·<paramref name="inv"/>)·weight) + bias element by element (weight, bias: null for none), each step rounded as
    /// <c>TensorPrimitives.Multiply</c>, <c>Multiply</c> and <c>Add</c> round it (no fused multiply-add).
    /// </summary>
    private static unsafe void ScaleShift<T>(Span<T> y, T inv, T* weight, T* bias) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = y.Length, j = 0;
        fixed (T* py = y)
        {
            if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported)
            {
                int w = Vector<T>.Count;
                var vi = new Vector<T>(inv);
                if (weight != null && bias != null)
                {
                    for (; j <= n - w; j += w) Vector.Store(Vector.Load(py + j) * vi * Vector.Load(weight + j) + Vector.Load(bias + j), py + j);
                }
                else
                {
                    for (; j <= n - w; j += w)
                    {
                        var v = Vector.Load(py + j) * vi;
                        if (weight != null) v *= Vector.Load(weight + j);
                        if (bias != null) v += Vector.Load(bias + j);
                        Vector.Store(v, py + j);
                    }
                }
            }
            for (; j < n; j++)
            {
                T v = py[j] * inv;
                if (weight != null) v *= weight[j];
                if (bias != null) v += bias[j];
                py[j] = v;
            }
        }
    }

    private readonly unsafe struct LayerNormBackwardRows<T>(T* x, T* gy, T* gx, T* mean, T* invstd, T* weight, T* gWeight, T* gBias, T* partial, int cols,
        int chunk, int rows) : IParallelBody
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        /// <summary>gx written (v + 0), not added to (the 512-bit rows only: <see cref="LayerNormBackwardStore"/>).</summary>
        public bool Store { get; init; }

        /// <summary>Where gx is also written, or null.</summary>
        public T* Copy { get; init; }

        /// <summary>Where gx is also added, or null.</summary>
        public T* Add { get; init; }

        public void Invoke(int part)
        {
            int start = part * chunk, end = Math.Min(rows, start + chunk);
            T* gw = partial != null ? (gWeight != null ? partial + (long)part * 2 * cols : null) : gWeight;
            T* gb = partial != null ? (gBias != null ? partial + (long)part * 2 * cols + cols : null) : gBias;
            if (typeof(T) == typeof(float) && RowsInVectors512(cols))
            {
                BackwardRows512((float*)x, (float*)gy, (float*)gx, (float*)mean, (float*)invstd, (float*)weight, (float*)gw, (float*)gb, cols, start, end,
                    Store, (float*)Copy, (float*)Add);
                return;
            }
            var buffer = cols <= 1024 ? stackalloc T[2 * cols] : new T[2 * cols];
            Span<T> xhat = buffer[..cols], gxhat = buffer[cols..];
            T tCols = T.CreateTruncating(cols);
            for (int r = start; r < end; r++)
            {
                var xr = new ReadOnlySpan<T>(x + (long)r * cols, cols);
                var gr = new ReadOnlySpan<T>(gy + (long)r * cols, cols);
                T inv = invstd[r];
                // xhat = (x − mean)·inv, gxhat = gy·weight, gW += gy·xhat, gb += gy: one pass (were up to five calls per row)
                RowTerms(xr, gr, mean[r], inv, weight, gw, gb, xhat, gxhat);
                if (gx == null) continue;
                T mg = TensorPrimitives.Sum<T>(gxhat) / tCols, mgx = TensorPrimitives.Dot<T>(gxhat, xhat) / tCols;
                // gx += invstd·(gxhat − mg − xhat·mgx)
                InputGradient(gxhat, xhat, mg, -mgx, inv, new Span<T>(gx + (long)r * cols, cols));
            }
        }
    }

    /// <summary>
    /// One row of LayerNorm's backward before its reductions: <paramref name="xhat"/> = (x − mean)·inv, <paramref name="gxhat"/> =
    /// gy·weight (gy without a weight), gW += gy·xhat, gb += gy (null: none), each step rounded as the
    /// <c>TensorPrimitives</c> calls it replaces round it (<c>Subtract</c>, <c>Multiply</c>, <c>MultiplyAdd</c> = a product
    /// then a sum, <c>Add</c>).
    /// </summary>
    private static unsafe void RowTerms<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> gy, T mean, T inv, T* weight, T* gw, T* gb, Span<T> xhat, Span<T> gxhat)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = x.Length, j = 0;
        fixed (T* px = x, pg = gy, ph = xhat, pgh = gxhat)
        {
            if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported)
            {
                int w = Vector<T>.Count;
                Vector<T> vm = new(mean), vi = new(inv);
                for (; j <= n - w; j += w)
                {
                    var g = Vector.Load(pg + j);
                    var h = (Vector.Load(px + j) - vm) * vi;
                    Vector.Store(h, ph + j);
                    Vector.Store(weight != null ? g * Vector.Load(weight + j) : g, pgh + j);
                    if (gw != null) Vector.Store(g * h + Vector.Load(gw + j), gw + j);
                    if (gb != null) Vector.Store(Vector.Load(gb + j) + g, gb + j);
                }
            }
            for (; j < n; j++)
            {
                T g = pg[j], h = (px[j] - mean) * inv;
                ph[j] = h;
                pgh[j] = weight != null ? g * weight[j] : g;
                if (gw != null) gw[j] = g * h + gw[j];
                if (gb != null) gb[j] = gb[j] + g;
            }
        }
    }

    /// <summary>
    /// gx += (xhat·<paramref name="negMgx"/> + (gxhat − <paramref name="mg"/>))·<paramref name="inv"/> element by element, rounded as
    /// <c>TensorPrimitives.Subtract</c> and two <c>MultiplyAdd</c>s (a product then a sum each) round it.
    /// </summary>
    private static unsafe void InputGradient<T>(ReadOnlySpan<T> gxhat, ReadOnlySpan<T> xhat, T mg, T negMgx, T inv, Span<T> gx)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = gx.Length, j = 0;
        fixed (T* pgh = gxhat, ph = xhat, pgx = gx)
        {
            if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported)
            {
                int w = Vector<T>.Count;
                Vector<T> vmg = new(mg), vmgx = new(negMgx), vi = new(inv);
                for (; j <= n - w; j += w)
                {
                    var t = Vector.Load(ph + j) * vmgx + (Vector.Load(pgh + j) - vmg);
                    Vector.Store(t * vi + Vector.Load(pgx + j), pgx + j);
                }
            }
            for (; j < n; j++)
            {
                T t = ph[j] * negMgx + (pgh[j] - mg);
                pgx[j] = t * inv + pgx[j];
            }
        }
    }

    /// <summary>
    /// Whether float rows of <paramref name="cols"/> elements take <see cref="ForwardRows512"/> / <see cref="BackwardRows512"/>:
    /// AVX-512 and a row of one to eight whole 512-bit vectors (the encoder layer's d_model 128 is eight). For such a row
    /// <c>TensorPrimitives.Sum</c>, <c>SumOfSquares</c> and <c>Dot</c> (System.Numerics.Tensors 10, float, Vector512) add the
    /// row's vectors (each transformed: squared, or x·y) one after the other into a vector that starts at +0, add a masked
    /// end vector of +0 (no elements trail a whole vector), and return <c>Vector512.Sum</c> of it; the rows below do exactly
    /// that in registers, so the statistics and every output keep their bits (RowsInVectors512Tests compare them with the
    /// <c>TensorPrimitives</c> sequence bit for bit), without the five library calls and three passes per row through memory.
    /// </summary>
    internal static bool RowsInVectors512(int cols) => !t_rows512Off && Vector512.IsHardwareAccelerated && cols % 16 == 0 && cols >= 16 && cols <= 128;

    /// <summary>Tests and bench: true sends float rows down the <c>TensorPrimitives</c> path whatever their width (this thread only).</summary>
    [ThreadStatic] internal static bool t_rows512Off;

    /// <summary>
    /// LayerNorm's forward of float rows [<paramref name="start"/>, <paramref name="end"/>) of <paramref name="cols"/> =
    /// 16·j (j ≤ 8) elements with 512-bit vectors, the same operations in the same order as the <c>TensorPrimitives</c> path
    /// (<see cref="RowsInVectors512"/>): mean = Σx / cols, d = x − mean, var = Σd² / cols (in double), inv = 1/√(var + eps),
    /// y = ((d·inv)·weight) + bias. <paramref name="y"/> may be <paramref name="x"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void ForwardRows512(float* x, float* y, int cols, float* weight, float* bias, double eps, float* mean, float* invstd, int start, int end)
    {
        int nv = cols / 16;
        float tCols = cols;
        for (int r = start; r < end; r++)
        {
            float* xr = x + (long)r * cols, yr = y + (long)r * cols;
            var s = Vector512<float>.Zero;
            for (int v = 0; v < nv; v++) s += Vector512.Load(xr + 16 * v);
            float m = Vector512.Sum(s + Vector512<float>.Zero) / tCols;
            var vm = Vector512.Create(m);
            var sq = Vector512<float>.Zero;
            for (int v = 0; v < nv; v++)
            {
                var d = Vector512.Load(xr + 16 * v) - vm;
                sq += d * d;
            }
            double variance = (double)Vector512.Sum(sq + Vector512<float>.Zero) / cols;
            float inv = (float)(1.0 / Math.Sqrt(variance + eps));
            mean[r] = m;
            invstd[r] = inv;
            var vi = Vector512.Create(inv);
            for (int v = 0; v < nv; v++)
            {
                var t = (Vector512.Load(xr + 16 * v) - vm) * vi;
                if (weight != null) t *= Vector512.Load(weight + 16 * v);
                if (bias != null) t += Vector512.Load(bias + 16 * v);
                t.Store(yr + 16 * v);
            }
        }
    }

    /// <summary>
    /// LayerNorm's backward of float rows as <see cref="ForwardRows512"/> takes them, the operations of the <c>TensorPrimitives</c>
    /// path (RowTerms, Sum, Dot, InputGradient) in their order: xhat = (x − mean)·inv, gxhat = gy·weight, gW += gy·xhat,
    /// gb += gy, mg = Σgxhat / cols, mgx = Σ gxhat·xhat / cols, gx += (xhat·(−mgx) + (gxhat − mg))·inv. Null
    /// <paramref name="gx"/>, <paramref name="gw"/>, <paramref name="gb"/> or <paramref name="weight"/>: none.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void BackwardRows512(float* x, float* gy, float* gx, float* mean, float* invstd, float* weight, float* gw, float* gb, int cols,
        int start, int end, bool store, float* copy, float* add)
    {
        int nv = cols / 16;
        float tCols = cols;
        float* hat = stackalloc float[2 * 128];
        float* ghat = hat + 128;
        for (int r = start; r < end; r++)
        {
            float* xr = x + (long)r * cols, gr = gy + (long)r * cols;
            var vm = Vector512.Create(mean[r]);
            float inv = invstd[r];
            var vi = Vector512.Create(inv);
            Vector512<float> sum = Vector512<float>.Zero, dot = Vector512<float>.Zero;
            for (int v = 0; v < nv; v++)
            {
                int o = 16 * v;
                var g = Vector512.Load(gr + o);
                var h = (Vector512.Load(xr + o) - vm) * vi;
                var gh = weight != null ? g * Vector512.Load(weight + o) : g;
                if (gw != null) (g * h + Vector512.Load(gw + o)).Store(gw + o);
                if (gb != null) (Vector512.Load(gb + o) + g).Store(gb + o);
                if (gx == null) continue;
                h.Store(hat + o);
                gh.Store(ghat + o);
                sum += gh;
                dot += gh * h;
            }
            if (gx == null) continue;
            float mg = Vector512.Sum(sum + Vector512<float>.Zero) / tCols, mgx = Vector512.Sum(dot + Vector512<float>.Zero) / tCols;
            Vector512<float> vmg = Vector512.Create(mg), vmgx = Vector512.Create(-mgx);
            float* gxr = gx + (long)r * cols;
            for (int v = 0; v < nv; v++)
            {
                int o = 16 * v;
                var t = Vector512.Load(hat + o) * vmgx + (Vector512.Load(ghat + o) - vmg);
                var res = t * vi + (store ? Vector512<float>.Zero : Vector512.Load(gxr + o));
                res.Store(gxr + o);
                if (copy != null) res.Store(copy + (long)r * cols + o);
                if (add != null) (Vector512.Load(add + (long)r * cols + o) + res).Store(add + (long)r * cols + o);
            }
        }
    }

    /// <summary>
    /// The normalisation's gradients over tensors, recorded (when a backward is itself differentiated: <c>createGraph</c>):
    /// the statistics rebuilt from <paramref name="x"/> (viewed as [n, c, l] for batch norm or [rows, cols] for layer norm,
    /// reduced over <paramref name="dims"/>) with differentiable ops, then the kernels' formulas; the weight and bias
    /// gradients sum over <paramref name="parameterDims"/>. With fixed (running) statistics the mean and invstd are those given.
    /// </summary>
    internal static (Tensor Gx, Tensor Gw, Tensor Gb) DifferentiableBackward(Tensor x, Tensor g, Tensor? weight, int[] dims, int[] parameterDims,
        double eps, Tensor? fixedMean, Tensor? fixedInvstd)
    {
        Tensor xhat, invstd;
        if (fixedMean is not null)
        {
            invstd = fixedInvstd!;
            xhat = (x - fixedMean) * invstd;
        }
        else
        {
            var xc = x - x.Mean(dims, keepDim: true);
            invstd = (xc * xc).Mean(dims, keepDim: true).Add(Tensor.ScalarLike(xc, eps)).Rsqrt();
            xhat = xc * invstd;
        }
        var gxhat = weight is null ? g : g * weight;
        var gx = fixedMean is not null
            ? gxhat * invstd
            : invstd * (gxhat - gxhat.Mean(dims, keepDim: true) - xhat * (gxhat * xhat).Mean(dims, keepDim: true));
        return (gx, (g * xhat).Sum(parameterDims), g.Sum(parameterDims));
    }
}
