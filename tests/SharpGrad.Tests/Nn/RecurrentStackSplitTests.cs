using SharpGrad.Tests.Support;
using SharpGrad.Kernels;
using SharpGrad.Tests.Kernels;

namespace SharpGrad.Tests.Nn;

/// <summary>
/// The compiled recurrent stack's products split over two cores (session 19, docs/performance.md "LSTM step, session 19"):
/// after each layer-direction's time loops, W_hh's and W_ih's gradients in two column halves and the input's gradient in two
/// row halves, one parallel loop (and the LSTM's input projection in the recurrence's tiles, split by the batch). Each
/// element keeps its summation order, so 2 and 3 threads must give one thread's bits: the output, the input's gradient
/// and W_ih's and W_hh's gradients. Sizes: lstm_train_step_b32's layer, odd sizes whose column halves are not equal, a GRU,
/// an RNN whose 96 gate columns are too few to split (the whole products run), and two bidirectional layers (the second direction adds into the input's gradient; the second layer's input is
/// the first's output) with given initial states.
/// </summary>
[Collection(ThreadCountCollection.Name)]
public class RecurrentStackSplitTests
{
    public static TheoryData<RecurrentMode, int, int, int, bool, int, int, int> Shapes => new()
    {
        // mode, input, hidden, layers, bidirectional, steps, batch, threads
        { RecurrentMode.Lstm, 64, 128, 1, false, 35, 32, 2 },
        { RecurrentMode.Lstm, 64, 128, 1, false, 35, 32, 3 },
        { RecurrentMode.Lstm, 33, 40, 1, false, 30, 11, 2 },
        { RecurrentMode.Gru, 50, 72, 1, false, 21, 17, 2 },
        { RecurrentMode.Lstm, 24, 48, 2, true, 26, 13, 2 },
        { RecurrentMode.RnnTanh, 70, 96, 1, false, 40, 10, 2 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void SplitProductsEqualOneThread(RecurrentMode mode, int input, int hidden, int layers, bool bidirectional, int steps, int batch, int threads)
    {
        var s = new RecurrentShape(mode, input, hidden, layers, bidirectional, BatchFirst: true, Bias: true, steps);
        int d = s.Directions, states = layers * d * batch * hidden;
        var rng = new Rng(input * 31 + hidden * 7 + steps + batch);
        var weights = RandomWeights(s, batch, rng);
        var x = SmallGemmTests.Random(batch * steps * input, rng);
        var gy = SmallGemmTests.Random(batch * steps * d * hidden, rng);
        float[]? h0 = layers > 1 ? Scaled(SmallGemmTests.Random(states, rng)) : null;
        float[]? c0 = layers > 1 && mode == RecurrentMode.Lstm ? Scaled(SmallGemmTests.Random(states, rng)) : null;

        float[][] Run()
        {
            var ws = new RecurrentWorkspace();
            var y = new float[batch * steps * d * hidden];
            var gx = new float[x.Length];
            var grads = weights.Select(w => new float[w.Length]).ToArray();
            RecurrentStack.Forward(s, x, y, batch, weights, ws, h0, c0);
            RecurrentStack.Backward(s, gy, gx, batch, weights, grads, ws);
            return [y, gx, .. grads];
        }

        var one = TwoThreadSplitTests.WithThreads(1, Run);
        var several = TwoThreadSplitTests.WithThreads(threads, Run);
        string[] names = ["output", "input gradient", .. Enumerable.Range(0, weights.Count).Select(i => $"gradient of weight {i} (layer {i / 4 / d}, direction {i / 4 % d}, {(i % 4) switch { 0 => "w_ih", 1 => "w_hh", 2 => "b_ih", _ => "b_hh" }})")];
        for (int a = 0; a < one.Length; a++)
        {
            // The bias gradients are left out: the recurrence's batch split sums each block's rows apart and adds the
            // blocks' sums after (RecurrentKernel.Backward), not a split of this session.
            if (a >= 2 && (a - 2) % 4 >= 2) continue;
            for (int i = 0; i < one[a].Length; i++)
            {
                if (BitConverter.SingleToInt32Bits(one[a][i]) != BitConverter.SingleToInt32Bits(several[a][i]))
                    Assert.Fail($"{mode} {input}→{hidden} ×{layers}{(bidirectional ? " bidirectional" : "")}, {steps} steps × {batch}: {names[a]} element {i} is {several[a][i]:R} with {threads} threads, {one[a][i]:R} with one");
            }
        }
    }

    /// <summary>w_ih, w_hh, b_ih, b_hh of each layer and direction of <paramref name="s"/> in PyTorch's order: random, scaled by 0.3.</summary>
    internal static List<float[]> RandomWeights(in RecurrentShape s, int batch, Rng rng)
    {
        int g = s.Step(batch, 0).GateWidth;
        var weights = new List<float[]>();
        for (int l = 0; l < s.NumLayers; l++)
        {
            for (int dir = 0; dir < s.Directions; dir++)
            {
                weights.Add(Scaled(SmallGemmTests.Random(g * s.LayerInput(l), rng)));
                weights.Add(Scaled(SmallGemmTests.Random(g * s.HiddenSize, rng)));
                weights.Add(Scaled(SmallGemmTests.Random(g, rng)));
                weights.Add(Scaled(SmallGemmTests.Random(g, rng)));
            }
        }
        return weights;
    }

    internal static float[] Scaled(float[] a)
    {
        for (int i = 0; i < a.Length; i++) a[i] *= 0.3f;
        return a;
    }
}
