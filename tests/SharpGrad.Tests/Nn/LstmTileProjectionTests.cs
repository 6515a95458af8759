using SharpGrad.Tests.Support;
using SharpGrad.Kernels;
using SharpGrad.Tests.Kernels;

namespace SharpGrad.Tests.Nn;

/// <summary>
/// The compiled LSTM's input projection x·W_ihᵀ in the fused forward's tiles (session 19, docs/performance.md "LSTM step,
/// session 19"): where <see cref="RecurrentKernel.CanProjectInTiles"/> allows it, the stack's forward must give the bits of
/// the projection GEMM followed by the recurrence over its result (what it ran before, and still runs elsewhere): the
/// outputs, the final cell state and, through the gates the forward keeps, every gradient. Both vector widths (512 emulated
/// where the machine lacks it), 6-row and 4-row tiles, h a multiple of AVX2's w only (column blocks straddling two gates), a given
/// h_0 and c_0, and one thread and two (the batch split).
/// </summary>
[Collection(ThreadCountCollection.Name)]
public class LstmTileProjectionTests
{
    public static TheoryData<int, int, int, int, int, bool, int> Shapes => new()
    {
        // input, hidden, steps, batch, width, initial states, threads
        { 64, 128, 35, 32, 256, false, 1 },
        { 64, 128, 35, 32, 512, false, 1 },
        { 64, 128, 35, 32, 256, false, 2 },
        { 100, 64, 40, 23, 256, true, 1 },
        { 100, 64, 40, 23, 512, true, 1 },
        { 37, 136, 40, 23, 256, true, 1 },
        { 37, 136, 40, 23, 256, false, 2 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void ProjectionInTheTilesEqualsTheProduct(int input, int hidden, int steps, int batch, int width, bool initial, int threads)
    {
        var s = new RecurrentShape(RecurrentMode.Lstm, input, hidden, 1, false, BatchFirst: false, Bias: true, steps);
        var step = s.Step(batch, 0);
        int g = 4 * hidden, rows = steps * batch, nh = batch * hidden;
        var rng = new Rng(input * 131 + hidden + steps * 7 + batch);
        float[] R(int len, float scale)
        {
            var a = SmallGemmTests.Random(len, rng);
            for (int i = 0; i < len; i++) a[i] *= scale;
            return a;
        }
        float[] wIh = R(g * input, 0.3f), wHh = R(g * hidden, 0.3f), bIh = R(g, 0.3f), bHh = R(g, 0.3f);
        var x = R(rows * input, 1f);
        float[]? h0 = initial ? R(nh, 0.5f) : null, c0 = initial ? R(nh, 0.5f) : null;
        int saved = Parallelism.MaxThreads, savedWidth = RecurrentKernel.t_forcedLstmWidth;
        try
        {
            Parallelism.MaxThreads = threads;
            RecurrentKernel.t_forcedLstmWidth = width;
            Assert.True(RecurrentKernel.CanProjectInTiles(step, rows, input), "the case takes the projection in the tiles");

            var ws = new RecurrentWorkspace();
            var y = new float[rows * hidden];
            RecurrentStack.Forward(s, x, y, batch, [wIh, wHh, bIh, bHh], ws, h0, c0);
            var cn = new float[nh];
            RecurrentStack.FinalState(s, 2, cn, batch, ws);

            // The product, then the recurrence over it (the stack's LSTM adds b_ih + b_hh in the cell).
            var xw = new float[rows * g];
            Gemm.Sgemm(false, true, rows, g, input, 1f, x, 0, input, wIh, 0, input, 0f, xw, 0, g);
            var bias = new float[g];
            for (int i = 0; i < g; i++) bias[i] = bIh[i] + bHh[i];
            var expected = new float[rows * hidden];
            var cLast = new float[nh];
            var buffers = new RecurrenceBuffers<float>();
            RecurrentKernel.Forward<float>(step, xw, h0 ?? new float[nh], c0, wHh, 0, bias, expected, cLast, buffers);

            AssertSameBits(expected, y, "output");
            AssertSameBits(cLast, cn, "c_n");
            AssertSameBits(buffers.Gates, ws.Buffers[0].Gates, "gates");
        }
        finally
        {
            Parallelism.MaxThreads = saved;
            RecurrentKernel.t_forcedLstmWidth = savedWidth;
        }

        void AssertSameBits(float[] e, float[] a, string what)
        {
            for (int i = 0; i < e.Length; i++)
            {
                if (BitConverter.SingleToInt32Bits(e[i]) != BitConverter.SingleToInt32Bits(a[i]))
                    Assert.Fail($"{input}→{hidden}, {steps} steps × {batch}, {width} bits, {threads} thread(s): {what} element {i} is {a[i]:R} with the projection in the tiles, {e[i]:R} after the product");
            }
        }
    }

    /// <summary>
    /// The stack's workspace holds no projection array for an LSTM that projects in its tiles (lstm_train_step_b32's layer:
    /// 2.3 MB it never reads), and still sizes one at the first forward of a layer that runs the product (a GRU).
    /// </summary>
    [Theory]
    [InlineData(RecurrentMode.Lstm)]
    [InlineData(RecurrentMode.Gru)]
    public void WorkspaceHoldsAProjectionOnlyWhereTheProductRuns(RecurrentMode mode)
    {
        const int input = 64, hidden = 128, steps = 35, batch = 32;
        var s = new RecurrentShape(mode, input, hidden, 1, false, BatchFirst: false, Bias: true, steps);
        int g = s.Step(batch, 0).GateWidth, rows = steps * batch;
        var rng = new Rng(7);
        float[][] weights = [SmallGemmTests.Random(g * input, rng), SmallGemmTests.Random(g * hidden, rng), SmallGemmTests.Random(g, rng), SmallGemmTests.Random(g, rng)];
        var ws = new RecurrentWorkspace();
        RecurrentStack.Forward(s, SmallGemmTests.Random(rows * input, rng), new float[rows * hidden], batch, weights, ws, null, null);
        bool inTiles = mode == RecurrentMode.Lstm && RecurrentKernel.CanProjectInTiles(s.Step(batch, 0), rows, input);
        Assert.Equal(mode == RecurrentMode.Lstm, inTiles);
        Assert.Equal(inTiles ? 0 : rows * g, ws.Projections[0].Length);
    }
}
