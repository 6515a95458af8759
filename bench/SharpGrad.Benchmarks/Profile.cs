using System.Globalization;
using SharpGrad.Kernels;
using SharpGrad.Layers;
using SharpGrad.Optimizers;

namespace SharpGrad.Benchmarks;

/// <summary>
/// `profile`: times the parts of the small workloads (kernel alone vs. the op vs. the layer; forward, loss, backward and
/// step of a training step) and the bytes allocated per call, to see where the time goes.
/// `count NAME N`: runs one of those parts N times and nothing else, for instruction counts that the load of a shared
/// machine cannot disturb: run it under <c>valgrind --tool=callgrind</c> with two values of N and subtract (the
/// difference divided by the difference of N is the instructions per call, start-up and JIT excluded).
/// </summary>
public static class Profile
{
    /// <summary>One measured part: a short key (for `count`), what it is, the code, the iterations per timed loop.</summary>
    private sealed record Piece(string Key, string What, Action Body, int Iters, double Flops = 0);

    public static int Run(string[] args)
    {
        int threads = args.Length >= 2 && args[0] == "--threads" ? int.Parse(args[1], CultureInfo.InvariantCulture) : Environment.ProcessorCount;
        Parallelism.MaxThreads = threads;
        Console.WriteLine($"threads={threads}");
        foreach (var p in Pieces())
        {
            p.Body();
            long before = GC.GetAllocatedBytesForCurrentThread();
            int gc0 = GC.CollectionCount(0);
            double us = Workloads.MicrosPerCall(p.Body, p.Iters, out long calls);
            long bytes = (GC.GetAllocatedBytesForCurrentThread() - before) / calls;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{p.Key,-18} {p.What,-58} {us,10:F1} us  {bytes,9} B/call  gen0 GCs {GC.CollectionCount(0) - gc0}"));
        }
        return 0;
    }

    /// <summary>`count NAME N [--threads T]`: NAME's body N times after 3 warm-up calls (see the class summary).</summary>
    public static int Count(string[] args)
    {
        var pieces = Pieces();
        if (args.Length < 2 || !int.TryParse(args[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) || n < 0)
        {
            Console.Error.WriteLine($"count: usage: count NAME N [--threads T]; NAME is one of {string.Join(", ", pieces.Select(p => p.Key))}.");
            return 2;
        }
        Parallelism.MaxThreads = args.Length >= 4 && args[2] == "--threads" ? int.Parse(args[3], CultureInfo.InvariantCulture) : 1;
        var piece = pieces.FirstOrDefault(p => p.Key == args[0]);
        if (piece is null)
        {
            Console.Error.WriteLine($"count: unknown part '{args[0]}'; known: {string.Join(", ", pieces.Select(p => p.Key))}.");
            return 2;
        }
        for (int i = 0; i < 3; i++) piece.Body();
        var proc = System.Diagnostics.Process.GetCurrentProcess();
        var cpu0 = proc.TotalProcessorTime;
        var times = new double[n];
        long bytes0 = GC.GetAllocatedBytesForCurrentThread();
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        for (int i = 0; i < n; i++)
        {
            long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
            piece.Body();
            times[i] = System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
        }
        double wall = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        long bytes = GC.GetAllocatedBytesForCurrentThread() - bytes0;
        proc.Refresh();
        // Under load the mean is mostly other processes' time slices; the fastest calls (min, 10th percentile) are the
        // ones that ran undisturbed, and CPU time counts only the time the process ran (summed over its threads).
        Array.Sort(times);
        if (n > 0)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{piece.Key}: min {times[0]:F1} us, p1 {times[n / 100]:F1} us, p10 {times[n / 10]:F1} us, median {times[n / 2]:F1} us, mean {wall / n:F1} us wall; {(proc.TotalProcessorTime - cpu0).TotalMicroseconds / n:F1} us CPU per call, {bytes / n} B allocated per call ({n} calls, {Parallelism.MaxThreads} thread(s), load {File.ReadAllText("/proc/loadavg").Split(' ')[0]}){(piece.Flops > 0 ? $"; {piece.Flops / (times[0] * 1e3):F1} GFLOP/s at min" : "")}"));
        return 0;
    }

    /// <summary>
    /// The dense GEMM calls of one encoder layer of transformer_train_step_b16 (1024 token rows, d_model 128, FF 512) exactly as
    /// TransformerLayerKernel makes them with one thread: the forward x·(Wᵀ) in row blocks of 256 with its epilogue
    /// (<c>Linear</c> with the transposed weights), the input gradients g·W and weight gradients (<c>LinearBackward</c>: its row
    /// blocks, beta, and <c>WeightGradTransposed</c>'s xᵀ·g for the wide outputs), the attention's per-head products. linear2's
    /// forward and linear1's input gradient run skipping ReLU's zeros in the workload; their dense forms are here too.
    /// </summary>
    private static void TransformerGemmPieces(Action<string, string, Action, int, double> add)
    {
        const int rows = 1024, e = 128, f = 512;
        var x = new float[rows * f]; var gy = new float[rows * f]; var y = new float[rows * f]; var res = new float[rows * f];
        var wt = new float[f * e * 3]; var bias = new float[f];
        var rnd = new Random(1);
        foreach (var arr in new[] { x, gy, res, wt, bias }) for (int i = 0; i < arr.Length; i++) arr[i] = rnd.NextSingle() - 0.5f;
        // forward: y[r..r+256) = epi(x·(Wᵀ)) per 256-row block
        foreach (var (name, inF, outF, residual, relu) in new[] { ("qkv", e, 3 * e, false, false), ("out", e, e, true, false), ("ff1", e, f, false, true), ("ff2", f, e, true, false) })
        {
            add($"gemm-xfmr-{name}-fwd", $"sgemm 4 x 256x{inF} · {inF}x{outF} + epilogue (layer forward)", () =>
            {
                for (int r = 0; r < rows; r += 256)
                {
                    Gemm.Sgemm(false, false, 256, outF, inF, 1f, x, r * inF, inF, wt, 0, outF, 0f, y, r * outF, outF,
                        new GemmEpilogue(bias, residual: residual ? res : null, residualOffset: r * outF, residualLd: outF, activation: relu ? GemmActivation.Relu : GemmActivation.None));
                }
            }, 30, 2.0 * rows * inF * outF);
        }
        // input gradients gx (+)= gy·W in LinearBackward's row blocks (2^24 MACs / (inF·outF), rounded to 8; linear2 whole)
        foreach (var (name, inF, outF, accumulate) in new[] { ("qkv", e, 3 * e, true), ("out", e, e, false), ("ff1", e, f, true), ("ff2", f, e, false) })
        {
            int block = inF >= 2 * outF ? rows : Math.Max(8, (1 << 24) / (inF * outF) / 8 * 8);
            add($"gemm-xfmr-{name}-dx", $"sgemm {rows}x{outF} · {outF}x{inF} in blocks of {Math.Min(block, rows)} rows (input gradient)", () =>
            {
                for (int r = 0; r < rows; r += block)
                    Gemm.Sgemm(false, false, Math.Min(block, rows - r), inF, outF, 1f, gy, r * outF, outF, wt, 0, inF, accumulate ? 1f : 0f, y, r * inF, inF);
            }, 30, 2.0 * rows * inF * outF);
        }
        // weight gradients: gW += gyᵀ·x (out, ff2), or xᵀ·gy into a scratch (qkv, ff1: WeightGradTransposed, the transposed add not included)
        foreach (var (name, inF, outF) in new[] { ("qkv", e, 3 * e), ("out", e, e), ("ff1", e, f), ("ff2", f, e) })
        {
            bool transposed = outF >= 2 * inF;
            add($"gemm-xfmr-{name}-dw", transposed ? $"sgemm ({rows}x{inF})ᵀ · {rows}x{outF} (weight gradient, transposed)" : $"sgemm ({rows}x{outF})ᵀ · {rows}x{inF} += (weight gradient)", () =>
            {
                if (transposed) Gemm.Sgemm(true, false, inF, outF, rows, 1f, x, 0, inF, gy, 0, outF, 0f, y, 0, outF);
                else Gemm.Sgemm(true, false, outF, inF, rows, 1f, gy, 0, outF, x, 0, inF, 1f, y, 0, inF);
            }, 30, 2.0 * rows * inF * outF);
        }
        // the attention's products per head (16 × 4 heads of 64 × 64, head 32; q, k, v in the packed [rows, 3·128] rows), as AttentionKernel makes them
        const int heads = 64, t = 64, d = 32, ld = 3 * e;
        var probs = new float[heads * t * t]; var kt = new float[d * t]; var ctx = new float[rows * e];
        for (int i = 0; i < probs.Length; i++) probs[i] = rnd.NextSingle();
        add("gemm-xfmr-attn-fwd", "sgemm 64 heads x (64x32 · 32x64, 64x64 · 64x32) (attention forward's products)", () =>
        {
            for (int hIdx = 0; hIdx < heads; hIdx++)
            {
                int b = hIdx / 4, h = hIdx % 4, q0 = b * t * ld + h * d;
                Gemm.Sgemm(false, false, t, t, d, 1f, x, q0, ld, kt, 0, t, 0f, probs, hIdx * t * t, t);
                Gemm.Sgemm(false, false, t, d, t, 1f, probs, hIdx * t * t, t, x, q0 + 2 * e, ld, 0f, ctx, b * t * e + h * d, e);
            }
        }, 30, heads * 2 * 2.0 * t * t * d);
        add("gemm-xfmr-attn-bwd", "sgemm 64 heads x (gC·vᵀ, Pᵀ·gC, gS·k, gSᵀ·q) (attention backward's products)", () =>
        {
            for (int hIdx = 0; hIdx < heads; hIdx++)
            {
                int b = hIdx / 4, h = hIdx % 4, q0 = b * t * ld + h * d, c0 = b * t * e + h * d;
                Gemm.Sgemm(false, false, t, t, d, 1f, ctx, c0, e, kt, 0, t, 0f, res, 0, t);
                Gemm.Sgemm(true, false, t, d, t, 1f, probs, hIdx * t * t, t, ctx, c0, e, 0f, gy, q0 + 2 * e, ld);
                Gemm.Sgemm(false, false, t, d, t, 1f, res, 0, t, x, q0 + e, ld, 0f, gy, q0, ld);
                Gemm.Sgemm(true, false, t, d, t, 1f, res, 0, t, x, q0, ld, 0f, gy, q0 + e, ld);
            }
        }, 30, heads * 4 * 2.0 * t * t * d);
    }

    private static List<Piece> Pieces()
    {
        Rng.ManualSeed(0);
        var list = new List<Piece>();
        void Add(string key, string what, Action body, int iters) => list.Add(new Piece(key, what, body, iters));
        void AddF(string key, string what, Action body, int iters, double flops) => list.Add(new Piece(key, what, body, iters, flops));

        // mlp_infer_b1, piece by piece
        var w1 = new float[256 * 784]; var x1 = new float[784]; var y1 = new float[256];
        Add("gemm-b1-fc1", "sgemm 1x784 · (256x784)ᵀ (fc1 kernel, b1)", () => Gemm.Sgemm(false, true, 1, 256, 784, 1f, x1, 0, 784, w1, 0, 784, 0f, y1, 0, 256), 5000);
        var mlp = Workloads.Mlp();
        mlp.Eval();
        var x = Tensor.Rand(1, 784);
        var fc1 = new Layers.Linear(784, 256);
        Add("linear-b1", "Linear(784,256) forward b1, no grad", () => { using (Autograd.NoGrad()) fc1.Forward(x); }, 5000);
        Add("mlp-infer-eager", "MLP forward b1, no grad (mlp_infer_b1)", () => Workloads.MlpInferEager(mlp, x), 5000);
        var net1 = new MlpNet();
        net1.Eval();
        var c1 = net1.Compile();
        Add("mlp-infer", "compiled MLP forward b1, no grad (mlp_infer_b1)", () => Workloads.MlpInferCompiled(c1, x), 5000);
        // the compiled forward's three kernel calls alone (no wrapper), and fc1's alone: the wrapper's share is the difference
        var (l1, l2, l3) = ((Layers.Linear)mlp[0], (Layers.Linear)mlp[2], (Layers.Linear)mlp[4]);
        var (xk, h1, h2k, yk) = (CompiledSupport.FloatData(x), new float[256], new float[128], new float[10]);
        Add("b1-kernels", "the three LinearForward calls of mlp_infer_b1", () =>
        {
            CompiledSupport.LinearForward(xk, l1.Weight, l1.Bias, h1, 1, new(784, 256), GemmActivation.Relu);
            CompiledSupport.LinearForward(h1, l2.Weight, l2.Bias, h2k, 1, new(256, 128), GemmActivation.Relu);
            CompiledSupport.LinearForward(h2k, l3.Weight, l3.Bias, yk, 1, new(128, 10));
        }, 5000);
        // the same three layers as the compiled forward runs them: fc1 and fc2 as one pair (one hand-off), then fc3
        Add("b1-kernels-pair", "LinearReluLinearForward fc1+fc2, then fc3 (mlp_infer_b1)", () =>
        {
            if (!CompiledSupport.LinearReluLinearForward(xk, l1.Weight, l1.Bias, h1, l2.Weight, l2.Bias, h2k, 1, new(784, 256), new(256, 128), GemmActivation.Relu))
            {
                CompiledSupport.LinearForward(xk, l1.Weight, l1.Bias, h1, 1, new(784, 256), GemmActivation.Relu);
                CompiledSupport.LinearForward(h1, l2.Weight, l2.Bias, h2k, 1, new(256, 128), GemmActivation.Relu);
            }
            CompiledSupport.LinearForward(h2k, l3.Weight, l3.Bias, yk, 1, new(128, 10));
        }, 5000);
        Add("b1-pair", "LinearReluLinearForward fc1+fc2 alone (mlp_infer_b1)", () =>
        {
            if (!CompiledSupport.LinearReluLinearForward(xk, l1.Weight, l1.Bias, h1, l2.Weight, l2.Bias, h2k, 1, new(784, 256), new(256, 128), GemmActivation.Relu))
            {
                CompiledSupport.LinearForward(xk, l1.Weight, l1.Bias, h1, 1, new(784, 256), GemmActivation.Relu);
                CompiledSupport.LinearForward(h1, l2.Weight, l2.Bias, h2k, 1, new(256, 128), GemmActivation.Relu);
            }
        }, 5000);
        Add("b1-fc3", "LinearForward fc3 (128→10) b1", () => CompiledSupport.LinearForward(h2k, l3.Weight, l3.Bias, yk, 1, new(128, 10)), 5000);
        Add("b1-fc1", "LinearForward fc1 (784→256, ReLU) b1", () => CompiledSupport.LinearForward(xk, l1.Weight, l1.Bias, h1, 1, new(784, 256), GemmActivation.Relu), 5000);
        Add("b1-fc2", "LinearForward fc2 (256→128, ReLU) b1", () => CompiledSupport.LinearForward(h1, l2.Weight, l2.Bias, h2k, 1, new(256, 128), GemmActivation.Relu), 5000);
        var w2 = new float[128 * 256]; var y2 = new float[128];
        Add("gemm-b1-fc2", "sgemm 1x256 · (128x256)ᵀ (fc2 kernel, b1)", () => Gemm.Sgemm(false, true, 1, 128, 256, 1f, y1, 0, 256, w2, 0, 256, 0f, y2, 0, 128), 5000);

        // mlp_train_step_b64: the GEMMs of the compiled step (forward x·Wᵀ, input gradient g·W, weight gradient gᵀ·x)
        var wa = new float[64 * 784]; var wb = new float[256 * 784]; var wc = new float[64 * 256];
        var rnd = new Random(0);
        foreach (var arr in new[] { wa, wb, wc }) for (int i = 0; i < arr.Length; i++) arr[i] = rnd.NextSingle() - 0.5f;
        Add("gemm-fc1-fwd", "sgemm 64x784 · (256x784)ᵀ (fc1 forward)", () => Gemm.Sgemm(false, true, 64, 256, 784, 1f, wa, 0, 784, wb, 0, 784, 0f, wc, 0, 256), 300);
        var wat = new float[784 * 64]; var wct = new float[256 * 64]; var wb2T = new float[784 * 256];
        Add("gemm-fc1-fwd-t", "sgemm 256x784 · 784x64 (fc1 forward as W·xᵀ, transposed)", () => Gemm.Sgemm(false, false, 256, 64, 784, 1f, wb, 0, 784, wat, 0, 64, 0f, wct, 0, 64), 300);
        Add("gemm-fc1-dx", "sgemm 64x256 · 256x784 (fc1 input gradient)", () => Gemm.Sgemm(false, false, 64, 784, 256, 1f, wc, 0, 256, wb, 0, 784, 0f, wa, 0, 784), 300);
        Add("gemm-fc1-dw", "sgemm (64x256)ᵀ · 64x784 (fc1 weight gradient)", () => Gemm.Sgemm(true, false, 256, 784, 64, 1f, wc, 0, 256, wa, 0, 784, 0f, wb, 0, 784), 300);
        // the transposed path's two copies for fc1 (x: 64×784 → 784×64; T: 256×64 → 64×256) and fc2's (64×256, 128×64)
        Add("transpose-x1", "transpose 64x784 (fc1 forward's xᵀ)", () => RecurrentKernel.Transpose(wa, 0, 64, 784, wat), 2000);
        Add("transpose-t1", "transpose 256x64 (fc1 forward's T back)", () => RecurrentKernel.Transpose(wct, 0, 256, 64, wc), 2000);
        Add("transpose-w1", "transpose 256x784 (fc1's W, as the zero-skipping forward packs it)", () => RecurrentKernel.Transpose(wb, 0, 256, 784, wb2T), 300);
        Add("transpose-x2", "transpose 64x256 (fc2 forward's xᵀ)", () => RecurrentKernel.Transpose(wc, 0, 64, 256, wct), 2000);
        var w2b = new float[128 * 256]; var h2 = new float[64 * 128];
        Add("gemm-fc2-fwd", "sgemm 64x256 · (128x256)ᵀ (fc2 forward)", () => Gemm.Sgemm(false, true, 64, 128, 256, 1f, wc, 0, 256, w2b, 0, 256, 0f, h2, 0, 128), 1000);
        Add("gemm-fc2-dx", "sgemm 64x128 · 128x256 (fc2 input gradient)", () => Gemm.Sgemm(false, false, 64, 256, 128, 1f, h2, 0, 128, w2b, 0, 256, 0f, wc, 0, 256), 1000);
        Add("gemm-fc2-dw", "sgemm (64x128)ᵀ · 64x256 (fc2 weight gradient)", () => Gemm.Sgemm(true, false, 128, 256, 64, 1f, h2, 0, 128, wc, 0, 256, 0f, w2b, 0, 256), 1000);
        // bias gradients as column sums (ReduceKernel.AddColumnSums): the LSTM's b_ih over its T·N = 1120 rows of 512 gates,
        // and the transformer split's 256-row items of 128 of 512 columns
        var gRows = new float[1120 * 512]; var gSum = new float[512];
        for (int i = 0; i < gRows.Length; i++) gRows[i] = rnd.NextSingle() - 0.5f;
        Add("colsum-lstm", "column sums 1120x512 (ReduceKernel.AddColumnSums)", () => ReduceKernel.AddColumnSums(gRows, 0, 512, 1120, gSum), 2000);
        Add("colsum-split", "column sums 256 rows, 128 of 512 columns (ReduceKernel.AddColumnSums)", () => ReduceKernel.AddColumnSums(gRows, 128, 512, 256, gSum.AsSpan(0, 128)), 5000);
        // the zero-skipping products (Gemm.ZeroSkip.cs) on output gradients of which NN % are nonzero (a ReLU's backward
        // leaves ~50 %), against the dense gemm-fc1-dw / gemm-fc2-dx / gemm-fc2-dw above: where the crossover is
        foreach (int pct in new[] { 10, 25, 50, 75, 90 })
        {
            var zg1 = new float[64 * 256]; var zg2 = new float[64 * 128];
            for (int i = 0; i < zg1.Length; i++) zg1[i] = rnd.NextDouble() * 100 < pct ? rnd.NextSingle() - 0.5f : 0f;
            for (int i = 0; i < zg2.Length; i++) zg2[i] = rnd.NextDouble() * 100 < pct ? rnd.NextSingle() - 0.5f : 0f;
            Add($"zs-fc1-dw-{pct}", $"skip-zeros (64x256, {pct} % nonzero)ᵀ · 64x784 (fc1 weight gradient)", () => Gemm.TrySgemmSkipZeros(true, 256, 784, 64, zg1, 0, 256, wa, 0, 784, wb, 0, 784, false, true, 1f), 300);
            Add($"zs-fc2-dx-{pct}", $"skip-zeros (64x128, {pct} % nonzero) · 128x256 (fc2 input gradient)", () => Gemm.TrySgemmSkipZeros(false, 64, 256, 128, zg2, 0, 128, w2b, 0, 256, wc, 0, 256, false, true, 1f), 1000);
            Add($"zs-fc2-dw-{pct}", $"skip-zeros (64x128, {pct} % nonzero)ᵀ · 64x256 (fc2 weight gradient)", () => Gemm.TrySgemmSkipZeros(true, 128, 256, 64, zg2, 0, 128, wc, 0, 256, w2b, 0, 256, false, true, 1f), 1000);
        }
        // x·Wᵀ skipping x's zeros (W transposed first): fc1 on MNIST-like inputs (~20 % nonzero), fc2 after a ReLU (~50 %)
        foreach (int pct in new[] { 20, 35, 50 })
        {
            var zx1 = new float[64 * 784]; var zx2 = new float[64 * 256];
            for (int i = 0; i < zx1.Length; i++) zx1[i] = rnd.NextDouble() * 100 < pct ? rnd.NextSingle() : 0f;
            for (int i = 0; i < zx2.Length; i++) zx2[i] = rnd.NextDouble() * 100 < pct ? rnd.NextSingle() : 0f;
            Add($"zs-fc1-fwd-{pct}", $"skip-zeros 64x784 ({pct} % nonzero) · (256x784)ᵀ (fc1 forward, W transposed)", () => Gemm.TryLinearSkipZeros(zx1, 0, wb, 0, wc, 0, 64, 784, 256, default, true, 1f), 300);
            // the weight gradient over that input (g after a ReLU, 50 % nonzero): (xᵀ·g)ᵀ skipping x's zeros, as mnist's fc1
            Add($"zs-fc1-dwx-{pct}", $"skip-zeros weight gradient (64x256 g)ᵀ · 64x784 x ({pct} % nonzero)", () => Gemm.TryLinearWeightGradSkipZeros(wc, 0, zx1, 0, wb, 64, 784, 256, false, true), 300);
            Add($"zs-fc2-fwd-{pct}", $"skip-zeros 64x256 ({pct} % nonzero) · (128x256)ᵀ (fc2 forward, W transposed)", () => Gemm.TryLinearSkipZeros(zx2, 0, w2b, 0, h2, 0, 64, 256, 128, default, true, 1f), 1000);
            // their stages: x's lists (64 rows, k-blocks of 64) as the forward builds them, and xᵀ's (784 rows) as the weight gradient does
            var zv = new float[784 * 64]; var zr = new int[784 * 64]; var ze = new int[784 * 14]; var zt = new float[784 * 64];
            Add($"zs-list-x1-{pct}", $"zero-skip lists of 64x784 ({pct} % nonzero), k-blocks of 64", () => Gemm.ListRows(zx1, 0, 784, 0, 64, 784, 64, 13, zv, zr, ze), 2000);
            Add($"zs-list-x1t-{pct}", $"zero-skip lists of (64x784)ᵀ ({pct} % nonzero): transpose + lists", () =>
            {
                RecurrentKernel.Transpose(zx1, 0, 64, 784, zt);
                Gemm.ListRows(zt, 0, 64, 0, 784, 64, 64, 1, zv, zr, ze);
            }, 2000);
        }
        // the dead-units weight gradient of fc1 (Gemm.DeadUnits.cs) as the MLP step sees it after warm-up (47 of 256 units
        // dead, the live columns ~83 % nonzero; mnist-split --variant mlp prints the densities): the whole call, and its
        // gather of g's ~209 live columns alone
        {
            var dg = new float[64 * 256];
            var dead = new bool[256];
            for (int j = 0; j < 256; j++) dead[j] = rnd.NextDouble() < 47.0 / 256;
            for (int i = 0; i < dg.Length; i++) dg[i] = dead[i % 256] || rnd.NextDouble() > 0.83 ? 0f : rnd.NextSingle() - 0.5f;
            var dlive = Enumerable.Range(0, 256).Where(j => !dead[j]).ToArray();
            var dgc = new float[64 * 256];
            var dgw = new float[256 * 784];
            Add("dead-fc1-dw", $"dead-units weight gradient (64x256 g, {256 - dlive.Length} units dead)ᵀ · 64x784", () => Gemm.TryLinearWeightGradSkipDeadUnits(dg, 0, wa, 0, dgw, 64, 784, 256), 300);
            // the density counts of the zero-skipping products' tests on the step's dense x (64x784 torch.rand): the whole
            // count, and the count that stops above the forward's bound (30 %) or the weight gradient's (40 %)
            var dx1 = new float[64 * 784];
            for (int i = 0; i < dx1.Length; i++) dx1[i] = rnd.NextSingle();
            Add("count-x1", "nonzeros of a dense 64x784 (CountNonZero)", () => Gemm.CountNonZero(dx1, 0, 64, 784, 784), 20000);
            Add("count-x1-upto30", "nonzeros of a dense 64x784, stopping above 30 % (CountNonZeroUpTo)", () => Gemm.CountNonZeroUpTo(dx1, 0, 64, 784, 784, 0.3 * 64 * 784), 20000);
            Add("count-x1-all", "nonzeros of a dense 64x784, all of it (CountNonZeroUpTo)", () => Gemm.CountNonZeroUpTo(dx1, 0, 64, 784, 784, double.MaxValue), 20000);
            Add("dead-gather", $"gather of g's {dlive.Length} live columns (64x256)", () => Gemm.GatherColumns(dg, 0, 64, 256, dlive, dlive.Length, dgc), 20000);
        }
        var s1024a = new float[1024 * 1024]; var s1024c = new float[1024 * 1024];
        AddF("gemm-1024", "sgemm 1024x1024 · 1024x1024", () => Gemm.Sgemm(false, false, 1024, 1024, 1024, 1f, s1024a, 0, 1024, s1024a, 0, 1024, 0f, s1024c, 0, 1024), 10, 2.0 * 1024 * 1024 * 1024);
        TransformerGemmPieces(AddF);

        var net = Workloads.Mlp();
        var opt = new Sgd(net.Parameters(), 0.01);
        var xb = Tensor.Rand(64, 784);
        var yb = Tensor.RandInt(0, 10, [64]);
        Add("mlp-fwd-eager", "train b64: forward", () => net.Forward(xb), 300);
        Add("mlp-fwdbwd-eager", "train b64: zero_grad + forward + loss + backward", () => { opt.ZeroGrad(); Losses.CrossEntropy(net.Forward(xb), yb).Backward(); }, 300);
        Add("mlp-step-eager", "train b64: full step (mlp_train_step_b64, eager)", () => Workloads.MlpTrainStepEager(net, opt, xb, yb), 300);
        var netc = new MlpNet();
        var cc = netc.Compile();
        var optc = new Sgd(netc.Parameters(), 0.01);
        Add("mlp-fwd", "compiled train b64: forward", () => cc.Forward(xb), 300);
        Add("mlp-step-tape", "compiled train b64: full step, tape (Forward + eager loss)", () => Workloads.MlpTrainStepCompiledTape(cc, optc, xb, yb), 300);
        // the tape step's allocations by part: the eager loss on a leaf of the logits' shape, with and without its backward
        var logits = Tensor.Randn([64, 10]).RequiresGrad_();
        Add("ce-fwd", "cross-entropy forward b64x10 (leaf logits)", () => Losses.CrossEntropy(logits, yb), 1000);
        Add("ce-fwdbwd", "cross-entropy forward + backward b64x10 (leaf logits)", () => { logits.Grad = null; Losses.CrossEntropy(logits, yb).Backward(); }, 1000);
        Add("mlp-lossbwd", "compiled train b64: LossBackward only", () => cc.LossBackward(xb, yb), 300);
        Add("mlp-step", "compiled train b64: full step (mlp_train_step_b64)", () => Workloads.MlpTrainStepCompiled(cc, optc, xb, yb), 300);
        // the optimizer's step alone on the MLP's 235 K parameters (gradients left by one LossBackward): plain SGD as
        // mlp_train_step_b64, and with momentum as mnist_mlp_5_epochs (a memory-bound pass over 2.8 and 4.7 MB)
        var netSgd = new MlpNet();
        netSgd.Compile().LossBackward(xb, yb);
        var sgdPlain = new Sgd(netSgd.Parameters(), 1e-9);
        var sgdMomentum = new Sgd(netSgd.Parameters(), 1e-9, momentum: 0.9);
        Add("sgd-step", "SGD step on the MLP's parameters (lr only)", () => sgdPlain.Step(), 1000);
        Add("sgd-momentum-step", "SGD step on the MLP's parameters, momentum 0.9", () => sgdMomentum.Step(), 1000);

        // mnist_mlp_5_epochs: its data path per step (a batch of 64 rows gathered by a shuffled index, as MnistMlp does)
        var images = Tensor.Rand(8000, 784);
        var labels = Tensor.RandInt(0, 10, [8000]);
        var perm = Tensor.RandPerm(8000);
        int batchStart = 0;
        Add("mnist-batch", "mnist: gather one shuffled batch of 64 images and labels", () =>
        {
            var idx = perm.Narrow(0, batchStart, 64);
            batchStart = (batchStart + 64) % (8000 - 64);
            images.IndexSelect(0, idx);
            labels.IndexSelect(0, idx);
        }, 1000);
        Add("mnist-perm", "mnist: one epoch's shuffle (RandPerm(8000))", () => Tensor.RandPerm(8000), 300);

        // cnn_train_step_b32: the convolutions alone, then the model
        var cx1 = new float[32 * 784]; var cw1 = new float[16 * 9]; var cb1 = new float[16]; var cy1 = new float[32 * 16 * 784];
        var cx2 = new float[32 * 16 * 196]; var cw2 = new float[32 * 144]; var cb2 = new float[32]; var cy2 = new float[32 * 32 * 196];
        foreach (var arr in new[] { cx1, cw1, cb1, cx2, cw2, cb2 }) for (int i = 0; i < arr.Length; i++) arr[i] = rnd.NextSingle() - 0.5f;
        var g1 = new ConvGeometry(32, 1, 28, 28, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 28, 28);
        var g2 = new ConvGeometry(32, 16, 14, 14, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 14, 14);
        var gx2 = new float[cx2.Length]; var gw2 = new float[cw2.Length]; var gb2 = new float[32];
        var gw1 = new float[cw1.Length]; var gb1 = new float[16];
        Add("conv1-fwd", "conv 32x1x28x28 * 16x1x3x3 + bias, relu (conv1 forward)", () => Conv.Forward(g1, cx1, cw1, cb1, cy1, relu: true), 100);
        Add("conv1-bwd", "conv1 backward (weight and bias gradients)", () => Conv.Backward(g1, cx1, cw1, cy1, null, gw1, gb1), 100);
        Add("conv2-fwd", "conv 32x16x14x14 * 32x16x3x3 + bias, relu (conv2 forward)", () => Conv.Forward(g2, cx2, cw2, cb2, cy2, relu: true), 100);
        Add("conv2-bwd", "conv2 backward (input, weight and bias gradients)", () => Conv.Backward(g2, cx2, cw2, cy2, gx2, gw2, gb2), 100);
        Add("conv2-wgrad", "conv2 weight gradient alone", () => Conv.Backward(g2, cx2, cw2, cy2, null, gw2, null), 100);
        Add("conv2-igrad", "conv2 input gradient alone, added (as compiled)", () => Conv.Backward(g2, cx2, cw2, cy2, gx2, null, null, accumulateInput: true), 100);
        Add("conv2-bgrad", "conv2 bias gradient alone", () => Conv.Backward(g2, cx2, cw2, cy2, null, null, gb2), 100);

        // cnn_train_step_b32: the pooling and activation passes between the convolutions
        var pg1 = new PoolGeometry(32 * 16, 28, 28, 14, 14, 2, 2, 2, 2, 0, 0, 1, 1);
        var pg2 = new PoolGeometry(32 * 32, 14, 14, 7, 7, 2, 2, 2, 2, 0, 0, 1, 1);
        var py1 = new float[32 * 16 * 196]; var pi1 = new long[py1.Length];
        var py2 = new float[32 * 32 * 49]; var pi2 = new long[py2.Length];
        var pgx1 = new float[cy1.Length]; var rgx1 = new float[cy1.Length];
        Add("pool1-fwd", "maxpool 2x2 on 32x16x28x28, with indices (pool1 forward)", () => Pooling.MaxForward(pg1, cy1, py1, pi1), 300);
        Add("pool1-bwd", "maxpool 2x2 gradient to 32x16x28x28 (pool1 backward)", () => Pooling.MaxBackward(32 * 16, 784, 196, py1, pi1, pgx1), 300);
        Add("pool2-fwd", "maxpool 2x2 on 32x32x14x14, with indices (pool2 forward)", () => Pooling.MaxForward(pg2, cy2, py2, pi2), 300);
        Add("relu1-bwd", "relu gradient on 32x16x28x28 (compiled relu1 backward)", () => Pointwise.Backward<ReluOp>(cy1, cy1, pgx1, rgx1, cy1.Length), 300);

        var cnn = Workloads.Cnn();
        var copt = new Sgd(cnn.Parameters(), 0.01);
        var xc = Tensor.Rand(32, 1, 28, 28);
        var yc = Tensor.RandInt(0, 10, [32]);
        Add("cnn-fwd-eager", "cnn b32: forward", () => cnn.Forward(xc), 50);
        // The exact zeros of the convolutions' output gradients (after the pool's scatter and the ReLU's mask), for a
        // zero-skipping product: printed once per call (`count cnn-grad-zeros 1`).
        var zr1 = new ReLU(); var zr2 = new ReLU();
        var zcnn = new Sequential(("conv1", new Conv2d(1, 16, 3, padding: 1)), ("relu1", zr1), ("pool1", new MaxPool2d(2)),
            ("conv2", new Conv2d(16, 32, 3, padding: 1)), ("relu2", zr2), ("pool2", new MaxPool2d(2)), ("flatten", new Flatten()), ("fc", new Linear(32 * 7 * 7, 10)));
        var zopt = new Sgd(zcnn.Parameters(), 0.01);
        string zeros = "";
        void Zeros(string name, Tensor?[] gin) { var d = gin[0]!.ToArray(); zeros += $"{name} {d.Count(v => v == 0f) / (double)d.Length:F3} "; }
        zr1.RegisterFullBackwardHook((m, gin, gout) => { Zeros("conv1_out_grad", gin); return null; });
        zr2.RegisterFullBackwardHook((m, gin, gout) => { Zeros("conv2_out_grad", gin); return null; });
        Add("cnn-grad-zeros", "cnn b32: zero fraction of the conv output gradients (eager step, printed)", () =>
        {
            zeros = "";
            Workloads.CnnTrainStepEager(zcnn, zopt, xc, yc);
            Console.Error.WriteLine("exact zeros: " + zeros);
        }, 1);
        Add("cnn-step-eager", "cnn b32: full step (cnn_train_step_b32, eager)", () => Workloads.CnnTrainStepEager(cnn, copt, xc, yc), 50);
        var cnnc = new CnnNet();
        var ccnn = cnnc.Compile();
        var coptc = new Sgd(cnnc.Parameters(), 0.01);
        Add("cnn-fwd", "compiled cnn b32: forward", () => ccnn.Forward(xc), 50);
        Add("cnn-step", "compiled cnn b32: full step (cnn_train_step_b32)", () => Workloads.CnnTrainStepCompiled(ccnn, coptc, xc, yc), 50);
        SequenceWorkloads.ProfilePieces(Add);
        MnistSplit.ProfilePieces(Add);
        return list;
    }
}
