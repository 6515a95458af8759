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
