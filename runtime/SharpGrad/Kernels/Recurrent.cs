using System.ComponentModel;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SharpGrad.Kernels;

/// <summary>The recurrence of RNN (tanh or ReLU), LSTM (gates i, f, g, o) and GRU (gates r, z, n), in PyTorch's gate order.</summary>
public enum RecurrentMode
{
    /// <summary>PyTorch: <c>nn.RNN(nonlinearity='tanh')</c>.</summary>
    RnnTanh,

    /// <summary>PyTorch: <c>nn.RNN(nonlinearity='relu')</c>.</summary>
    RnnRelu,

    /// <summary>PyTorch: <c>nn.LSTM</c>.</summary>
    Lstm,

    /// <summary>PyTorch: <c>nn.GRU</c>.</summary>
    Gru,
}

/// <summary>
/// One layer and direction of a recurrence over a whole sequence: <paramref name="Steps"/> steps of <paramref name="Batch"/>
/// rows with <paramref name="Hidden"/> units, run backwards in time when <paramref name="Reverse"/>.
/// </summary>
public readonly record struct RecurrenceShape(RecurrentMode Mode, int Steps, int Batch, int Hidden, bool Reverse)
{
    /// <summary>The gate count: RNN 1, LSTM 4, GRU 3.</summary>
    public int Gates => Mode switch { RecurrentMode.Lstm => 4, RecurrentMode.Gru => 3, _ => 1 };

    /// <summary>The width of the gates' pre-activations: gates · hidden.</summary>
    public int GateWidth => Gates * Hidden;

    /// <summary>The time index of the k-th step.</summary>
    public int TimeOf(int k) => Reverse ? Steps - 1 - k : k;
}

/// <summary>
/// What the forward of one recurrence keeps for its backward, and the backward's working arrays: LSTM the gates after their
/// nonlinearities (i, f, g, o), the cells and their tanh; GRU the gates r, z, n and W_hn·h + b_hn. Sized by
/// <see cref="Ensure"/>; reused across calls of the same shape (compiled programs keep one per layer and direction).
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class RecurrenceBuffers<T> where T : unmanaged
{
    /// <summary>[T, N, gates·H]: the gates after their nonlinearities (LSTM, GRU).</summary>
    public T[] Gates { get; private set; } = [];

    /// <summary>[T, N, H]: LSTM c_t; GRU W_hn·h + b_hn.</summary>
    public T[] Aux { get; private set; } = [];

    /// <summary>[T, N, H]: LSTM tanh(c_t).</summary>
    public T[] TanhC { get; private set; } = [];

    /// <summary>[N, gates·H]: h_{t−1}·W_hhᵀ + b_hh of the current step.</summary>
    public T[] Hw { get; private set; } = [];

    /// <summary>[H, gates·H]: W_hhᵀ, for the forward's per-step product.</summary>
    public T[] WeightT { get; private set; } = [];

    /// <summary>[4H·H]: LSTM's W_hh packed for the fused loops (Recurrent.Fused.cs): the forward's panels, then the backward's.</summary>
    public T[] Packed { get; private set; } = [];

    /// <summary>[I·4H]: LSTM's W_ihᵀ, then W_ih packed for the fused loop's tiles (<see cref="RecurrentKernel.TileProjection{T}"/>).</summary>
    internal T[] InputWeightT { get; private set; } = [];

    /// <summary>[I·4H]: LSTM's W_ih packed for the fused loop's tiles.</summary>
    internal T[] PackedInput { get; private set; } = [];

    /// <summary>Sizes <see cref="InputWeightT"/> and <see cref="PackedInput"/> for an input of <paramref name="inF"/> features.</summary>
    internal void EnsureProjection(int inF, int g)
    {
        InputWeightT = Fit(InputWeightT, inF * g);
        PackedInput = Fit(PackedInput, inF * g);
    }

    /// <summary>[T, N, gates·H]: GRU's gradient reaching W_hh·h + b_hh (the n gate's differs from the input's).</summary>
    public T[] GradHw { get; private set; } = [];

    /// <summary>[N, H]: the gradient of h_t (from the output at t and from step t + 1).</summary>
    public T[] Dh { get; private set; } = [];

    /// <summary>[N, H]: the gradient reaching h_{t−1} from step t.</summary>
    public T[] DhNext { get; private set; } = [];

    /// <summary>[N, H]: LSTM's gradient of c_t.</summary>
    public T[] Dc { get; private set; } = [];

    /// <summary>
    /// [N, H] of zeros: the output's gradient at every step but the last in a backward given only the last step's
    /// (<see cref="RecurrentKernel.Backward{T}(in RecurrenceShape, ReadOnlySpan{T}, ReadOnlySpan{T}, T[], T[], ReadOnlySpan{T}, T[], int, T[], Span{T}, Span{T}, T[], Span{T}, RecurrenceBuffers{T}, bool)"/>).
    /// </summary>
    internal T[] ZeroRows { get; private set; } = [];

    /// <summary>Sizes <see cref="ZeroRows"/> for <paramref name="s"/> (a plain array, never pooled: it stays zero).</summary>
    internal void EnsureZeroRows(in RecurrenceShape s)
    {
        int nh = s.Batch * s.Hidden;
        if (ZeroRows.Length != nh) ZeroRows = new T[nh];
    }

    /// <summary>[(blocks − 1), gates·H]: b_hh's gradient of each batch block after the first, when the backward is split over the batch.</summary>
    internal T[] BiasParts { get; set; } = [];

    /// <summary>Sizes the arrays for <paramref name="s"/> (keeps them when they fit already).</summary>
    public void Ensure(in RecurrenceShape s)
    {
        int steps = s.Steps, nh = s.Batch * s.Hidden, ng = s.Batch * s.GateWidth;
        bool gated = s.Mode is RecurrentMode.Lstm or RecurrentMode.Gru;
        Gates = Fit(Gates, gated ? steps * ng : 0);
        Aux = Fit(Aux, gated ? steps * nh : 0);
        TanhC = Fit(TanhC, s.Mode == RecurrentMode.Lstm ? steps * nh : 0);
        Hw = Fit(Hw, ng);
        WeightT = Fit(WeightT, s.GateWidth * s.Hidden);
        Packed = Fit(Packed, s.Mode == RecurrentMode.Lstm ? s.GateWidth * s.Hidden : 0);
        Dh = Fit(Dh, nh);
        DhNext = Fit(DhNext, nh);
        Dc = Fit(Dc, s.Mode == RecurrentMode.Lstm ? nh : 0);
    }

    /// <summary>Sizes the arrays only the backward uses (and the working arrays, which a pooled set gave back after the forward).</summary>
    internal void EnsureBackward(in RecurrenceShape s)
    {
        int nh = s.Batch * s.Hidden;
        GradHw = Fit(GradHw, s.Mode == RecurrentMode.Gru ? s.Steps * s.Batch * s.GateWidth : 0);
        Packed = Fit(Packed, s.Mode == RecurrentMode.Lstm ? s.GateWidth * s.Hidden : 0);
        Dh = Fit(Dh, nh);
        DhNext = Fit(DhNext, nh);
        Dc = Fit(Dc, s.Mode == RecurrentMode.Lstm ? nh : 0);
    }

    /// <summary>
    /// Eager mode's buffers, one set per call: the working arrays come from the caching allocator and go back after each
    /// pass (<see cref="ReturnWorking"/>); the kept arrays are the caller's (<see cref="Adopt"/>: tensors its autograd node
    /// saves, recycled when the node is released). Compiled programs keep one set per layer and reuse it.
    /// </summary>
    internal bool Pooled { get; init; }

    /// <summary>Uses the caller's arrays for what the forward keeps for the backward (each of the size <see cref="Ensure"/> gives it).</summary>
    internal void Adopt(T[] gates, T[] aux, T[] tanhC)
    {
        Gates = gates;
        Aux = aux;
        TanhC = tanhC;
    }

    /// <summary>A pooled set gives its working arrays back to the caching allocator (the kept ones stay).</summary>
    internal void ReturnWorking()
    {
        if (!Pooled) return;
        foreach (var a in (T[][])[Hw, WeightT, Packed, Dh, DhNext, Dc, GradHw, InputWeightT, PackedInput])
        {
            if (a.Length > 0) CachingAllocator.Return(a);
        }
        Hw = WeightT = Packed = Dh = DhNext = Dc = GradHw = InputWeightT = PackedInput = [];
    }

    private T[] Fit(T[] a, int size) => a.Length == size ? a : Pooled && size > 0 ? CachingAllocator.Rent<T>(size, clear: false) : new T[size];
}

/// <summary>
/// The recurrence of one layer and direction over a whole sequence, on flat row-major arrays: per step one GEMM h·W_hhᵀ
/// and the gate arithmetic in one pass; backwards the time loop in reverse (per step the gate derivatives and one GEMM for
/// the gradient of h), then W_hh's gradient for all steps in one GEMM over T·N rows. Eager <c>LSTM</c>/<c>GRU</c>/<c>RNN</c>
/// (one autograd node per layer and direction) and compiled programs (<see cref="RecurrentStack"/>) call the same code.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static partial class RecurrentKernel
{
    /// <summary>
    /// Runs the recurrence over <paramref name="xw"/> = W_ih·x + b_ih [T, N, gates·H] from <paramref name="h0"/> [N, H] (and
    /// <paramref name="c0"/> for LSTM; empty: zeros), writing h_t into <paramref name="output"/> [T, N, H] in time order and,
    /// for LSTM, c_T into <paramref name="cLast"/> (when not empty). <paramref name="w"/> is W_hh [gates·H, H] at
    /// <paramref name="wOffset"/>, <paramref name="bias"/> b_hh (empty: none).
    /// </summary>
    /// <remarks>
    /// The batch rows are independent through the whole recurrence, so with several threads the rows are split into
    /// <see cref="BatchParts"/> blocks and each thread runs its block through all T steps (its own step GEMMs, serial): one
    /// parallel loop per sequence instead of one per step, and no barrier between the steps.
    /// </remarks>
    public static void Forward<T>(in RecurrenceShape s, ReadOnlySpan<T> xw, T[] h0, ReadOnlySpan<T> c0, T[] w, int wOffset, ReadOnlySpan<T> bias,
        T[] output, Span<T> cLast, RecurrenceBuffers<T> buffers) where T : unmanaged, IFloatingPointIeee754<T>
        => ForwardWithProjection(s, xw, default, h0, c0, w, wOffset, bias, output, cLast, buffers);

    /// <summary>
    /// <see cref="Forward{T}"/> with the input projection x·W_ihᵀ computed in the fused LSTM loop's tiles (<paramref name="projection"/>
    /// not empty: the layer's time-major input and W_ih; <paramref name="xw"/> then unused), only where
    /// <see cref="CanProjectInTiles"/> says the elements are the projection GEMM's.
    /// </summary>
    internal static unsafe void ForwardWithProjection<T>(in RecurrenceShape s, ReadOnlySpan<T> xw, TileProjection<T> projection, T[] h0, ReadOnlySpan<T> c0, T[] w, int wOffset,
        ReadOnlySpan<T> bias, T[] output, Span<T> cLast, RecurrenceBuffers<T> buffers) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(buffers);
        buffers.Ensure(s);
        int n = s.Batch, h = s.Hidden, g = s.GateWidth, nh = n * h;
        bool projecting = projection.X is not null;
        bool mapped = !projecting && projection.Rows is not null;
        if ((projecting ? projection.X!.Length < s.Steps * n * projection.InF || projection.W!.Length < g * projection.InF
                : mapped ? projection.Rows!.Length < s.Steps * n : xw.Length < s.Steps * n * g)
            || output.Length < s.Steps * nh || h0.Length < nh || (!c0.IsEmpty && c0.Length < nh) || (!bias.IsEmpty && bias.Length < g))
            throw new ArgumentException($"Recurrence forward: the arrays are too small for {s.Steps} steps of {n} rows of hidden size {h}.");
        var aux = buffers.Aux;
        // W_hhᵀ [H, gates·H] once for all steps: each step's h·W_hhᵀ is then a plain product whose kernel broadcasts h and
        // streams rows of W_hhᵀ (the dot-product form, with one horizontal sum per output, is slower at these sizes).
        Transpose(w, wOffset, g, h, buffers.WeightT);
        int fused = FusedLstmWidth<T>(s);
        if ((projecting || mapped) && fused == 0) throw new ArgumentException("The input projection in the tiles needs the fused LSTM loop (CanProjectInTiles).");
        if (fused > 0) PackLstmForward(fused, h, buffers);
        if (projecting) PackLstmProjection(fused, projection, g, buffers);
        bool zeroH0 = IsZero<T>(h0.AsSpan(0, nh));
        int parts = BatchParts(s);
        if (parts <= 1)
        {
            ForwardRows(s, fused, 0, n, xw, projection, h0, zeroH0, c0, bias, output, buffers);
        }
        else
        {
            fixed (T* px = xw, pc0 = c0, pb = bias)
            {
                var body = new ForwardPart<T>
                {
                    Shape = s, Fused = fused, Parts = parts, Xw = px, XwLength = xw.Length, H0 = h0, ZeroH0 = zeroH0, C0 = pc0, C0Length = c0.Length,
                    Bias = pb, BiasLength = bias.Length, Output = output, Buffers = buffers, Projection = projection,
                };
                Parallelism.For(parts, body);
            }
        }
        if (s.Mode == RecurrentMode.Lstm && !cLast.IsEmpty && s.Steps > 0) aux.AsSpan(s.TimeOf(s.Steps - 1) * nh, nh).CopyTo(cLast);
        buffers.ReturnWorking();
    }

    /// <summary>
    /// Into how many blocks of batch rows a recurrence is split (1: the calling thread runs it alone): one per thread when the
    /// sequence's step GEMMs are worth a second core (≥ 4 MFLOP in all per block, like a GEMM's own split) and every block
    /// keeps at least 4 rows.
    /// </summary>
    internal static int BatchParts(in RecurrenceShape s)
    {
        if (t_forcedBatchParts > 0) return Math.Max(1, Math.Min(t_forcedBatchParts, s.Batch));
        int threads = Parallelism.MaxThreads;
        if (threads <= 1 || WorkerPool.InsideItem || s.Batch < 8) return 1;
        double flops = 2.0 * s.Steps * s.Batch * s.Hidden * s.GateWidth;
        return Math.Max(1, Math.Min(Math.Min(threads, s.Batch / 4), (int)Math.Min(int.MaxValue, flops / 4e6)));
    }

    /// <summary>Tests: the number of batch blocks for the kernels called on this thread (0: <see cref="BatchParts"/> decides).</summary>
    [ThreadStatic] internal static int t_forcedBatchParts;

    /// <summary>The batch rows [<paramref name="part"/>·N/parts, (part + 1)·N/parts) of block <paramref name="part"/>.</summary>
    private static (int Start, int Count) PartRows(int n, int parts, int part) => Parallelism.PartRange(n, parts, part);

    /// <summary>One block of batch rows of <see cref="Forward"/> on a worker (the spans as pinned pointers: the loop returns before they unpin).</summary>
    private unsafe struct ForwardPart<T> : IParallelBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public RecurrenceShape Shape;
        public int Fused, Parts, XwLength, C0Length, BiasLength;
        public T* Xw, C0, Bias;
        public T[] H0, Output;
        public bool ZeroH0;
        public RecurrenceBuffers<T> Buffers;
        public TileProjection<T> Projection;

        public readonly void Invoke(int index)
        {
            var (r0, nr) = PartRows(Shape.Batch, Parts, index);
            ForwardRows(Shape, Fused, r0, nr, new ReadOnlySpan<T>(Xw, XwLength), Projection, H0, ZeroH0, new ReadOnlySpan<T>(C0, C0Length),
                new ReadOnlySpan<T>(Bias, BiasLength), Output, Buffers);
        }
    }

    /// <summary>
    /// The forward time loop for batch rows [<paramref name="r0"/>, r0 + <paramref name="nr"/>) (W_hhᵀ already in the buffers;
    /// <paramref name="fused"/> &gt; 0: the fused LSTM loop at that width, W_hh packed).
    /// </summary>
    private static void ForwardRows<T>(in RecurrenceShape s, int fused, int r0, int nr, ReadOnlySpan<T> xw, TileProjection<T> projection, T[] h0, bool zeroH0,
        ReadOnlySpan<T> c0, ReadOnlySpan<T> bias, T[] output, RecurrenceBuffers<T> buffers) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (nr <= 0) return;
        if (fused > 0)
        {
            LstmFusedForward(fused, s, r0, nr, xw, projection, h0, zeroH0, c0, bias, output, buffers);
            return;
        }
        int n = s.Batch, h = s.Hidden, g = s.GateWidth, nh = n * h, ph = nr * h, pg = nr * g, rh = r0 * h, rg = r0 * g;
        var act = buffers.Gates;
        var aux = buffers.Aux;
        var tanhC = buffers.TanhC;
        var hw = buffers.Hw;
        var wT = buffers.WeightT;
        for (int k = 0; k < s.Steps; k++)
        {
            int t = s.TimeOf(k), prev = s.TimeOf(k - 1);
            // hw = h_{t-1}·W_hhᵀ + b_hh (the first step from h_0 = 0, the common case: hw = 0 without the product)
            var hPrev = k == 0 ? h0 : output;
            int hPrevOffset = (k == 0 ? 0 : prev * nh) + rh;
            if (k == 0 && zeroH0) hw.AsSpan(rg, pg).Clear();
            else Gemm<T>(false, false, nr, g, h, hPrev, hPrevOffset, h, wT, 0, g, hw, rg, g, beta: false);
            if (!bias.IsEmpty && s.Mode != RecurrentMode.Lstm)
            {
                for (int r = 0; r < nr; r++) TensorPrimitives.Add(hw.AsSpan(rg + r * g, g), bias[..g], hw.AsSpan(rg + r * g, g));
            }
            var x = xw.Slice((t * n + r0) * g, pg);
            var hOut = output.AsSpan(t * nh + rh, ph);
            switch (s.Mode)
            {
                case RecurrentMode.Lstm:
                    // The gates with b_hh, the cell and the output in one pass (Recurrent.Lstm.cs).
                    LstmStepForward(nr, h, x, hw.AsSpan(rg, pg), bias, act.AsSpan((t * n + r0) * g, pg),
                        k == 0 ? (c0.IsEmpty ? default : c0.Slice(rh, ph)) : aux.AsSpan(prev * nh + rh, ph),
                        aux.AsSpan(t * nh + rh, ph), tanhC.AsSpan(t * nh + rh, ph), hOut);
                    break;
                case RecurrentMode.Gru:
                {
                    var a = act.AsSpan((t * n + r0) * g, pg);
                    var hnOut = aux.AsSpan(t * nh + rh, ph);
                    var hp = hPrev.AsSpan(hPrevOffset, ph);
                    for (int r = 0; r < nr; r++)
                    {
                        var row = a.Slice(r * g, g);
                        var xr = x.Slice(r * g, g);
                        var hr = hw.AsSpan(rg + r * g, g);
                        TensorPrimitives.Add(xr[..(2 * h)], hr[..(2 * h)], row[..(2 * h)]);
                        TensorPrimitives.Sigmoid(row[..(2 * h)], row[..(2 * h)]);        // r, z
                        hr.Slice(2 * h, h).CopyTo(hnOut.Slice(r * h, h));                 // W_hn·h + b_hn
                        var nn = row.Slice(2 * h, h);
                        TensorPrimitives.FusedMultiplyAdd(row[..h], hr.Slice(2 * h, h), xr.Slice(2 * h, h), nn); // x_n + r·hn
                        TensorPrimitives.Tanh(nn, nn);
                        var ho = hOut.Slice(r * h, h);
                        TensorPrimitives.Subtract(hp.Slice(r * h, h), nn, ho);            // h' = n + z·(h − n)
                        TensorPrimitives.FusedMultiplyAdd(row.Slice(h, h), ho, nn, ho);
                    }
                    break;
                }
                default:
                    TensorPrimitives.Add(x, hw.AsSpan(rg, pg), hOut);
                    if (s.Mode == RecurrentMode.RnnRelu) TensorPrimitives.Max(hOut, T.Zero, hOut);
                    else TensorPrimitives.Tanh(hOut, hOut);
                    break;
            }
        }
    }

    /// <summary>
    /// The backward of <see cref="Forward"/> (the same <paramref name="buffers"/>, which hold what it kept). From the gradient
    /// of the outputs <paramref name="gOutput"/> [T, N, H] (and of c_T, <paramref name="gCLast"/>, empty: zero), writes the
    /// gradient of xw into <paramref name="dXw"/> [T, N, gates·H] and of h_0/c_0 into <paramref name="dH0"/>/<paramref name="dC0"/>
    /// (when not empty), and adds W_hh's and b_hh's gradients into <paramref name="dW"/>/<paramref name="dB"/> (when not null/empty).
    /// </summary>
    /// <remarks>Split over the batch rows like <see cref="Forward"/>; W_hh's gradient is one GEMM over all rows after the time loops.</remarks>
    public static void Backward<T>(in RecurrenceShape s, ReadOnlySpan<T> gOutput, ReadOnlySpan<T> gCLast, T[] output, T[] h0, ReadOnlySpan<T> c0,
        T[] w, int wOffset, T[] dXw, Span<T> dH0, Span<T> dC0, T[]? dW, Span<T> dB, RecurrenceBuffers<T> buffers)
        where T : unmanaged, IFloatingPointIeee754<T>
        => Backward(s, gOutput, gCLast, output, h0, c0, w, wOffset, dXw, dH0, dC0, dW, dB, buffers, lastStepOnly: false);

    /// <summary>
    /// <see cref="Backward{T}(in RecurrenceShape, ReadOnlySpan{T}, ReadOnlySpan{T}, T[], T[], ReadOnlySpan{T}, T[], int, T[], Span{T}, Span{T}, T[], Span{T}, RecurrenceBuffers{T})"/>;
    /// with <paramref name="lastStepOnly"/>, <paramref name="gOutput"/> is [N, H]: the gradient of the output at the last step
    /// the loop runs (k = T − 1, time <see cref="RecurrenceShape.TimeOf"/>(T − 1)), every other step's being zero (a program that
    /// reads only h_T: no [T, N, H] array of zeros written and read). Each step then adds the same +0 rows as it would read
    /// from that array, so every element is the same.
    /// </summary>
    internal static unsafe void Backward<T>(in RecurrenceShape s, ReadOnlySpan<T> gOutput, ReadOnlySpan<T> gCLast, T[] output, T[] h0, ReadOnlySpan<T> c0,
        T[] w, int wOffset, T[] dXw, Span<T> dH0, Span<T> dC0, T[]? dW, Span<T> dB, RecurrenceBuffers<T> buffers, bool lastStepOnly)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(buffers);
        buffers.EnsureBackward(s);
        int n = s.Batch, h = s.Hidden, g = s.GateWidth, nh = n * h, steps = s.Steps;
        if (lastStepOnly) buffers.EnsureZeroRows(s);
        if (gOutput.Length < (lastStepOnly ? nh : steps * nh) || dXw.Length < steps * n * g || (!gCLast.IsEmpty && gCLast.Length < nh) || (!c0.IsEmpty && c0.Length < nh)
            || (!dB.IsEmpty && dB.Length < g))
            throw new ArgumentException($"Recurrence backward: the arrays are too small for {steps} steps of {n} rows of hidden size {h}.");
        var dHw = s.Mode == RecurrentMode.Gru ? buffers.GradHw : dXw;
        var dhNext = buffers.DhNext;
        var dc = buffers.Dc;
        bool wantDh0 = !dH0.IsEmpty;
        int fused = FusedLstmWidth<T>(s);
        if (fused > 0) PackLstmBackward(fused, w, wOffset, h, buffers);
        int parts = BatchParts(s);
        if (parts <= 1)
        {
            BackwardRows(s, fused, 0, n, gOutput, lastStepOnly, gCLast, output, h0, c0, w, wOffset, dXw, wantDh0, dB, buffers);
        }
        else
        {
            // Each block sums b_hh's gradient of its rows into its own row of BiasParts (block 0 into dB); added up after the loop.
            var biasParts = buffers.BiasParts;
            if (!dB.IsEmpty)
            {
                if (biasParts.Length < (parts - 1) * g) buffers.BiasParts = biasParts = new T[(parts - 1) * g];
                biasParts.AsSpan(0, (parts - 1) * g).Clear();
            }
            fixed (T* pgo = gOutput, pgc = gCLast, pc0 = c0, pdb = dB)
            {
                var body = new BackwardPart<T>
                {
                    Shape = s, Fused = fused, Parts = parts, GOut = pgo, GOutLength = gOutput.Length, LastStepOnly = lastStepOnly, GC = pgc, GCLength = gCLast.Length, C0 = pc0, C0Length = c0.Length,
                    DB = pdb, DBLength = dB.Length, BiasParts = biasParts, Output = output, H0 = h0, W = w, WOffset = wOffset, DXw = dXw, WantDh0 = wantDh0,
                    Buffers = buffers,
                };
                Parallelism.For(parts, body);
            }
            if (!dB.IsEmpty)
            {
                for (int p = 1; p < parts; p++) TensorPrimitives.Add(dB[..g], biasParts.AsSpan((p - 1) * g, g), dB[..g]);
            }
        }

        if (wantDh0) dhNext.AsSpan(0, nh).CopyTo(dH0);
        if (!dC0.IsEmpty && s.Mode == RecurrentMode.Lstm) dc.AsSpan(0, nh).CopyTo(dC0);
        if (dW is float[] dWf) HiddenWeightGrad(s, (float[])(object)output, (float[])(object)h0, (float[])(object)dHw, dWf, 0, g, allowParallel: true);
        else if (dW is not null && steps > 0)
        {
            // dW_hh += Σ_t dHw_tᵀ·h_{t-1}, as HiddenWeightGrad (float) reads it.
            int dRow = s.Reverse ? 0 : n, hRow = s.Reverse ? n : 0;
            if (steps > 1) Gemm<T>(true, false, g, h, (steps - 1) * n, dHw, dRow * g, g, output, hRow * h, h, dW, 0, h, beta: true);
            if (!IsZero<T>(h0.AsSpan(0, nh))) Gemm<T>(true, false, g, h, n, dHw, s.TimeOf(0) * n * g, g, h0, 0, h, dW, 0, h, beta: true);
        }
        buffers.ReturnWorking();
    }

    /// <summary>
    /// W_hh's float gradient, rows [<paramref name="j0"/>, j0 + <paramref name="jw"/>) of <paramref name="dW"/> [g, h]:
    /// dW_hh += Σ_t dHw_tᵀ·h_{t−1} (<paramref name="dHw"/> [T, N, g], the gradient reaching h·W_hhᵀ: LSTM's and RNN's dXw,
    /// GRU's own), with h_{t−1} read in place: the steps after the first take h_{t−1} from the outputs, which hold it one
    /// time block away (forwards dHw's rows 1.. against the outputs' rows 0.., in reverse dHw's rows 0..T−2 against the
    /// outputs' 1..), so one GEMM over their (T−1)·N rows needs no copy; the first step's N rows (time T−1 in reverse) pair
    /// with h_0 and add nothing when h_0 = 0 (then left out).
    /// </summary>
    internal static void HiddenWeightGrad(in RecurrenceShape s, float[] output, float[] h0, float[] dHw, float[] dW, int j0, int jw, bool allowParallel,
        bool overwrite = false)
    {
        if (s.Steps <= 0)
        {
            if (overwrite && jw > 0) dW.AsSpan(j0 * s.Hidden, jw * s.Hidden).Clear();
            return;
        }
        int n = s.Batch, h = s.Hidden, g = s.GateWidth;
        int dRow = s.Reverse ? 0 : n, hRow = s.Reverse ? n : 0;
        bool fromH0 = !IsZero<float>(h0.AsSpan(0, n * h));
        WeightGradTransposed(output, hRow * h, dHw, dRow * g, (s.Steps - 1) * n, fromH0 ? h0 : null, s.TimeOf(0) * n * g, n, h, g, dW, j0, jw, allowParallel, overwrite);
    }

    /// <summary>
    /// Rows [<paramref name="j0"/>, j0 + <paramref name="jw"/>) of a recurrent weight's float gradient (W_hh's, W_ih's),
    /// dW [g, h] += dGᵀ·H over <paramref name="rows"/> rows (+ the <paramref name="n0"/> rows of dG at <paramref name="dOff0"/>
    /// against <paramref name="h0"/>, when not null), computed as dWᵀ = Hᵀ·dG [h, jw] (dG's columns j0..) and added
    /// transposed: the product with the 512-wide operand as B takes the GEMM's packed path on AVX2 and ran faster
    /// (lstm-gemm-dwhh (512, 128, 1120) 2.44 ms against -dwhh-t (128, 512, 1120) 1.73 ms, docs/performance.md "LSTM step,
    /// session 17"). Each element is the same FMA chain over the rows in order whatever the column range (a column split
    /// over the threads, <see cref="RecurrentStack"/>'s backward products, gives the same sums).
    /// </summary>
    internal static void WeightGradTransposed(float[] hs, int hOff, float[] dG, int dOff, int rows, float[]? h0, int dOff0, int n0, int h, int g, float[] dW,
        int j0, int jw, bool allowParallel, bool overwrite = false)
    {
        if (jw <= 0) return;
        if (j0 < 0 || j0 + jw > g) throw new ArgumentOutOfRangeException(nameof(jw), $"weight gradient columns [{j0}, {j0 + jw}) of {g}.");
        if (rows <= 0 && h0 is null)
        {
            // No row: the gradient is zero (written when it is overwritten, else nothing to add).
            if (overwrite) dW.AsSpan(j0 * h, jw * h).Clear();
            return;
        }
        float[] wT = Scratch<float>.Pool.Rent(h * jw);
        try
        {
            if (rows > 0) Kernels.Gemm.Run(true, false, h, jw, rows, 1f, hs, hOff, h, dG, dOff + j0, g, 0f, wT, 0, jw, allowParallel);
            if (h0 is not null) Kernels.Gemm.Run(true, false, h, jw, n0, 1f, h0, 0, h, dG, dOff0 + j0, g, rows > 0 ? 1f : 0f, wT, 0, jw, allowParallel);
            Kernels.Gemm.StoreTransposed(wT, h, jw, dW, j0 * h, accumulate: !overwrite);
        }
        finally
        {
            Scratch<float>.Pool.Return(wT);
        }
    }

    /// <summary>
    /// Whether <see cref="WeightGradsSharingDG"/> gives <see cref="HiddenWeightGrad"/>'s and <see cref="WeightGradTransposed"/>'s
    /// elements for W_hh's and W_ih's gradients, columns of width <paramref name="jw"/>: both products (Hᵀ·dG over (T − 1)·N
    /// rows, xᵀ·dG over T·N) on <c>Gemm.Run</c>'s packed path, whose k-blocks and tiles <see cref="Kernels.Gemm.PackedOnB"/> repeats.
    /// </summary>
    internal static bool CanShareDG(in RecurrenceShape s, int inF, int jw)
        => s.Steps > 1 && inF > 0 && jw > 0
            && Kernels.Gemm.PathOf<float>(true, false, s.Hidden, jw, (s.Steps - 1) * s.Batch) == Kernels.Gemm.PackedPath
            && Kernels.Gemm.PathOf<float>(true, false, inF, jw, s.Steps * s.Batch) == Kernels.Gemm.PackedPath;

    /// <summary>
    /// Rows [<paramref name="j0"/>, j0 + <paramref name="jw"/>) of W_hh's and W_ih's float gradients on the calling thread,
    /// as <see cref="HiddenWeightGrad"/> and <see cref="WeightGradTransposed"/> over x compute them (dWᵀ = Hᵀ·dG and xᵀ·dG,
    /// added transposed), with each 256-row k-block of dG's columns packed once for both products: before, each product
    /// packed all of the 2.3 MB dG of lstm_train_step_b32 itself (docs/performance.md, "LSTM step, session 20, round 2").
    /// The two products' k-blocks are one batch of rows apart (Hᵀ·dG starts at dG's second step forwards), so a chunk is
    /// packed over both blocks' rows (256 + N) and each reads its rows from it (<see cref="Kernels.Gemm.PackedOnB"/>: the
    /// packed path's k-blocks, row blocks and tiles; the first k-block overwrites, the next ones add, as there). Callers
    /// check <see cref="CanShareDG"/>, so every element is the same FMA chain as the separate products'.
    /// <paramref name="dG"/> [T·N, g] is the gradient reaching both pre-activation products (LSTM's, RNN's dXw).
    /// </summary>
    internal static void WeightGradsSharingDG(in RecurrenceShape s, float[] output, float[] h0, float[] x, int inF, float[] dG, float[] dWhh, float[] dWih,
        int j0, int jw, bool overwriteWhh = false, bool overwriteWih = false)
    {
        int n = s.Batch, h = s.Hidden, g = s.GateWidth, rows = s.Steps * n, hRows = rows - n, kc = Kernels.Gemm.PackedKC;
        if (j0 < 0 || j0 + jw > g) throw new ArgumentOutOfRangeException(nameof(jw), $"weight gradient columns [{j0}, {j0 + jw}) of {g}.");
        int dRow = s.Reverse ? 0 : n, hRow = s.Reverse ? n : 0;
        bool fromH0 = !IsZero<float>(h0.AsSpan(0, n * h));
        float[] packed = Scratch<float>.Pool.Rent(Kernels.Gemm.PackedBLength(Math.Min(rows, kc + n), jw));
        float[] hT = Scratch<float>.Pool.Rent(h * jw), xT = Scratch<float>.Pool.Rent(inF * jw);
        try
        {
            for (int pc = 0; pc < rows; pc += kc)
            {
                // dG's rows [pc, end): the k-block of xᵀ·dG and, dRow rows further, that of Hᵀ·dG (none past its (T − 1)·N rows).
                int kx = Math.Min(kc, rows - pc), kh = Math.Min(kc, hRows - pc);
                int end = Math.Max(pc + kx, kh > 0 ? dRow + pc + kh : 0);
                int pBase = Kernels.Gemm.PackRowsOfB(dG, pc * g + j0, g, end - pc, jw, packed);
                Kernels.Gemm.PackedOnB(true, inF, jw, kx, x, pc * inF, inF, packed, pBase, end - pc, 0, xT, 0, jw, accumulate: pc > 0);
                if (kh > 0) Kernels.Gemm.PackedOnB(true, h, jw, kh, output, (hRow + pc) * h, h, packed, pBase, end - pc, dRow, hT, 0, jw, accumulate: pc > 0);
            }
            if (fromH0) Kernels.Gemm.Run(true, false, h, jw, n, 1f, h0, 0, h, dG, s.TimeOf(0) * n * g + j0, g, 1f, hT, 0, jw, allowParallel: false);
            Kernels.Gemm.StoreTransposed(hT, h, jw, dWhh, j0 * h, accumulate: !overwriteWhh);
            Kernels.Gemm.StoreTransposed(xT, inF, jw, dWih, j0 * inF, accumulate: !overwriteWih);
        }
        finally
        {
            Scratch<float>.Pool.Return(xT);
            Scratch<float>.Pool.Return(hT);
            Scratch<float>.Pool.Return(packed);
        }
    }

    /// <summary>One block of batch rows of the backward on a worker (the spans as pinned pointers: the loop returns before they unpin).</summary>
    private unsafe struct BackwardPart<T> : IParallelBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public RecurrenceShape Shape;
        public int Fused, Parts, GOutLength, GCLength, C0Length, DBLength, WOffset;
        public T* GOut, GC, C0, DB;
        public T[] BiasParts, Output, H0, W, DXw;
        public bool WantDh0, LastStepOnly;
        public RecurrenceBuffers<T> Buffers;

        public readonly void Invoke(int index)
        {
            var (r0, nr) = PartRows(Shape.Batch, Parts, index);
            int g = Shape.GateWidth;
            var dB = DBLength == 0 ? default : index == 0 ? new Span<T>(DB, g) : BiasParts.AsSpan((index - 1) * g, g);
            BackwardRows(Shape, Fused, r0, nr, new ReadOnlySpan<T>(GOut, GOutLength), LastStepOnly, new ReadOnlySpan<T>(GC, GCLength), Output, H0,
                new ReadOnlySpan<T>(C0, C0Length), W, WOffset, DXw, WantDh0, dB, Buffers);
        }
    }

    /// <summary>
    /// The backward time loop for batch rows [<paramref name="r0"/>, r0 + <paramref name="nr"/>); b_hh's gradient of those rows is
    /// added into <paramref name="dB"/> (<paramref name="fused"/> &gt; 0: the fused LSTM loop at that width, W_hh packed;
    /// <paramref name="lastStepOnly"/>: <paramref name="gOutput"/> is the last step's [N, H], the others' zero).
    /// </summary>
    private static void BackwardRows<T>(in RecurrenceShape s, int fused, int r0, int nr, ReadOnlySpan<T> gOutput, bool lastStepOnly, ReadOnlySpan<T> gCLast, T[] output, T[] h0,
        ReadOnlySpan<T> c0, T[] w, int wOffset, T[] dXw, bool wantDh0, Span<T> dB, RecurrenceBuffers<T> buffers)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (nr <= 0) return;
        if (fused > 0)
        {
            LstmFusedBackward(fused, s, r0, nr, gOutput, lastStepOnly, gCLast, c0, w, wOffset, dXw, wantDh0, dB, buffers);
            return;
        }
        int n = s.Batch, h = s.Hidden, g = s.GateWidth, nh = n * h, steps = s.Steps, ph = nr * h, pg = nr * g, rh = r0 * h;
        var act = buffers.Gates;
        var aux = buffers.Aux;
        var tanhC = buffers.TanhC;
        var dHw = s.Mode == RecurrentMode.Gru ? buffers.GradHw : dXw;
        var dh = buffers.Dh.AsSpan(rh, ph);
        var dhNextArray = buffers.DhNext;
        var dhNext = dhNextArray.AsSpan(rh, ph);
        dhNext.Clear();
        var dc = s.Mode == RecurrentMode.Lstm ? buffers.Dc.AsSpan(rh, ph) : default;
        if (s.Mode == RecurrentMode.Lstm)
        {
            if (gCLast.IsEmpty) dc.Clear();
            else gCLast.Slice(rh, ph).CopyTo(dc);
        }
        var one = T.One;
        for (int k = steps - 1; k >= 0; k--)
        {
            int t = s.TimeOf(k), prev = s.TimeOf(k - 1);
            int rowG = (t * n + r0) * g;
            var gOut = !lastStepOnly ? gOutput.Slice(t * nh + rh, ph) : k == steps - 1 ? gOutput.Slice(rh, ph) : buffers.ZeroRows.AsSpan(rh, ph);
            if (s.Mode != RecurrentMode.Lstm) TensorPrimitives.Add(gOut, dhNext, dh);
            var dxt = dXw.AsSpan(rowG, pg);
            switch (s.Mode)
            {
                case RecurrentMode.Lstm:
                    // dh = the output's gradient + dhNext, read in the same pass (Recurrent.Lstm.cs).
                    LstmStepBackward(nr, h, gOut, dhNext, act.AsSpan(rowG, pg), tanhC.AsSpan(t * nh + rh, ph),
                        k == 0 ? (c0.IsEmpty ? default : c0.Slice(rh, ph)) : aux.AsSpan(prev * nh + rh, ph), dc, dxt);
                    break;
                case RecurrentMode.Gru:
                {
                    var a = act.AsSpan(rowG, pg);
                    var hn = aux.AsSpan(t * nh + rh, ph);
                    var hp = k == 0 ? h0.AsSpan(rh, ph) : output.AsSpan(prev * nh + rh, ph);
                    var dht = dHw.AsSpan(rowG, pg);
                    for (int r = 0; r < nr; r++)
                    {
                        int ro = r * g, so = r * h;
                        for (int j = 0; j < h; j++)
                        {
                            T rr = a[ro + j], z = a[ro + h + j], nn = a[ro + 2 * h + j], dhj = dh[so + j];
                            T dn = dhj * (one - z) * (one - nn * nn);
                            T dz = dhj * (hp[so + j] - nn) * z * (one - z);
                            T dr = dn * hn[so + j] * rr * (one - rr);
                            dxt[ro + j] = dr;
                            dxt[ro + h + j] = dz;
                            dxt[ro + 2 * h + j] = dn;
                            dht[ro + j] = dr;
                            dht[ro + h + j] = dz;
                            dht[ro + 2 * h + j] = dn * rr;
                            dhNext[so + j] = dhj * z;                               // h' = n + z·(h − n): ∂h'/∂h = z
                        }
                    }
                    break;
                }
                default:
                {
                    var ho = output.AsSpan(t * nh + rh, ph);
                    for (int e = 0; e < ph; e++)
                    {
                        T y = ho[e];
                        dxt[e] = s.Mode == RecurrentMode.RnnRelu ? (y > T.Zero ? dh[e] : T.Zero) : dh[e] * (one - y * y);
                    }
                    break;
                }
            }
            // b_hh's gradient: the step's rows summed while they are in the cache (not in a pass over all T·N rows at the end)
            if (!dB.IsEmpty) ReduceKernel.AddColumnSums(dHw, rowG, g, nr, dB[..g]);
            // dh_{t-1} = dHw_t · W_hh (GRU: += onto the direct part z·dh_t); after the first step only when h_0's gradient is asked for
            if (k > 0 || wantDh0)
                Gemm<T>(false, false, nr, h, g, dHw, rowG, g, w, wOffset, h, dhNextArray, rh, h, beta: s.Mode == RecurrentMode.Gru);
        }
    }

    /// <summary>Whether every element is +0 or −0 (a NaN or an infinity is not: the product with it is taken).</summary>
    private static bool IsZero<T>(ReadOnlySpan<T> v) where T : unmanaged, IFloatingPointIeee754<T>
    {
        foreach (var x in v)
        {
            if (!T.IsZero(x)) return false;
        }
        return true;
    }

    /// <summary>
    /// <paramref name="dst"/>[p·rows + q] = <paramref name="src"/>[offset + q·cols + p] ([rows, cols] → [cols, rows]), in 16 × 16
    /// tiles without bounds checks (the checked scalar loop took ~3 % of the LSTM step).
    /// </summary>
    internal static void Transpose<T>(T[] src, int offset, int rows, int cols, T[] dst) where T : unmanaged
        => TransposeStrided(src, offset, cols, rows, cols, dst);

    /// <summary>
    /// <see cref="Transpose{T}"/> of rows <paramref name="ld"/> elements apart (≥ cols): a head's keys
    /// inside a packed projection (<see cref="AttentionKernel"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void TransposeStrided<T>(T[] src, int offset, int ld, int rows, int cols, T[] dst) where T : unmanaged
    {
        if (offset < 0 || ld < cols || (rows > 0 && (long)offset + (long)(rows - 1) * ld + cols > src.Length) || (long)rows * cols > dst.Length)
            throw new ArgumentException($"Transpose of [{rows}, {cols}] (rows {ld} apart) at {offset}: the arrays hold {src.Length} and {dst.Length} elements.");
        ref T s0 = ref MemoryMarshal.GetArrayDataReference(src);
        ref T d0 = ref MemoryMarshal.GetArrayDataReference(dst);
        s0 = ref Unsafe.Add(ref s0, offset);
        if (typeof(T) == typeof(float) && Avx.IsSupported && rows >= 8 && cols >= 8)
        {
            TransposeAvx(ref Unsafe.As<T, float>(ref s0), ld, rows, cols, ref Unsafe.As<T, float>(ref d0));
            return;
        }
        const int Tile = 16;
        for (int q0 = 0; q0 < rows; q0 += Tile)
        {
            int q1 = Math.Min(q0 + Tile, rows);
            for (int p0 = 0; p0 < cols; p0 += Tile)
            {
                int p1 = Math.Min(p0 + Tile, cols);
                for (int q = q0; q < q1; q++)
                {
                    ref T sq = ref Unsafe.Add(ref s0, (nint)q * ld);
                    for (int p = p0; p < p1; p++)
                        Unsafe.Add(ref d0, (nint)p * rows + q) = Unsafe.Add(ref sq, p);
                }
            }
        }
    }

    /// <summary>
    /// Float <see cref="Transpose{T}"/> in 8 × 8 blocks transposed in AVX registers (unpack, shuffle, lane permute: 24
    /// instructions per 64 elements); the columns and rows past the last full block element by element. W_hhᵀ of
    /// lstm_train_step_b32 (512 × 128) took ~39 µs per forward in the scalar tiles. AggressiveOptimization: the GEMM's
    /// transposed path (Gemm.Direct.cs) calls it on every x·Wᵀ of a training batch, and as tier-0 code (the first ~100 ms
    /// of a process) it took 5× as long (`count transpose-x1`: 16 µs against 3 µs).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void TransposeAvx(ref float s0, nint ld, int rows, int cols, ref float d0)
    {
        int r8 = rows & ~7, c8 = cols & ~7;
        nint ldd = rows;
        // Down the source rows inside: the 8 destination rows then fill sequentially. (Across the columns inside, each block
        // wrote half lines of 8 destination rows 4·rows bytes apart, which at rows = 512 fall into two L1 sets: no faster than scalar.)
        for (int p0 = 0; p0 < c8; p0 += 8)
        {
            for (int q0 = 0; q0 < r8; q0 += 8)
            {
                SharpGrad.Kernels.Gemm.Transpose8x8(ref Unsafe.Add(ref s0, (nint)q0 * ld + p0), (nuint)ld, out var c0, out var c1, out var c2, out var c3, out var c4, out var c5, out var c6, out var c7);
                ref float dp = ref Unsafe.Add(ref d0, (nint)p0 * ldd + q0);
                c0.StoreUnsafe(ref dp);
                c1.StoreUnsafe(ref dp, (nuint)ldd);
                c2.StoreUnsafe(ref dp, (nuint)(2 * ldd));
                c3.StoreUnsafe(ref dp, (nuint)(3 * ldd));
                c4.StoreUnsafe(ref dp, (nuint)(4 * ldd));
                c5.StoreUnsafe(ref dp, (nuint)(5 * ldd));
                c6.StoreUnsafe(ref dp, (nuint)(6 * ldd));
                c7.StoreUnsafe(ref dp, (nuint)(7 * ldd));
            }
        }
        // The edges: the last cols − c8 columns of every row, and the last rows − r8 rows of the first c8 columns.
        for (int q = 0; q < rows; q++)
        {
            ref float sq = ref Unsafe.Add(ref s0, (nint)q * ld);
            for (int p = q < r8 ? c8 : 0; p < cols; p++) Unsafe.Add(ref d0, (nint)p * ldd + q) = Unsafe.Add(ref sq, p);
        }
    }

    /// <summary>C (+)= op(A)·op(B) on float or double arrays.</summary>
    internal static void Gemm<T>(bool transA, bool transB, int m, int nn, int kk, T[] a, int aOffset, int lda, T[] b, int bOffset, int ldb,
        T[] c, int cOffset, int ldc, bool beta) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (a is float[] af)
        {
            Kernels.Gemm.Sgemm(transA, transB, m, nn, kk, 1f, af, aOffset, lda, (float[])(object)b, bOffset, ldb, beta ? 1f : 0f, (float[])(object)c, cOffset, ldc);
        }
        else
        {
            Kernels.Gemm.Dgemm(transA, transB, m, nn, kk, 1.0, (double[])(object)a, aOffset, lda, (double[])(object)b, bOffset, ldb, beta ? 1.0 : 0.0,
                (double[])(object)c, cOffset, ldc);
        }
    }
}
