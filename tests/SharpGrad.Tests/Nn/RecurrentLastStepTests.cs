using SharpGrad.Tests.Support;
using SharpGrad.Kernels;
using SharpGrad.Tests.Kernels;

namespace SharpGrad.Tests.Nn;

/// <summary>
/// The compiled recurrent stack given only the output's last step (session 20, docs/performance.md "LSTM step, session 20"):
/// <c>RecurrentStack.Forward/Backward(…, lastStepOnly: true)</c>, which a program reading only <c>output.Select(1, T − 1)</c>
/// calls, must give the full-output path's bits — the last step's output rows, the input's gradient, every weight's
/// gradient (b_ih, b_hh too: both runs at the same thread count), h_0's and c_0's — when the full path's output gradient
/// is zero at every other step. One direction's top layer runs the kernel's last-step backward (the fused LSTM loop at
/// AVX2's and AVX-512's widths, the generic loops, GRU, RNN); two directions' a cleared array with the last step filled in.
/// The forward writes only the last step's rows of the output. 1 and 2 threads, batch first and second, odd sizes,
/// h_0/c_0 given and the final states' gradients given.
/// </summary>
[Collection(ThreadCountCollection.Name)]
public class RecurrentLastStepTests
{
    public static TheoryData<RecurrentMode, int, int, int, bool, int, int, int, int, bool> Shapes => new()
    {
        // mode, input, hidden, layers, bidirectional, steps, batch, threads, LSTM width (0: the machine's, −1: generic loops), batch first
        { RecurrentMode.Lstm, 64, 128, 1, false, 35, 32, 1, 0, true },
        { RecurrentMode.Lstm, 64, 128, 1, false, 35, 32, 2, 0, true },
        { RecurrentMode.Lstm, 33, 40, 1, false, 30, 11, 1, 0, true },
        { RecurrentMode.Lstm, 33, 40, 1, false, 30, 11, 2, 0, false },
        { RecurrentMode.Lstm, 20, 32, 1, false, 7, 13, 1, 512, true },
        { RecurrentMode.Lstm, 20, 32, 1, false, 7, 13, 2, 512, true },
        { RecurrentMode.Lstm, 9, 13, 1, false, 6, 5, 1, -1, true },
        { RecurrentMode.Lstm, 9, 16, 1, false, 1, 7, 1, 0, true },
        { RecurrentMode.Gru, 50, 72, 1, false, 21, 17, 2, 0, true },
        { RecurrentMode.RnnTanh, 11, 9, 1, false, 8, 6, 1, 0, false },
        { RecurrentMode.Lstm, 24, 48, 2, false, 12, 9, 1, 0, true },
        { RecurrentMode.Lstm, 24, 48, 2, true, 26, 13, 2, 0, true },
        { RecurrentMode.Gru, 10, 8, 1, true, 5, 3, 1, 0, false },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void LastStepOnlyEqualsTheFullOutputPath(RecurrentMode mode, int input, int hidden, int layers, bool bidirectional, int steps, int batch,
        int threads, int width, bool batchFirst)
    {
        var s = new RecurrentShape(mode, input, hidden, layers, bidirectional, batchFirst, Bias: true, steps);
        int d = s.Directions, f = d * hidden, states = layers * d * batch * hidden;
        var rng = new Rng(input * 37 + hidden * 5 + steps + batch + layers);
        var weights = RecurrentStackSplitTests.RandomWeights(s, batch, rng);
        var x = SmallGemmTests.Random(batch * steps * input, rng);
        // The output's gradient: zero but at the last step, as a program reading only output.Select(1, T − 1) leaves it.
        var gy = new float[batch * steps * f];
        var last = SmallGemmTests.Random(batch * f, rng);
        for (int b = 0; b < batch; b++) last.AsSpan(b * f, f).CopyTo(gy.AsSpan(Row(batchFirst, b, steps - 1, batch, steps) * f, f));
        bool lstm = mode == RecurrentMode.Lstm;
        float[]? h0 = layers > 1 || steps < 10 ? RecurrentStackSplitTests.Scaled(SmallGemmTests.Random(states, rng)) : null;
        float[]? c0 = h0 is not null && lstm ? RecurrentStackSplitTests.Scaled(SmallGemmTests.Random(states, rng)) : null;
        // The final states' gradients (h_n's joins the last step's), given to some cases.
        float[]? ghN = steps % 2 == 0 ? SmallGemmTests.Random(states, rng) : null;
        float[]? gcN = ghN is not null && lstm ? SmallGemmTests.Random(states, rng) : null;

        float[][] Run(bool lastStepOnly)
        {
            var ws = new RecurrentWorkspace();
            var y = new float[gy.Length];
            Array.Fill(y, float.NaN);
            var gx = new float[x.Length];
            var gh0 = h0 is null ? null : new float[states];
            var gc0 = c0 is null ? null : new float[states];
            var grads = weights.Select(w => new float[w.Length]).ToArray();
            RecurrentStack.Forward(s, x, y, batch, weights, ws, h0, c0, lastStepOnly: lastStepOnly);
            if (ghN is not null) RecurrentStack.FinalStateGrad(s, 1, ghN, batch, ws);
            if (gcN is not null) RecurrentStack.FinalStateGrad(s, 2, gcN, batch, ws);
            RecurrentStack.Backward(s, gy, gx, batch, weights, grads, ws, gh0, gc0, lastStepOnly);
            if (lastStepOnly)
            {
                // Only the last step's rows are written.
                for (int b = 0; b < batch; b++)
                {
                    for (int k = 0; k < steps - 1; k++)
                    {
                        int r = Row(batchFirst, b, k, batch, steps) * f;
                        Assert.True(y.AsSpan(r, f).ToArray().All(float.IsNaN), $"output row of batch item {b}, step {k} was written");
                    }
                }
            }
            var yLast = new float[batch * f];
            for (int b = 0; b < batch; b++) y.AsSpan(Row(batchFirst, b, steps - 1, batch, steps) * f, f).CopyTo(yLast.AsSpan(b * f, f));
            return [yLast, gx, gh0 ?? [], gc0 ?? [], .. grads];
        }

        float[][] Both(bool lastStepOnly) => TwoThreadSplitTests.WithThreads(threads, () =>
        {
            RecurrentKernel.t_forcedLstmWidth = width;
            try
            {
                return Run(lastStepOnly);
            }
            finally
            {
                RecurrentKernel.t_forcedLstmWidth = 0;
            }
        });

        var full = Both(false);
        var only = Both(true);
        string[] names = ["last step's output", "input gradient", "h_0 gradient", "c_0 gradient",
            .. Enumerable.Range(0, weights.Count).Select(i => $"gradient of weight {i} (layer {i / 4 / d}, direction {i / 4 % d}, {(i % 4) switch { 0 => "w_ih", 1 => "w_hh", 2 => "b_ih", _ => "b_hh" }})")];
        for (int a = 0; a < full.Length; a++)
        {
            Assert.Equal(full[a].Length, only[a].Length);
            for (int i = 0; i < full[a].Length; i++)
            {
                if (BitConverter.SingleToInt32Bits(full[a][i]) != BitConverter.SingleToInt32Bits(only[a][i]))
                    Assert.Fail($"{mode} {input}→{hidden} ×{layers}{(bidirectional ? " bidirectional" : "")}, {steps} steps × {batch}, {threads} threads: {names[a]} element {i} is {only[a][i]:R} from the last step only, {full[a][i]:R} from the full output");
            }
        }
        Assert.Contains(full[1], v => v != 0f);
    }

    /// <summary>Row of batch item <paramref name="b"/> at step <paramref name="t"/> in the layer's layout.</summary>
    private static int Row(bool batchFirst, int b, int t, int batch, int steps) => batchFirst ? b * steps + t : t * batch + b;
}
