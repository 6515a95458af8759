using SharpGrad.Kernels;
using SharpGrad.Tests.Kernels;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Nn;

/// <summary>
/// <c>RecurrentStack.Backward</c>'s overwrite flags (session 26: the generated program's first writer of a fresh gradient does
/// not clear it): with <c>overwriteWeights</c> and <c>overwriteInput</c> every weight's gradient and the input's are written
/// into arrays full of NaN and large values, and equal bit for bit what the adding path leaves in cleared arrays — the LSTM
/// with its weight gradients sharing dG's packing (the workload's layer), odd sizes on the separate products, one step (no
/// W_hh product: zeros), a GRU (bias gradients not shared), two bidirectional layers, a given h_0 and c_0, one and two
/// threads; a flag left off still adds.
/// </summary>
[Collection(ThreadCountCollection.Name)]
public class RecurrentOverwriteTests
{
    public static TheoryData<RecurrentMode, int, int, int, bool, int, int, bool, int> Cases => new()
    {
        // mode, input, hidden, layers, bidirectional, steps, batch, initial states, threads
        { RecurrentMode.Lstm, 64, 128, 1, false, 35, 32, false, 1 },
        { RecurrentMode.Lstm, 64, 128, 1, false, 35, 32, false, 2 },
        { RecurrentMode.Lstm, 13, 20, 1, false, 5, 7, true, 1 },
        { RecurrentMode.Lstm, 13, 16, 1, false, 1, 5, false, 1 },
        { RecurrentMode.Gru, 9, 12, 1, false, 4, 3, true, 1 },
        { RecurrentMode.Lstm, 7, 16, 2, true, 6, 5, true, 2 },
        { RecurrentMode.RnnTanh, 5, 8, 2, false, 3, 4, false, 1 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void OverwritingGivesTheBitsOfAddingToZeros(RecurrentMode mode, int input, int hidden, int layers, bool bidirectional, int steps, int batch,
        bool initial, int threads)
    {
        var s = new RecurrentShape(mode, input, hidden, layers, bidirectional, BatchFirst: true, Bias: true, steps);
        int d = bidirectional ? 2 : 1, rows = steps * batch, nh = batch * hidden;
        var rng = new Rng(input * 17 + hidden * 3 + steps + batch);
        float[] R(int len, float scale)
        {
            var a = SmallGemmTests.Random(len, rng);
            for (int i = 0; i < len; i++) a[i] *= scale;
            return a;
        }
        int gates = mode switch { RecurrentMode.Lstm => 4, RecurrentMode.Gru => 3, _ => 1 };
        var weights = new List<float[]>();
        for (int layer = 0; layer < layers; layer++)
            for (int dir = 0; dir < d; dir++)
            {
                int inF = layer == 0 ? input : d * hidden;
                weights.AddRange([R(gates * hidden * inF, 0.3f), R(gates * hidden * hidden, 0.3f), R(gates * hidden, 0.3f), R(gates * hidden, 0.3f)]);
            }
        var x = R(rows * input, 1f);
        var gy = R(rows * d * hidden, 1f);
        float[]? h0 = initial ? R(layers * d * nh, 0.5f) : null, c0 = initial && mode == RecurrentMode.Lstm ? R(layers * d * nh, 0.5f) : null;
        int saved = Parallelism.MaxThreads;
        try
        {
            Parallelism.MaxThreads = threads;
            var (addedX, added) = Run(overwrite: false);
            var (writtenX, written) = Run(overwrite: true);
            AssertSameBits(addedX, writtenX, "input gradient");
            for (int j = 0; j < added.Length; j++) AssertSameBits(added[j], written[j], $"weight {j}'s gradient");
        }
        finally
        {
            Parallelism.MaxThreads = saved;
        }

        (float[] Gx, float[][] Grads) Run(bool overwrite)
        {
            var ws = new RecurrentWorkspace();
            var y = new float[rows * d * hidden];
            RecurrentStack.Forward(s, x, y, batch, weights, ws, h0, c0);
            float[] Stale(int len)
            {
                var a = new float[len];
                if (overwrite) for (int i = 0; i < len; i++) a[i] = i % 3 == 0 ? float.NaN : 1e30f * (i % 2 == 0 ? 1 : -1);
                return a;
            }
            var gx = Stale(rows * input);
            var grads = weights.Select(w => Stale(w.Length)).ToArray();
            var flags = Enumerable.Repeat(overwrite, grads.Length).ToArray();
            RecurrentStack.Backward(s, gy, gx, batch, weights, grads, ws, initial ? new float[layers * d * nh] : null,
                c0 is null ? null : new float[layers * d * nh], overwriteInput: overwrite, overwriteWeights: flags);
            return (gx, grads);
        }

        void AssertSameBits(float[] e, float[] a, string what)
        {
            for (int i = 0; i < e.Length; i++)
            {
                if (BitConverter.SingleToInt32Bits(e[i]) != BitConverter.SingleToInt32Bits(a[i]))
                    Assert.Fail($"{mode} {input}→{hidden}×{layers}{(bidirectional ? " bidirectional" : "")}, {steps} steps × {batch}, {threads} thread(s): {what} element {i} is {a[i]:R} written, {e[i]:R} added to zeros");
            }
        }
    }

    /// <summary>A weight whose flag is off is added to (the program's gradient not fresh: a .Grad that already holds values).</summary>
    [Fact]
    public void AWeightWhoseFlagIsOffIsAddedTo()
    {
        var s = new RecurrentShape(RecurrentMode.Lstm, 6, 16, 1, false, BatchFirst: true, Bias: true, 4);
        var rng = new Rng(3341);
        float[] R(int len) => SmallGemmTests.Random(len, rng);
        float[][] weights = [R(64 * 6), R(64 * 16), R(64), R(64)];
        var x = R(4 * 3 * 6);
        var gy = R(4 * 3 * 16);
        var ws = new RecurrentWorkspace();
        RecurrentStack.Forward(s, x, new float[4 * 3 * 16], 3, weights, ws);
        var fromZeros = weights.Select(w => new float[w.Length]).ToArray();
        RecurrentStack.Backward(s, gy, null, 3, weights, fromZeros, ws);
        var grads = weights.Select(w => Enumerable.Repeat(2f, w.Length).ToArray()).ToArray();
        RecurrentStack.Backward(s, gy, null, 3, weights, grads, ws, overwriteWeights: [true, false, true, false]);
        for (int j = 0; j < 4; j++)
            for (int i = 0; i < grads[j].Length; i++)
                Assert.Equal(j % 2 == 0 ? fromZeros[j][i] : fromZeros[j][i] + 2f, grads[j][i]);
    }
}
