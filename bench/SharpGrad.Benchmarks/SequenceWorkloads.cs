using SharpGrad.Layers;
using SharpGrad.Optimizers;

namespace SharpGrad.Benchmarks;

/// <summary>
/// The sequence-model workloads of WORKLOADS.md — <c>transformer_train_step_b16</c> and <c>lstm_train_step_b32</c> — defined
/// as the peers define them (peers/pytorch/run.py, peers/torchsharp/Program.cs): best of three timed loops of 30 steps after
/// a warm-up. Listed by <see cref="Workloads"/> (its <c>Names</c> and its run loop call in here), so <c>workloads</c> and
/// everything that runs it (<c>compare</c>) print them.
/// </summary>
/// <remarks>
/// Each workload reports the compiled step first (<c>peer=sharpgrad</c>: <see cref="TransformerNet"/>/<see cref="LstmNet"/>,
/// <c>Compile()</c>d whole, the loss and its backward fused by <c>LossBackward</c>), then the eager step (<c>peer=sharpgrad-eager</c>).
/// </remarks>
public static class SequenceWorkloads
{
    /// <summary>The workloads this file defines, in the order they run.</summary>
    public static readonly string[] Names = ["transformer_train_step_b16", "lstm_train_step_b32"];

    /// <summary>Runs the wanted workloads; <paramref name="report"/> takes (workload, value, unit, peer).</summary>
    public static void Run(Func<string, bool> want, Action<string, double, string, string> report)
    {
        ArgumentNullException.ThrowIfNull(want);
        ArgumentNullException.ThrowIfNull(report);
        if (want("transformer_train_step_b16"))
        {
            Rng.ManualSeed(0);
            var (encoder, head) = Transformer();
            var opt = new Sgd(encoder.Parameters().Concat(head.Parameters()), 0.01);
            var x = Tensor.Rand(16, 64, 128);
            var y = Tensor.RandInt(0, 10, [16]);
            Rng.ManualSeed(0);
            var net = new TransformerNet();
            var compiled = net.Compile();
            var copt = new Sgd(net.Parameters(), 0.01);
            report("transformer_train_step_b16", Workloads.MicrosPerCall(() => CompiledTrainStep(copt, () => compiled.LossBackward(x, y)), 30), "us",
                Workloads.CompiledPeer);
            report("transformer_train_step_b16", Workloads.MicrosPerCall(() => TransformerTrainStepEager(encoder, head, opt, x, y), 30), "us", Workloads.Peer);
        }
        if (want("lstm_train_step_b32"))
        {
            Rng.ManualSeed(0);
            var (embedding, lstm, head) = Lstm();
            var opt = new Sgd(embedding.Parameters().Concat(lstm.Parameters()).Concat(head.Parameters()), 0.01);
            var tokens = Tensor.RandInt(0, 1000, [32, 35]);
            var y = Tensor.RandInt(0, 10, [32]);
            Rng.ManualSeed(0);
            var net = new LstmNet();
            var compiled = net.Compile();
            var copt = new Sgd(net.Parameters(), 0.01);
            report("lstm_train_step_b32", Workloads.MicrosPerCall(() => CompiledTrainStep(copt, () => compiled.LossBackward(tokens, y)), 30), "us",
                Workloads.CompiledPeer);
            report("lstm_train_step_b32", Workloads.MicrosPerCall(() => LstmTrainStepEager(embedding, lstm, head, opt, tokens, y), 30), "us", Workloads.Peer);
        }
    }

    /// <summary>
    /// The parts of transformer_train_step_b16 that <c>profile</c> and <c>count</c> time (called by <see cref="Profile"/>):
    /// the compiled and eager steps and the encoder layer's kernel forward and backward; <paramref name="add"/> takes (key,
    /// what, body, iterations per timed loop).
    /// </summary>
    public static void ProfilePieces(Action<string, string, Action, int> add)
    {
        ArgumentNullException.ThrowIfNull(add);
        Rng.ManualSeed(0);
        var (encoder, head) = Transformer();
        var opt = new Sgd(encoder.Parameters().Concat(head.Parameters()), 0.01);
        var x = Tensor.Rand(16, 64, 128);
        var y = Tensor.RandInt(0, 10, [16]);
        add("xfmr-step-eager", "transformer b16: full step (transformer_train_step_b16, eager)", () => TransformerTrainStepEager(encoder, head, opt, x, y), 10);
        var net = new TransformerNet();
        var compiled = net.Compile();
        var copt = new Sgd(net.Parameters(), 0.01);
        add("xfmr-step", "compiled transformer b16: full step (transformer_train_step_b16)", () => CompiledTrainStep(copt, () => compiled.LossBackward(x, y)), 10);
        add("xfmr-step-whole", "compiled transformer b16: full step, LinearBackward unblocked", () =>
        {
            int keep = Kernels.TransformerLayerKernel.BackwardBlockMacs;
            Kernels.TransformerLayerKernel.BackwardBlockMacs = 1 << 30;
            try { CompiledTrainStep(copt, () => compiled.LossBackward(x, y)); }
            finally { Kernels.TransformerLayerKernel.BackwardBlockMacs = keep; }
        }, 10);
        // The layers split into 2 batch parts whatever the thread count (with 1 thread: the parts one after the other, so the
        // split's cost per core is measured without needing a free second core).
        foreach (int parts in new[] { 1, 2, 4 })
        {
            add($"xfmr-step-parts{parts}", $"compiled transformer b16: full step, layers in {parts} batch part(s)", () =>
            {
                Kernels.TransformerLayerKernel.t_forcedParts = parts;
                try { CompiledTrainStep(copt, () => compiled.LossBackward(x, y)); }
                finally { Kernels.TransformerLayerKernel.t_forcedParts = 0; }
            }, 10);
        }
        // The layer's GEMMs at the workload's sizes (1024 token rows): forward x·Wᵀ, input gradient g·W, weight gradient gᵀ·x.
        var ga = new float[1024 * 512];
        var gb = new float[1024 * 512];
        var gc = new float[1024 * 512];
        foreach (var (name, inF, outF) in new[] { ("qkv", 128, 384), ("out", 128, 128), ("ff1", 128, 512), ("ff2", 512, 128) })
        {
            add($"xfmr-gemm-{name}-fwd", $"sgemm 1024x{inF} · ({outF}x{inF})ᵀ", () => Kernels.Gemm.Sgemm(false, true, 1024, outF, inF, 1f, ga, 0, inF, gb, 0, inF, 0f, gc, 0, outF), 30);
            add($"xfmr-gemm-{name}-dx", $"sgemm 1024x{outF} · {outF}x{inF}", () => Kernels.Gemm.Sgemm(false, false, 1024, inF, outF, 1f, ga, 0, outF, gb, 0, inF, 0f, gc, 0, inF), 30);
            add($"xfmr-gemm-{name}-dw", $"sgemm (1024x{outF})ᵀ · 1024x{inF}", () => Kernels.Gemm.Sgemm(true, false, outF, inF, 1024, 1f, ga, 0, outF, gb, 0, inF, 1f, gc, 0, inF), 30);
            add($"xfmr-gemm-{name}-fwd4", $"sgemm 1024x{inF} · ({outF}x{inF})ᵀ in 4 row blocks", () =>
            {
                for (int r = 0; r < 1024; r += 256) Kernels.Gemm.Sgemm(false, true, 256, outF, inF, 1f, ga, r * inF, inF, gb, 0, inF, 0f, gc, r * outF, outF);
            }, 30);
            add($"xfmr-gemm-{name}-dx4", $"sgemm 1024x{outF} · {outF}x{inF} in 4 row blocks", () =>
            {
                for (int r = 0; r < 1024; r += 256) Kernels.Gemm.Sgemm(false, false, 256, inF, outF, 1f, ga, r * outF, outF, gb, 0, inF, 0f, gc, r * inF, inF);
            }, 30);
            add($"xfmr-gemm-{name}-dw4", $"sgemm (1024x{outF})ᵀ · 1024x{inF} in 4 k blocks", () =>
            {
                for (int r = 0; r < 1024; r += 256) Kernels.Gemm.Sgemm(true, false, outF, inF, 256, 1f, ga, r * outF, outF, gb, r * inF, inF, 1f, gc, 0, inF);
            }, 30);
        }
        // The layer kernel's own calls at the workload's sizes: each linear layer as the compiled layer runs it (forward with its
        // epilogue; backward through LinearBackward, in its row blocks), the attention core, a LayerNorm, the ReLU's gradient.
        var lx = new float[1024 * 512];
        var lgy = new float[1024 * 512];
        var lgx = new float[1024 * 512];
        var lb = new float[512];
        var lgb = new float[512];
        foreach (var arr in new[] { lx, lgy, ga, gb }) for (int i = 0; i < arr.Length; i++) arr[i] = 0.01f * ((i * 7919) % 101 - 50);
        foreach (var (name, inF, outF) in new[] { ("qkv", 128, 384), ("out", 128, 128), ("ff1", 128, 512), ("ff2", 512, 128) })
        {
            bool residual = name is "out" or "ff2";
            add($"xfmr-lin-{name}-fwd", $"layer Linear 1024x{inF} -> {outF} (+ bias{(residual ? ", residual" : name == "ff1" ? ", relu" : "")})",
                () => Kernels.TransformerLayerKernel.Linear(lx, gb, lb, gc, 1024, inF, outF, residual ? lgy : null, relu: name == "ff1"), 30);
            var wt = new float[inF * outF];
            Kernels.RecurrentKernel.Transpose(gb, 0, outF, inF, wt);
            add($"xfmr-lin-{name}-fwdT", $"layer Linear 1024x{inF} -> {outF} as x·(Wᵀ) (+ bias{(residual ? ", residual" : name == "ff1" ? ", relu" : "")})",
                () => Kernels.TransformerLayerKernel.Linear(lx, gb, lb, gc, 1024, inF, outF, residual ? lgy : null, relu: name == "ff1", weightT: wt), 30);
            add($"xfmr-lin-{name}-fwdT4", $"layer Linear 4 x 256x{inF} -> {outF} as x·(Wᵀ) (a 2-thread step's batch parts)", () =>
            {
                for (int r = 0; r < 1024; r += 256)
                    Kernels.Gemm.Sgemm(false, false, 256, outF, inF, 1f, lx, r * inF, inF, wt, 0, outF, 0f, gc, r * outF, outF, new Kernels.GemmEpilogue(lb, activation: name == "ff1" ? Kernels.GemmActivation.Relu : Kernels.GemmActivation.None));
            }, 30);
            add($"xfmr-lin-{name}-fwd4", $"layer Linear 4 x 256x{inF} -> {outF} as x·Wᵀ (a 2-thread step's batch parts)", () =>
            {
                for (int r = 0; r < 1024; r += 256)
                    Kernels.Gemm.Sgemm(false, true, 256, outF, inF, 1f, lx, r * inF, inF, gb, 0, inF, 0f, gc, r * outF, outF, new Kernels.GemmEpilogue(lb, activation: name == "ff1" ? Kernels.GemmActivation.Relu : Kernels.GemmActivation.None));
            }, 30);
            add($"xfmr-lin-{name}-bwd", $"layer LinearBackward 1024x{inF} -> {outF} (gx, gW, gb)",
                () => Kernels.TransformerLayerKernel.LinearBackward(lx, gb, lgy, lgx, accumulate: name == "ff1" || name == "qkv", gc, lgb, 1024, inF, outF), 30);
            foreach (int macs in new[] { 1 << 22, 1 << 23, 1 << 25, 1 << 30 })
            {
                add($"xfmr-lin-{name}-bwd-{macs >> 20}", $"layer LinearBackward 1024x{inF} -> {outF}, blocks of {macs >> 20} Mi MACs", () =>
                {
                    int keep = Kernels.TransformerLayerKernel.BackwardBlockMacs;
                    Kernels.TransformerLayerKernel.BackwardBlockMacs = macs;
                    try { Kernels.TransformerLayerKernel.LinearBackward(lx, gb, lgy, lgx, accumulate: name == "ff1" || name == "qkv", gc, lgb, 1024, inF, outF); }
                    finally { Kernels.TransformerLayerKernel.BackwardBlockMacs = keep; }
                }, 30);
            }
        }
        {
            int an = 16, heads = 4, t = 64, d = 32, e = 128;
            var qkv = new float[an * t * 3 * e];
            var gqkv = new float[an * t * 3 * e];
            var probs = new float[an * heads * t * t];
            var merged = new float[an * t * e];
            for (int i = 0; i < qkv.Length; i++) qkv[i] = 0.01f * ((i * 7919) % 101 - 50);
            var q = new Kernels.HeadRows(qkv, 0, t * 3 * e, 3 * e);
            var k = new Kernels.HeadRows(qkv, e, t * 3 * e, 3 * e);
            var v = new Kernels.HeadRows(qkv, 2 * e, t * 3 * e, 3 * e);
            var gq = new Kernels.HeadRows(gqkv, 0, t * 3 * e, 3 * e);
            var gk = new Kernels.HeadRows(gqkv, e, t * 3 * e, 3 * e);
            var gv = new Kernels.HeadRows(gqkv, 2 * e, t * 3 * e, 3 * e);
            var ctx = new Kernels.HeadRows(merged, 0, t * e, e);
            float scale = 1f / MathF.Sqrt(d);
            add("xfmr-attn-fwd", "attention core 16x4 heads, 64x64, head 32 (forward)",
                () => Kernels.AttentionKernel.Forward(an, heads, t, t, d, scale, q, k, v, probs, ctx), 30);
            add("xfmr-attn-bwd", "attention core 16x4 heads, 64x64, head 32 (backward)",
                () => Kernels.AttentionKernel.Backward(an, heads, t, t, d, scale, q, k, v, probs, ctx, gq, gk, gv), 30);
            var mean = new float[1024];
            var invstd = new float[1024];
            var lnw = new float[e];
            Array.Fill(lnw, 1f);
            add("xfmr-ln-fwd", "LayerNorm 1024x128 (forward)", () => Kernels.NormKernel.LayerNormForward<float>(lx.AsSpan(0, 1024 * e), lgx.AsSpan(0, 1024 * e),
                1024, e, lnw, lb.AsSpan(0, e), 1e-5, mean, invstd), 100);
            add("xfmr-ln-bwd", "LayerNorm 1024x128 (backward)", () => Kernels.NormKernel.LayerNormBackward<float>(lx.AsSpan(0, 1024 * e), lgy.AsSpan(0, 1024 * e),
                lgx.AsSpan(0, 1024 * e), mean, invstd, lnw, lgb.AsSpan(0, e), lb.AsSpan(0, e), 1024, e), 100);
            add("xfmr-relu-bwd", "ReLU gradient 1024x512", () => Kernels.Pointwise.Backward<Kernels.ReluOp>(lx, lx, lgy, lgx, 1024 * 512), 100);
        }
        var layer = (TransformerEncoderLayer)encoder[0];
        var shape = new Kernels.EncoderLayerShape(128, 4, 512, 64, NormFirst: false, Gelu: false, LayerNormEps: 1e-5);
        var w = layer.Parameters().Select(p => p.Data<float>().ToArray()).ToArray();
        var g = w.Select(a => (float[]?)new float[a.Length]).ToArray();
        var ws = new Kernels.EncoderLayerWorkspace();
        float[] xs = x.Data<float>().ToArray(), ys = new float[xs.Length], gx = new float[xs.Length];
        add("xfmr-layer-fwd", "encoder layer kernel forward, 16x64x128", () => Kernels.TransformerLayerKernel.Forward(shape, xs, ys, 16, w, ws), 30);
        var weightsT = new Kernels.EncoderWeightsT();
        add("xfmr-weights-t", "encoder layer: the four linear weights transposed (each forward, before a split's parts start)", () => weightsT.Fill(shape, w), 100);
        Kernels.TransformerLayerKernel.Forward(shape, xs, ys, 16, w, ws); // the backward reads the forward's workspace
        add("xfmr-layer-bwd", "encoder layer kernel backward, 16x64x128", () => Kernels.TransformerLayerKernel.Backward(shape, ys, gx, 16, w, g, ws), 30);
        // The generated step's two ways with fresh parameter gradients: cleared by the entry and added to, or written by the
        // layer (overwriteWeights: the encoder rule as the first writer); the same binary, so the two alternate within a run.
        add("xfmr-layer-bwd-cleared", "encoder layer backward, its 12 weight gradients cleared first and added to", () =>
        {
            foreach (var a in g) Array.Clear(a!);
            Kernels.TransformerLayerKernel.Backward(shape, ys, gx, 16, w, g, ws);
        }, 30);
        add("xfmr-layer-bwd-fresh", "encoder layer backward, its 12 weight gradients written (overwriteWeights)", () =>
            Kernels.TransformerLayerKernel.Backward(shape, ys, gx, 16, w, g, ws, overwriteWeights: 0xFFF), 30);
        // The feed-forward block alone (linear1, ReLU, linear2 and their backward, on the layer's own activations), skipping
        // the ReLU's zeros (TransformerLayer.Skip.cs) and dense, in one binary so the two alternate within a run.
        var wsf = new Kernels.EncoderLayerWorkspace();
        float[] yf = new float[xs.Length];
        void WholeForward()
        {
            if (wsf.Hidden1.Length > 0) return;
            Kernels.TransformerLayerKernel.t_forcedParts = 1;   // the pieces below read a whole forward's activations
            try { Kernels.TransformerLayerKernel.Forward(shape, xs, yf, 16, w, wsf); }
            finally { Kernels.TransformerLayerKernel.t_forcedParts = 0; }
        }
        foreach (string mode in new[] { "", "-skip", "-dense" })
        {
            string suffix = mode;
            bool dense = mode == "-dense";
            float skipLimit = mode == "-skip" ? Kernels.Gemm.SkipZerosMaxDensity : 0f;
            add($"xfmr-ff-fwd{suffix}", $"encoder layer feed-forward forward, 1024x128 -> 512 -> 128{(dense ? ", dense" : mode == "-skip" ? ", skipping up to Gemm.SkipZerosMaxDensity" : "")}", () =>
            {
                Kernels.TransformerLayerKernel.t_denseFeedForward = dense;
                Kernels.TransformerLayerKernel.t_skipMaxDensity = skipLimit;
                WholeForward();
                try { Kernels.TransformerLayerKernel.FeedForward(shape, wsf.Hidden1, wsf.Hidden1, wsf.Residual2, 1024, w[4], w[5], w[6], w[7], wsf.Ff1, wsf.Ff1Act, default, wsf.WeightsT.L1, wsf.WeightsT.L2); }
                finally { (Kernels.TransformerLayerKernel.t_denseFeedForward, Kernels.TransformerLayerKernel.t_skipMaxDensity) = (false, 0f); }
            }, 30);
            add($"xfmr-ff-bwd{suffix}", $"encoder layer feed-forward backward, 1024x128 -> 512 -> 128{(dense ? ", dense" : mode == "-skip" ? ", skipping up to Gemm.SkipZerosMaxDensity" : "")}", () =>
            {
                Kernels.TransformerLayerKernel.t_denseFeedForward = dense;
                Kernels.TransformerLayerKernel.t_skipMaxDensity = skipLimit;
                WholeForward();
                try { Kernels.TransformerLayerKernel.FeedForwardBackward(shape, wsf.Hidden1, yf, wsf.G3, 1024, w[4], w[6], g[4], g[5], g[6], g[7], wsf.Ff1, wsf.Ff1Act, wsf.GFfAct, wsf.GFf); }
                finally { (Kernels.TransformerLayerKernel.t_denseFeedForward, Kernels.TransformerLayerKernel.t_skipMaxDensity) = (false, 0f); }
            }, 30);
            add($"xfmr-layer-fwd-bwd{suffix}", $"encoder layer kernel forward and backward, 16x64x128{(dense ? ", dense feed-forward" : mode == "-skip" ? ", feed-forward skipping up to Gemm.SkipZerosMaxDensity" : "")}", () =>
            {
                Kernels.TransformerLayerKernel.t_denseFeedForward = dense;
                Kernels.TransformerLayerKernel.t_skipMaxDensity = skipLimit;
                try
                {
                    Kernels.TransformerLayerKernel.Forward(shape, xs, ys, 16, w, ws);
                    Kernels.TransformerLayerKernel.Backward(shape, ys, gx, 16, w, g, ws);
                }
                finally { (Kernels.TransformerLayerKernel.t_denseFeedForward, Kernels.TransformerLayerKernel.t_skipMaxDensity) = (false, 0f); }
            }, 30);
        }
        // The skipping kernel alone on the feed-forward block's shapes and act's real zeros (~48 % nonzero: ~64 MFLOP of
        // useful work per product), against the dense product of the same shape: linear2's forward act·W2ᵀ (k = 512, n = 128)
        // and its weight gradient as actᵀ·gy (k = 1024 token rows, n = 128; lists of actᵀ).
        {
            var zc = new float[1024 * 512];
            var zgy = new float[1024 * 128];
            for (int i = 0; i < zgy.Length; i++) zgy[i] = 0.01f * ((i * 7919) % 101 - 50);
            add("xfmr-zs-fwd", "skip-zeros act (1024x512, ReLU zeros) · W2ᵀ (512x128), linear2's forward, kernel alone", () =>
            {
                WholeForward();
                Kernels.Gemm.TrySgemmSkipZeros(false, 1024, 128, 512, wsf.Ff1Act, 0, 512, wsf.WeightsT.L2, 0, 128, zc, 0, 128, false, true, 1f);
            }, 30);
            add("xfmr-zs-fwd-dense", "sgemm act (1024x512) · W2ᵀ (512x128), dense", () =>
            {
                WholeForward();
                Kernels.Gemm.Sgemm(false, false, 1024, 128, 512, 1f, wsf.Ff1Act, 0, 512, wsf.WeightsT.L2, 0, 128, 0f, zc, 0, 128);
            }, 30);
            add("xfmr-zs-dw", "skip-zeros actᵀ (512x1024, ReLU zeros) · gy (1024x128), linear2's weight gradient transposed, kernel alone", () =>
            {
                WholeForward();
                Kernels.Gemm.TrySgemmSkipZeros(true, 512, 128, 1024, wsf.Ff1Act, 0, 512, zgy, 0, 128, zc, 0, 128, false, true, 1f);
            }, 30);
            // the layer's own weight-gradient products: linear2's gW2 += gyᵀ·act (dense: one GEMM into gW, k = 1024) against the
            // skipping actᵀ·gy into a scratch, then transposed and added (TransformerLayer.Skip.cs's WeightGradSkipZeros)
            var zgw = new float[128 * 512];
            add("xfmr-zs-wg2", "linear2's weight gradient skipping act's zeros (WeightGradSkipZeros, zeros in x)", () =>
            {
                WholeForward();
                Kernels.TransformerLayerKernel.t_skipMaxDensity = Kernels.Gemm.SkipZerosMaxDensity;
                try { Kernels.TransformerLayerKernel.WeightGradSkipZeros(wsf.Ff1Act, zgy, zgw, 1024, 512, 128, 0, 128, 0, zerosInX: true); }
                finally { Kernels.TransformerLayerKernel.t_skipMaxDensity = 0f; }
            }, 30);
            add("xfmr-zs-wg2-dense", "linear2's weight gradient gyᵀ·act, dense (as LinearBackward)", () =>
            {
                WholeForward();
                Kernels.Gemm.Sgemm(true, false, 128, 512, 1024, 1f, zgy, 0, 128, wsf.Ff1Act, 0, 512, 1f, zgw, 0, 512);
            }, 30);
            add("xfmr-zs-gx", "skip-zeros act (1024x512, ReLU zeros) · W1 (512x128) added to C, linear1's input gradient shape, kernel alone", () =>
            {
                WholeForward();
                Kernels.Gemm.TrySgemmSkipZeros(false, 1024, 128, 512, wsf.Ff1Act, 0, 512, w[4], 0, 128, zc, 0, 128, true, true, 1f);
            }, 30);
            add("xfmr-zs-gx-dense", "sgemm act (1024x512) · W1 (512x128) added to C, dense", () =>
            {
                WholeForward();
                Kernels.Gemm.Sgemm(false, false, 1024, 128, 512, 1f, wsf.Ff1Act, 0, 512, w[4], 0, 128, 1f, zc, 0, 128);
            }, 30);
            add("xfmr-zs-dw-dense", "sgemm actᵀ (512x1024) · gy (1024x128), dense", () =>
            {
                WholeForward();
                Kernels.Gemm.Sgemm(true, false, 512, 128, 1024, 1f, wsf.Ff1Act, 0, 512, zgy, 0, 128, 0f, zc, 0, 128);
            }, 30);
        }
        // Where a zero-skipping product would gain: the exact zeros of linear1's ReLU output (what linear2's forward reads as A,
        // and where the backward's gradient gFf is zero: linear1's g·W and gᵀ·x read it as A), printed by each call.
        add("xfmr-ff-zeros", "encoder layer: exact zeros of linear1's ReLU output (printed)", () =>
        {
            Kernels.TransformerLayerKernel.Forward(shape, xs, ys, 16, w, ws);
            int size = 16 * 64 * 512, zeros = 0;
            for (int i = 0; i < size; i++) if (ws.Ff1Act[i] == 0) zeros++;
            Console.WriteLine($"linear1's ReLU output: {zeros} of {size} exact zeros ({100.0 * zeros / size:F1} %)");
        }, 1);
        foreach (int parts in new[] { 1, 2, 4 })
        {
            var wsp = new Kernels.EncoderLayerWorkspace();
            add($"xfmr-layer-parts{parts}", $"encoder layer kernel forward and backward, 16x64x128, in {parts} batch parts", () =>
            {
                Kernels.TransformerLayerKernel.t_forcedParts = parts;
                try
                {
                    Kernels.TransformerLayerKernel.Forward(shape, xs, ys, 16, w, wsp);
                    Kernels.TransformerLayerKernel.Backward(shape, ys, gx, 16, w, g, wsp);
                }
                finally { Kernels.TransformerLayerKernel.t_forcedParts = 0; }
            }, 30);
        }
        LstmProfile.Pieces(add);
    }

    /// <summary>
    /// `xfmr-regions [--threads N] [--steps S]`: transformer_train_step_b16's compiled step through <see cref="StepRegions.Run"/>
    /// (the pool's loops and serial gaps, as `cnn-regions`), with per split forward and backward its parts' durations and each
    /// thread's busy time (<see cref="Kernels.TransformerLayerKernel.PartTimeline"/>); the regions again for the fastest
    /// quarter of the steps.
    /// </summary>
    public static int Regions(string[] args) => StepRegions.Run("xfmr-regions", args, defaultSteps: 200, () =>
    {
        Rng.ManualSeed(0);
        var x = Tensor.Rand(16, 64, 128);
        var y = Tensor.RandInt(0, 10, [16]);
        var net = new TransformerNet();
        var compiled = net.Compile();
        var opt = new Sgd(net.Parameters(), 0.01);
        return () => CompiledTrainStep(opt, () => compiled.LossBackward(x, y));
    }, fastestQuarter: true, probe: steps =>
    {
        var parts = new long[5 * 64 * steps];
        Kernels.TransformerLayerKernel.PartTimeline = parts;
        return (stepT, times, cut) =>
        {
            Kernels.TransformerLayerKernel.PartTimeline = null;
            PrintParts(parts, stepT, times, cut);
        };
    });

    /// <summary>
    /// Per split (forward or backward of a layer, in step order) over the steps no slower than <paramref name="cut"/>: the median
    /// duration of each part and, per thread, its busy time in the split against the split's span (first start to last end).
    /// </summary>
    private static void PrintParts(long[] parts, long[] stepT, double[] times, double cut)
    {
        double us = 1e6 / System.Diagnostics.Stopwatch.Frequency;
        var recs = new List<long[]>();
        for (int i = 0; i + 5 <= parts.Length; i += 5) if (parts[i + 3] != 0) recs.Add(parts.AsSpan(i, 5).ToArray());
        recs.Sort((p, q) => p[2].CompareTo(q[2]));
        var rows = new Dictionary<int, List<double[]>>();
        for (int s = 0; s < times.Length; s++)
        {
            if (times[s] > cut) continue;
            var mine = recs.Where(r => r[2] >= stepT[2 * s] && r[3] <= stepT[2 * s + 1]).ToList();
            // consecutive records of one kind with part indices not repeating form one split
            var splits = new List<List<long[]>>();
            foreach (var r in mine)
            {
                if (splits.Count == 0 || splits[^1][0][0] != r[0] || splits[^1].Any(o => o[1] == r[1])) splits.Add([]);
                splits[^1].Add(r);
            }
            for (int k = 0; k < splits.Count; k++)
            {
                var sp = splits[k];
                double span = (sp.Max(r => r[3]) - sp.Min(r => r[2])) * us;
                var threads = sp.GroupBy(r => r[4]).Select(g => g.Sum(r => (double)(r[3] - r[2])) * us).OrderByDescending(v => v).ToArray();
                var row = new double[8];
                row[0] = span;
                for (int q = 0; q < Math.Min(2, threads.Length); q++) row[1 + q] = threads[q];
                foreach (var r in sp) if (r[1] < 4) row[3 + r[1]] = (r[3] - r[2]) * us;
                row[7] = sp[0][0];
                (rows.TryGetValue(k, out var l) ? l : rows[k] = []).Add(row);
            }
        }
        static double Med(IEnumerable<double> v) { var a = v.Order().ToArray(); return a.Length == 0 ? double.NaN : a[a.Length / 2]; }
        foreach (var (k, l) in rows.OrderBy(p => p.Key))
        {
            Console.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"  split {k} ({(l[0][7] == 0 ? "fwd" : "bwd")}, {l.Count} steps): span {Med(l.Select(r => r[0])),7:F1}  busiest thread {Med(l.Select(r => r[1])),7:F1}  other {Med(l.Select(r => r[2])),7:F1}  parts {Med(l.Select(r => r[3])):F1} {Med(l.Select(r => r[4])):F1} {Med(l.Select(r => r[5])):F1} {Med(l.Select(r => r[6])):F1} us"));
        }
    }

    /// <summary>A compiled training step: zero the gradients, the fused loss and backward, the SGD step.</summary>
    private static void CompiledTrainStep(Optimizer opt, Func<float> lossBackward)
    {
        opt.ZeroGrad();
        lossBackward();
        opt.Step();
    }

    /// <summary>Two post-norm encoder layers (d_model 128, 4 heads, feed-forward 512, ReLU, dropout 0, batch first) and the
    /// Linear(128, 10) head (PyTorch: <c>nn.Sequential(*[nn.TransformerEncoderLayer(128, 4, 512, 0.0, batch_first=True) for _ in range(2)])</c>).</summary>
    public static (Sequential Encoder, Linear Head) Transformer() => (
        new Sequential(
            new TransformerEncoderLayer(128, 4, 512, dropout: 0.0, batchFirst: true),
            new TransformerEncoderLayer(128, 4, 512, dropout: 0.0, batchFirst: true)),
        new Linear(128, 10));

    /// <summary>transformer_train_step_b16, eager: the mean over the sequence of the encoder's output, the head, cross-entropy,
    /// backward, SGD step.</summary>
    public static void TransformerTrainStepEager(Sequential encoder, Linear head, Optimizer opt, Tensor x, Tensor y)
    {
        opt.ZeroGrad();
        Losses.CrossEntropy(head.Forward(encoder.Forward(x).Mean(1)), y).Backward();
        opt.Step();
    }

    /// <summary>Embedding(1000, 64), one LSTM layer 64 → 128 (batch first), Linear(128, 10).</summary>
    public static (Embedding Embedding, LSTM Lstm, Linear Head) Lstm() =>
        (new Embedding(1000, 64), new LSTM(64, 128, batchFirst: true), new Linear(128, 10));

    /// <summary>lstm_train_step_b32, eager: the last step's output, the head, cross-entropy, backward, SGD step.</summary>
    public static void LstmTrainStepEager(Embedding embedding, LSTM lstm, Linear head, Optimizer opt, Tensor tokens, Tensor y)
    {
        opt.ZeroGrad();
        var (output, _) = lstm.Forward(embedding.Forward(tokens));
        Losses.CrossEntropy(head.Forward(output.Select(1, output.Size(1) - 1)), y).Backward();
        opt.Step();
    }
}
