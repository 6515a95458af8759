using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using SharpGrad.Kernels;

namespace SharpGrad.Optimizers;

/// <summary>
/// Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and weight decay
/// (PyTorch: <c>torch.optim.SGD</c>, same update formulas).
/// </summary>
public sealed class Sgd : Optimizer
{
    /// <summary>Creates Sgd for <paramref name="parameters"/> (PyTorch: <c>Sgd(params, lr, momentum, dampening, weight_decay, nesterov, maximize=maximize)</c>).</summary>
    public Sgd(IEnumerable<Tensor> parameters, double lr, double momentum = 0, double dampening = 0, double weightDecay = 0, bool nesterov = false, bool maximize = false)
        : base(parameters, MakeDefaults(lr, momentum, dampening, weightDecay, nesterov, maximize))
    {
    }

    /// <summary>Creates Sgd for parameter groups whose options override these defaults (PyTorch: <c>Sgd([{"params": …, "lr": …}, …], …)</c>).</summary>
    public Sgd(IEnumerable<ParamGroup> groups, double lr, double momentum = 0, double dampening = 0, double weightDecay = 0, bool nesterov = false, bool maximize = false)
        : base(groups, MakeDefaults(lr, momentum, dampening, weightDecay, nesterov, maximize))
    {
    }

    private static Dictionary<string, object> MakeDefaults(double lr, double momentum, double dampening, double weightDecay, bool nesterov, bool maximize) =>
        D(("lr", lr), ("momentum", momentum), ("dampening", dampening), ("weight_decay", weightDecay), ("nesterov", nesterov), ("maximize", maximize));

    /// <inheritdoc/>
    protected override string Name => "SGD";

    /// <inheritdoc/>
    protected override void Validate(ParamGroup g)
    {
        CheckNonNegative(g, "lr", "learning rate");
        CheckNonNegative(g, "momentum", "momentum value");
        CheckNonNegative(g, "weight_decay", "weight_decay value");
        if (g.GetBool("nesterov") && (g.Momentum <= 0 || g.GetDouble("dampening") != 0))
        {
            throw new ArgumentException($"SGD: Nesterov momentum requires a momentum > 0 and zero dampening, but got momentum={Fmt(g.Momentum)}, dampening={Fmt(g.GetDouble("dampening"))}.");
        }
    }

    /// <inheritdoc/>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    protected override void StepGroup(ParamGroup g)
    {
        double lr = g.Lr, momentum = g.Momentum, dampening = g.GetDouble("dampening"), wd = g.WeightDecay;
        bool nesterov = g.GetBool("nesterov"), maximize = g.GetBool("maximize");
        // Index loop: foreach over the IReadOnlyList would box an enumerator on every step.
        var ps = g.Params;
        // The float32 updates are gathered first and then run as one loop over all of the group's parameters (UpdateAll:
        // with several threads one parallel loop, instead of one per large parameter and the small ones serially after it).
        int jobs = 0;
        for (int pi = 0; pi < ps.Count; pi++)
        {
            var p = ps[pi];
            if (p.GradInternal is null) continue;
            var grad = PrepareGrad(p);
            Tensor? buf = null;
            bool first = false;
            if (momentum != 0)
            {
                var st = GetState(p, out _);
                if (!st.TryGetValue("momentum_buffer", out buf))
                {
                    st["momentum_buffer"] = buf = ZerosLike(p);
                    first = true;
                }
                buf.Storage.Version++;
            }
            var options = new Options(first, lr, momentum, dampening, wd, nesterov, maximize);
            if (p.DType == DType.Float32)
            {
                if (jobs == _jobs.Length) Array.Resize(ref _jobs, Math.Max(8, 2 * jobs));
                _jobs[jobs++] = new Job(p.Data<float>(), p.Offset, grad.Data<float>(), grad.Offset, buf?.Data<float>(), buf?.Offset ?? 0, p.NumElements, options,
                    p.Rank >= 2 ? p._shape[0] : 0);
            }
            else Update<double>(p, grad, buf, options);
            p.Storage.Version++;
        }
        if (jobs > 0) UpdateAll(jobs);
    }

    /// <summary>
    /// One float32 parameter's update gathered by <see cref="StepGroup"/> for <see cref="UpdateAll"/>; <paramref name="Rows"/>:
    /// the size of its first dimension (a Linear's output units), 0 for a vector.
    /// </summary>
    internal readonly record struct Job(float[] P, int POff, float[] Grad, int GOff, float[]? Buf, int BOff, int Count, Options O, int Rows = 0);

    // Reused from step to step (a step allocates nothing); the jobs' array references are cleared after each step.
    private Job[] _jobs = [];

    /// <summary>Per gathered update: the part that runs it whole, or −1 when every part runs its owner range.</summary>
    private int[] _owner = [];

    /// <summary>The elements given to each part so far while the small updates are placed (<see cref="UpdateAll"/>).</summary>
    private long[] _load = [];

    /// <summary>
    /// The gathered float32 updates as one parallel loop of one item per thread (owner ranges): each parameter of at least
    /// <see cref="ElementsPerPart"/> elements cut into one range of whole rows per part, at the rows where the Linear
    /// products split their units over the cores (<see cref="Gemm.OwnerRow"/>: the transposed forward, the dead-units weight
    /// gradient), so that a weight's row, its gradient's and its momentum's stay in one core's caches from step to step; the
    /// smaller ones whole, each to the part with the fewest elements so far (the same part at every step). Before session
    /// 25 the ranges were ~1/(4·threads) of the group's elements claimed by whichever thread came first, so that every step
    /// moved about half of fc1's weight and gradient (1.6 MB) between the cores. The update is elementwise, so any split
    /// gives the same bits.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void UpdateAll(int jobs)
    {
        long total = 0;
        for (int j = 0; j < jobs; j++) total += _jobs[j].Count;
        int parts = Parallelism.Parts(total, ElementsPerPart, partsPerThread: 1);
        try
        {
            // One tensor listed twice in a group, or two leaves sharing a storage: their updates run one after the other in
            // the group's order, as a serial step does (in one parallel loop their ranges would race).
            if (parts <= 1 || WritesOverlap(_jobs.AsSpan(0, jobs)))
            {
                for (int j = 0; j < jobs; j++)
                {
                    var b = _jobs[j];
                    Kernel(b.P.AsSpan(b.POff, b.Count), b.Grad.AsSpan(b.GOff, b.Count), b.Buf is null ? default : b.Buf.AsSpan(b.BOff, b.Count), b.O);
                }
                return;
            }
            if (_owner.Length < jobs) Array.Resize(ref _owner, Math.Max(8, 2 * jobs));
            if (_load.Length < parts) _load = new long[parts];
            Array.Clear(_load, 0, parts);
            for (int j = 0; j < jobs; j++)
            {
                if (_jobs[j].Count >= ElementsPerPart)
                {
                    _owner[j] = -1;
                    continue;
                }
                int least = 0;
                for (int q = 1; q < parts; q++)
                {
                    if (_load[q] < _load[least]) least = q;
                }
                _owner[j] = least;
                _load[least] += _jobs[j].Count;
            }
            Parallelism.For(parts, new OwnerPart(_jobs, _owner, jobs, parts));
        }
        finally
        {
            Array.Clear(_jobs, 0, jobs);
        }
    }

    /// <summary>
    /// Part <c>index</c> of <see cref="UpdateAll"/>'s loop: its owner range of each large update (whole rows of a matrix,
    /// <see cref="Gemm.OwnerRow"/>; a vector's elements as if rows of one), and the small updates placed on it.
    /// </summary>
    private readonly struct OwnerPart(Job[] jobs, int[] owner, int count, int parts) : IParallelBody
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Invoke(int index)
        {
            for (int j = 0; j < count; j++)
            {
                var b = jobs[j];
                int start, len;
                if (owner[j] >= 0)
                {
                    if (owner[j] != index) continue;
                    (start, len) = (0, b.Count);
                }
                else
                {
                    // rows of a matrix (a Linear's units), else the vector's elements in 16-element groups
                    int rows = b.Rows > 0 && b.Count % b.Rows == 0 ? b.Rows : (b.Count + 15) / 16;
                    int rowLen = b.Rows > 0 && b.Count % b.Rows == 0 ? b.Count / b.Rows : 16;
                    start = Math.Min(b.Count, Gemm.OwnerRow(rows, index, parts) * rowLen);
                    len = Math.Min(b.Count, Gemm.OwnerRow(rows, index + 1, parts) * rowLen) - start;
                    if (len <= 0) continue;
                }
                Kernel(b.P.AsSpan(b.POff + start, len), b.Grad.AsSpan(b.GOff + start, len), b.Buf is null ? default : b.Buf.AsSpan(b.BOff + start, len), b.O);
            }
        }
    }

    /// <summary>Whether two of the gathered updates write some of the same elements (the same array, overlapping ranges).</summary>
    internal static bool WritesOverlap(ReadOnlySpan<Job> jobs)
    {
        for (int a = 1; a < jobs.Length; a++)
        {
            for (int b = 0; b < a; b++)
            {
                if (ReferenceEquals(jobs[a].P, jobs[b].P) && jobs[a].POff < jobs[b].POff + jobs[b].Count && jobs[b].POff < jobs[a].POff + jobs[a].Count)
                    return true;
            }
        }
        return false;
    }

    /// <summary>One step's hyper-parameters of one group, as the kernel takes them.</summary>
    internal readonly record struct Options(bool First, double Lr, double Momentum, double Dampening, double WeightDecay, bool Nesterov, bool Maximize);

    /// <summary>
    /// Below this many elements per part the update stays on the calling thread. The update is memory-bound (a 235 K-element
    /// weight with momentum moves ~4.7 MB, tens of µs): with two threads each core streams its half through its own L2;
    /// a small tensor (a bias) is not worth a hand-off.
    /// </summary>
    private const int ElementsPerPart = 32 * 1024;

    /// <summary>
    /// The update of one float64 parameter (float32 ones go through <see cref="UpdateAll"/>), split into contiguous ranges
    /// over the worker threads when it is large (<see cref="Parallelism"/>).
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static void Update<T>(Tensor p, Tensor grad, Tensor? buf, Options o) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int count = p.NumElements;
        int parts = Parallelism.Parts(count, ElementsPerPart, partsPerThread: 4);
        if (parts <= 1)
        {
            Kernel(S<T>(p), S<T>(grad), buf is null ? default : S<T>(buf), o);
            return;
        }
        // Ranges of a multiple of 16 elements (whole vectors; whole 64-byte lines when the tensor starts on one).
        int chunk = (count + parts - 1) / parts;
        chunk = (chunk + 15) & ~15;
        parts = (count + chunk - 1) / chunk;
        Parallelism.For(parts, new Part<T>(p.Data<T>(), p.Offset, grad.Data<T>(), grad.Offset, buf?.Data<T>(), buf?.Offset ?? 0, count, chunk, o));
    }

    /// <summary>One contiguous range of a parameter's update, as an item of <see cref="Parallelism.For{TBody}(int, TBody)"/>.</summary>
    private readonly struct Part<T>(T[] p, int pOff, T[] grad, int gOff, T[]? buf, int bOff, int count, int chunk, Options o) : IParallelBody
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Invoke(int index)
        {
            int start = index * chunk, len = Math.Min(chunk, count - start);
            Kernel(p.AsSpan(pOff + start, len), grad.AsSpan(gOff + start, len), buf is null ? default : buf.AsSpan(bOff + start, len), o);
        }
    }

    /// <summary>
    /// The update of one range (PyTorch's <c>_single_tensor_sgd</c>, elementwise). Optimised at its first call: a training
    /// run's first steps would otherwise run its loop as unoptimised tier-0 code until the tiered JIT replaces it
    /// (mnist_mlp_5_epochs' first epochs; docs/performance.md, session 6).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel<T>(Span<T> p, ReadOnlySpan<T> grad, Span<T> buf, Options o)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        (bool first, double lrD, double momD, double dampD, double wdD, bool nesterov, bool maximize) =
            (o.First, o.Lr, o.Momentum, o.Dampening, o.WeightDecay, o.Nesterov, o.Maximize);
        T lr = C<T>(lrD), mom = C<T>(momD), oneMinusDamp = C<T>(1 - dampD), wd = C<T>(wdD);
        bool hasMomentum = momD != 0, hasWd = wdD != 0;
        int i = 0;
        // Plain vector loads and stores on the arrays (no span slicing per vector): the update of the MLP's 235 K parameters
        // is memory-bound, and this loop moves it at close to the cache's speed (docs/performance.md).
        if (Vector512.IsHardwareAccelerated)
            i = VectorKernel<T, Gemm.Simd512<T>, Vector512<T>>(p, grad, buf, first, lr, mom, oneMinusDamp, wd, hasMomentum, hasWd, nesterov, maximize);
        else if (Vector256.IsHardwareAccelerated)
            i = VectorKernel<T, Gemm.Simd256<T>, Vector256<T>>(p, grad, buf, first, lr, mom, oneMinusDamp, wd, hasMomentum, hasWd, nesterov, maximize);
        else if (Vector.IsHardwareAccelerated)
        {
            // The same operations in the same order as the scalar loop below (no fused multiply-add): same results.
            int w = Vector<T>.Count;
            Vector<T> vlr = new(lr), vmom = new(mom), vdamp = new(oneMinusDamp), vwd = new(wd);
            for (; i <= p.Length - w; i += w)
            {
                var d = new Vector<T>(grad[i..]);
                if (maximize) d = -d;
                var pv = new Vector<T>(p[i..]);
                if (hasWd) d += vwd * pv;
                if (hasMomentum)
                {
                    var b = first ? d : vmom * new Vector<T>(buf[i..]) + vdamp * d;
                    b.CopyTo(buf[i..]);
                    d = nesterov ? d + vmom * b : b;
                }
                (pv - vlr * d).CopyTo(p[i..]);
            }
        }
        for (; i < p.Length; i++)
        {
            T d = maximize ? -grad[i] : grad[i];
            if (hasWd) d += wd * p[i];
            if (hasMomentum)
            {
                T b = first ? d : mom * buf[i] + oneMinusDamp * d;
                buf[i] = b;
                d = nesterov ? d + mom * b : b;
            }
            p[i] -= lr * d;
        }
    }

    /// <summary>
    /// The vector part of <see cref="Kernel{T}"/> in vectors of one width (512- or 256-bit); returns how many elements it
    /// updated (the rest is the scalar loop's). The same operations in the same order as the scalar loop (no fused
    /// multiply-add): same results.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int VectorKernel<T, V, TV>(Span<T> p, ReadOnlySpan<T> grad, Span<T> buf, bool first, T lr, T mom, T oneMinusDamp, T wd,
        bool hasMomentum, bool hasWd, bool nesterov, bool maximize)
        where T : unmanaged, IFloatingPointIeee754<T> where V : struct, Gemm.ISimd<TV, T> where TV : struct
    {
        int w = V.Count, i = 0;
        ref T pr = ref MemoryMarshal.GetReference(p);
        ref T gr = ref MemoryMarshal.GetReference(grad);
        ref T br = ref MemoryMarshal.GetReference(buf);
        TV vlr = V.Broadcast(lr), vmom = V.Broadcast(mom), vdamp = V.Broadcast(oneMinusDamp), vwd = V.Broadcast(wd), minusOne = V.Broadcast(-T.One);
        for (; i <= p.Length - w; i += w)
        {
            var d = V.Load(ref gr, (nuint)i);
            if (maximize) d = V.Multiply(minusOne, d);
            var pv = V.Load(ref pr, (nuint)i);
            if (hasWd) d = V.Add(d, V.Multiply(vwd, pv));
            if (hasMomentum)
            {
                var b = first ? d : V.Add(V.Multiply(vmom, V.Load(ref br, (nuint)i)), V.Multiply(vdamp, d));
                V.Store(b, ref br, (nuint)i);
                d = nesterov ? V.Add(d, V.Multiply(vmom, b)) : b;
            }
            V.Store(V.Subtract(pv, V.Multiply(vlr, d)), ref pr, (nuint)i);
        }
        return i;
    }
}
