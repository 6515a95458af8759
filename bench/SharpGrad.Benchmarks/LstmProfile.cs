using SharpGrad.Kernels;
using SharpGrad.Layers;
using SharpGrad.Optimizers;

namespace SharpGrad.Benchmarks;

/// <summary>
/// The parts of lstm_train_step_b32 that <c>profile</c> and <c>count</c> time: the compiled and eager steps, the recurrence
/// kernel's forward and backward alone (35 steps, batch 32, hidden 128, input 64), and each GEMM of the step at its size, so a
/// GFLOP/s per shape can be read off (flops = 2·m·n·k).
/// </summary>
public static class LstmProfile
{
    /// <summary>The calling thread's time on the CPU and waiting on a run queue, in ns (Linux's /proc/thread-self/schedstat; zeros elsewhere).</summary>
    private static (long OnCpu, long Waiting) SchedStat()
    {
        try
        {
            var f = File.ReadAllText("/proc/thread-self/schedstat").Split(' ');
            return (long.Parse(f[0], System.Globalization.CultureInfo.InvariantCulture), long.Parse(f[1], System.Globalization.CultureInfo.InvariantCulture));
        }
        catch (IOException) { return (0, 0); }
        catch (UnauthorizedAccessException) { return (0, 0); }
    }

    /// <summary>Adds the pieces; <paramref name="add"/> takes (key, what, body, iterations per timed loop).</summary>
    public static void Pieces(Action<string, string, Action, int> add)
    {
        ArgumentNullException.ThrowIfNull(add);
        const int T = 35, N = 32, H = 128, I = 64, G = 4 * H, Rows = T * N;
        Rng.ManualSeed(0);
        var (embedding, lstm, head) = SequenceWorkloads.Lstm();
        var opt = new Sgd(embedding.Parameters().Concat(lstm.Parameters()).Concat(head.Parameters()), 0.01);
        var tokens = Tensor.RandInt(0, 1000, [N, T]);
        var y = Tensor.RandInt(0, 10, [N]);
        add("lstm-step-eager", "lstm b32: full step (lstm_train_step_b32, eager)", () => SequenceWorkloads.LstmTrainStepEager(embedding, lstm, head, opt, tokens, y), 20);
        var net = new LstmNet();
        var compiled = net.Compile();
        var copt = new Sgd(net.Parameters(), 0.01);
        add("lstm-step", "compiled lstm b32: full step (lstm_train_step_b32)", () =>
        {
            copt.ZeroGrad();
            compiled.LossBackward(tokens, y);
            copt.Step();
        }, 20);
        // The same step timed call by call and as the workload times it, in one process: `count lstm-step-series 1` prints
        // the minimum call, the median, the workload's figure (best mean of three loops of 30 after Workloads.WarmupMs) and
        // the calls' times in order, so a gap between the minimum and the workload's figure shows whether it is a pattern
        // of the step (slow calls at a period) or the spread of calls on a shared machine. Each call's time on the CPU and
        // waiting for it (Linux: /proc/thread-self/schedstat, read outside the timed span) tell preemption by other
        // runnable threads from a slower step.
        add("lstm-step-series", "compiled lstm b32: full step, each call's time and the workload's figure (printed)", () =>
        {
            var times = new List<double>();
            var onCpu = new List<double>();
            var waiting = new List<double>();
            double best = Workloads.MicrosPerCall(() =>
            {
                var (cpu0, wait0) = SchedStat();
                long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
                copt.ZeroGrad();
                compiled.LossBackward(tokens, y);
                copt.Step();
                times.Add(System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMicroseconds);
                var (cpu1, wait1) = SchedStat();
                onCpu.Add((cpu1 - cpu0) / 1000.0);
                waiting.Add((wait1 - wait0) / 1000.0);
            }, 30);
            int first = times.Count - 90;
            var timed = times.Skip(first).ToArray();
            var sorted = timed.Order().ToArray();
            var ci = System.Globalization.CultureInfo.InvariantCulture;
            Console.WriteLine(System.FormattableString.Invariant(
                $"lstm-step-series: workload figure {best:F1} us; the 90 timed calls: min {sorted[0]:F1}, p10 {sorted[9]:F1}, median {sorted[45]:F1}, mean {timed.Average():F1} us; warm-up calls {first}; on the CPU min {onCpu.Skip(first).Min():F1}, median {onCpu.Skip(first).Order().ElementAt(45):F1} us, waiting for it {waiting.Skip(first).Sum() / 90:F1} us per call"));
            Console.WriteLine("wall/on-CPU/waiting (ms): " + string.Join(" ", Enumerable.Range(first, 90).Select(i =>
                $"{(times[i] / 1000).ToString("F1", ci)}/{(onCpu[i] / 1000).ToString("F1", ci)}/{(waiting[i] / 1000).ToString("F1", ci)}")));
        }, 1);

        var rnd = new Random(1);
        float[] Rand(int len) => Enumerable.Range(0, len).Select(_ => (float)(rnd.NextDouble() - 0.5)).ToArray();
        float[] a = Rand(Rows * G), b = Rand(G * Math.Max(H, I)), c = Rand(Rows * G);
        add("lstm-gemm-hw", "sgemm 32x128 · (512x128)ᵀ (per step, forward)", () => Gemm.Sgemm(false, true, N, G, H, 1f, a, 0, H, b, 0, H, 0f, c, 0, G), 2000);
        add("lstm-gemm-hwt", "sgemm 32x128 · 128x512 (per step, forward, W_hhᵀ stored)", () => Gemm.Sgemm(false, false, N, G, H, 1f, a, 0, H, b, 0, G, 0f, c, 0, G), 2000);
        // The same products with the leading dimension of the 512-wide operand padded to 528 (off the 2 KB stride that
        // maps the rows of a strip to a few L1 sets): what the recurrence's own buffers could use.
        const int GP = G + 16;
        float[] bp = Rand(GP * Math.Max(H, I)), ap = Rand(Rows * GP), cp = Rand(Rows * GP);
        add("lstm-gemm-hwt-pad", "sgemm 32x128 · 128x512, ldb 528", () => Gemm.Sgemm(false, false, N, G, H, 1f, a, 0, H, bp, 0, GP, 0f, cp, 0, GP), 2000);
        add("lstm-gemm-dwhh-pad", "sgemm (1120x512)ᵀ · 1120x128, lda 528", () => Gemm.Sgemm(true, false, G, H, Rows, 1f, ap, 0, GP, c, 0, H, 1f, b, 0, H), 200);
        add("lstm-gemm-dwih-pad", "sgemm (1120x512)ᵀ · 1120x64, lda 528", () => Gemm.Sgemm(true, false, G, I, Rows, 1f, ap, 0, GP, c, 0, I, 1f, b, 0, I), 200);
        add("lstm-gemm-dx-pad", "sgemm 1120x512 · 512x64, lda 528", () => Gemm.Sgemm(false, false, Rows, I, G, 1f, ap, 0, GP, b, 0, I, 0f, c, 0, I), 200);
        add("lstm-gemm-dh-pad", "sgemm 32x512 · 512x128, lda 528", () => Gemm.Sgemm(false, false, N, H, G, 1f, ap, 0, GP, b, 0, H, 1f, c, 0, H), 2000);
        add("lstm-gemm-dwhh-t", "sgemm (1120x128)ᵀ · 1120x512 (W_hh gradient, transposed)", () => Gemm.Sgemm(true, false, H, G, Rows, 1f, c, 0, H, a, 0, G, 1f, b, 0, G), 200);
        add("lstm-gemm-dwih-t", "sgemm (1120x64)ᵀ · 1120x512 (W_ih gradient, transposed)", () => Gemm.Sgemm(true, false, I, G, Rows, 1f, c, 0, I, a, 0, G, 1f, b, 0, G), 200);
        add("lstm-gemm-dh", "sgemm 32x512 · 512x128 (per step, backward)", () => Gemm.Sgemm(false, false, N, H, G, 1f, a, 0, G, b, 0, H, 1f, c, 0, H), 2000);
        add("lstm-gemm-xw", "sgemm 1120x64 · (512x64)ᵀ (input projection, RecurrentStack.Project)", () => Gemm.Sgemm(false, true, Rows, G, I, 1f, a, 0, I, b, 0, I, 0f, c, 0, G), 200);
        // The input projection as RecurrentStack did it in sessions 9–17: W_ihᵀ stored, 3 row blocks of 374/373 rows (direct path);
        // since session 18 it is lstm-gemm-xw (one packed product).
        var bT = Rand(I * G);
        add("lstm-gemm-xwt", "sgemm 1120x64 · 64x512 in 3 row blocks (input projection, W_ihᵀ stored)", () =>
        {
            for (int blk = 0; blk < 3; blk++)
            {
                int r0 = Rows * blk / 3, r1 = Rows * (blk + 1) / 3;
                Gemm.Sgemm(false, false, r1 - r0, G, I, 1f, a, r0 * I, I, bT, 0, G, 0f, c, r0 * G, G);
            }
        }, 200);
        add("lstm-transpose-whh", "W_hhᵀ: transpose of 512x128 (per forward)", () => RecurrentKernel.Transpose(b, 0, G, H, c), 2000);
        add("lstm-gemm-dwih", "sgemm (1120x512)ᵀ · 1120x64 (W_ih gradient)", () => Gemm.Sgemm(true, false, G, I, Rows, 1f, a, 0, G, c, 0, I, 1f, b, 0, I), 200);
        add("lstm-gemm-dwhh", "sgemm (1120x512)ᵀ · 1120x128 (W_hh gradient)", () => Gemm.Sgemm(true, false, G, H, Rows, 1f, a, 0, G, c, 0, H, 1f, b, 0, H), 200);
        // Both weight gradients as one product over [x_t | h_{t−1}] (1120 × 192), as is and transposed.
        float[] xh = Rand(Rows * (I + H)), dwCat = Rand(G * (I + H));
        add("lstm-gemm-dwcat", "sgemm (1120x512)ᵀ · 1120x192 (W_ih and W_hh gradients in one product)", () => Gemm.Sgemm(true, false, G, I + H, Rows, 1f, a, 0, G, xh, 0, I + H, 0f, dwCat, 0, I + H), 200);
        add("lstm-gemm-dwcat-t", "sgemm (1120x192)ᵀ · 1120x512 (both weight gradients, transposed)", () => Gemm.Sgemm(true, false, I + H, G, Rows, 1f, xh, 0, I + H, a, 0, G, 0f, dwCat, 0, G), 200);
        add("lstm-gemm-dx", "sgemm 1120x512 · 512x64 (input gradient)", () => Gemm.Sgemm(false, false, Rows, I, G, 1f, a, 0, G, b, 0, I, 0f, c, 0, I), 200);
        // The same product in row chunks (each a multiple of 24 rows: the same tiles, k-blocks and tail rows), so a chunk's
        // k-block of A would stay in L2 while the kernel's column strips read it again. Session 21: no faster than the whole
        // product (~0.8-0.93 ms each, load 6): the direct kernel is not bound by streaming A from L3 (docs/performance.md).
        foreach (int chunk in (int[])[96, 192, 288, 384])
        {
            add($"lstm-gemm-dx-rows{chunk}", $"sgemm 1120x512 · 512x64 in row chunks of {chunk}", () =>
            {
                for (int r = 0; r < Rows; r += chunk)
                    Gemm.Run(false, false, Math.Min(chunk, Rows - r), I, G, 1f, a, r * G, G, b, 0, I, 0f, c, r * I, I, allowParallel: false);
            }, 200);
        }

        var shape = new RecurrenceShape(RecurrentMode.Lstm, T, N, H, Reverse: false);
        var xw = Rand(Rows * G);
        var w = Rand(G * H);
        var bias = Rand(G);
        var h0 = new float[N * H];
        var output = new float[Rows * H];
        var buffers = new RecurrenceBuffers<float>();
        add("lstm-kernel-fwd", "LSTM recurrence forward, 35 steps x 32 x 128", () => RecurrentKernel.Forward<float>(shape, xw, h0, default, w, 0, bias, output, default, buffers), 50);
        RecurrentKernel.Forward<float>(shape, xw, h0, default, w, 0, bias, output, default, buffers);
        var gOut = Rand(Rows * H);
        var dXw = new float[Rows * G];
        var dW = new float[G * H];
        var dB = new float[G];
        add("lstm-kernel-bwd", "LSTM recurrence backward, 35 steps x 32 x 128 (with dW_hh, db_hh)", () => RecurrentKernel.Backward<float>(shape, gOut, default, output, h0, default,
            w, 0, dXw, default, default, dW, dB, buffers), 50);
        // The time loop alone (the fused dG·W_hh steps with the cell backward in their epilogue, b_hh's gradient; no dW_hh).
        add("lstm-kernel-bwd-loop", "LSTM recurrence backward time loop alone, 35 steps x 32 x 128 (db_hh, no dW_hh)", () => RecurrentKernel.Backward<float>(shape, gOut, default, output, h0, default,
            w, 0, dXw, default, default, null, dB, buffers), 50);

        // The two weight gradients after the time loop (rows of dW_hh and dW_ih, 1 thread): each product packing dG itself,
        // and dG packed once for both (session 20 round 2, RecurrentKernel.WeightGradsSharingDG); the same elements.
        var dGw = Rand(Rows * G);
        var xIn = Rand(Rows * I);
        float[] dWhh = new float[G * H], dWih = new float[G * I];
        add("lstm-dw-separate", "dW_hh and dW_ih, each GEMM packing dG (HiddenWeightGrad + WeightGradTransposed)", () =>
        {
            RecurrentKernel.HiddenWeightGrad(shape, output, h0, dGw, dWhh, 0, G, allowParallel: false);
            RecurrentKernel.WeightGradTransposed(xIn, 0, dGw, 0, Rows, null, 0, 0, I, G, dWih, 0, G, allowParallel: false);
        }, 100);
        add("lstm-dw-shared", "dW_hh and dW_ih with dG packed once (WeightGradsSharingDG)",
            () => RecurrentKernel.WeightGradsSharingDG(shape, output, h0, xIn, I, dGw, dWhh, dWih, 0, G), 100);

        // The compiled layer as the step runs it (batch first): the projection, the recurrence and, backwards, the products
        // after it (dW_hh, dW_ih, the input's gradient).
        var stackShape = new RecurrentShape(RecurrentMode.Lstm, I, H, 1, false, BatchFirst: true, Bias: true, T);
        float[][] stackWeights = [Rand(G * I), Rand(G * H), Rand(G), Rand(G)];
        float[][] stackGrads = [.. stackWeights.Select(p => new float[p.Length])];
        var stackX = Rand(Rows * I);
        var stackY = new float[Rows * H];
        var stackGy = Rand(Rows * H);
        var stackGx = new float[Rows * I];
        var stackWs = new RecurrentWorkspace();
        add("lstm-stack-fwd", "compiled LSTM layer forward: projection + recurrence (RecurrentStack.Forward)", () => RecurrentStack.Forward(stackShape, stackX, stackY, N, stackWeights, stackWs), 50);
        RecurrentStack.Forward(stackShape, stackX, stackY, N, stackWeights, stackWs);
        add("lstm-stack-bwd", "compiled LSTM layer backward: recurrence, dW_hh, dW_ih, input gradient (RecurrentStack.Backward)",
            () => RecurrentStack.Backward(stackShape, stackGy, stackGx, N, stackWeights, stackGrads, stackWs), 50);
        // The same layer as lstm_train_step_b32's program calls it (it reads only output.Select(1, T − 1), session 20): the
        // forward writes only the last step's rows, the backward reads only that step's gradient.
        var lastWs = new RecurrentWorkspace();
        add("lstm-stack-fwd-last", "compiled LSTM layer forward, last step's output only (lastStepOnly)",
            () => RecurrentStack.Forward(stackShape, stackX, stackY, N, stackWeights, lastWs, lastStepOnly: true), 50);
        RecurrentStack.Forward(stackShape, stackX, stackY, N, stackWeights, lastWs, lastStepOnly: true);
        add("lstm-stack-bwd-last", "compiled LSTM layer backward from the last step's gradient only (lastStepOnly)",
            () => RecurrentStack.Backward(stackShape, stackGy, stackGx, N, stackWeights, stackGrads, lastWs, lastStepOnly: true), 50);
    }
}
