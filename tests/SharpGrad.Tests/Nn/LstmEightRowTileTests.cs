using SharpGrad.Kernels;
using SharpGrad.Tests.Kernels;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Nn;

/// <summary>
/// The fused LSTM loops' 8-row × 2-vector tiles (512-bit vectors, session 26): the stack's forward (the projection in the tiles
/// and the recurrence) and backward (the time loop with the cell backward in its epilogue, the weight and input gradients)
/// give the bits of the 6- and 4-row tiles alone (<see cref="RecurrentKernel.t_noEightRowTiles"/>): outputs, c_n, every
/// gradient. Odd batches (8-row tiles then 6- and 4-row ones, a 4-row tile of 1–3 rows), h a multiple of 2w (two-vector
/// backward blocks) or only of w (one-vector backward blocks: no 8-row tiles there, the forward's column blocks straddle
/// two gates), given initial states, one and two threads (batch blocks); at 256 bits no 8-row tile is taken. 512 bits are
/// emulated where the machine lacks them (DOTNET_EnableAVX512=0).
/// </summary>
[Collection(ThreadCountCollection.Name)]
public class LstmEightRowTileTests
{
    public static TheoryData<int, int, int, int, int, bool, int> Shapes => new()
    {
        // input, hidden, steps, batch, width, initial states, threads
        { 64, 128, 35, 32, 512, false, 1 },   // lstm_train_step_b32: 4 tiles of 8
        { 64, 128, 35, 32, 512, false, 2 },   // two blocks of 16: 2 + 2
        { 37, 32, 9, 13, 512, true, 1 },      // 8 + 4 + 1
        { 37, 32, 9, 21, 512, false, 1 },     // 8·2 + 4 + 1
        { 20, 64, 6, 35, 512, true, 1 },      // 8·4 + 3
        { 20, 64, 6, 35, 512, true, 2 },      // blocks of 18 (8·2 + 2) and 17 (8·2 + 1)
        { 30, 48, 5, 19, 512, true, 1 },      // h = 3w: one-vector backward blocks
        { 64, 16, 4, 8, 512, false, 1 },      // one 8-row tile, one two-vector block
        { 37, 32, 9, 21, 256, true, 1 },      // no 8-row tile at 256 bits
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void EightRowTilesGiveTheBitsOfTheSixAndFourRowTiles(int input, int hidden, int steps, int batch, int width, bool initial, int threads)
    {
        var s = new RecurrentShape(RecurrentMode.Lstm, input, hidden, 1, false, BatchFirst: true, Bias: true, steps);
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
        var gy = R(rows * hidden, 1f);
        float[]? h0 = initial ? R(nh, 0.5f) : null, c0 = initial ? R(nh, 0.5f) : null;
        int saved = Parallelism.MaxThreads, savedWidth = RecurrentKernel.t_forcedLstmWidth;
        try
        {
            Parallelism.MaxThreads = threads;
            RecurrentKernel.t_forcedLstmWidth = width;
            var eight = Run(false);
            var before = Run(true);
            string[] what = ["output", "c_n", "input gradient", "W_ih gradient", "W_hh gradient", "b_ih gradient", "b_hh gradient", "h_0 gradient", "c_0 gradient"];
            for (int k = 0; k < what.Length; k++) AssertSameBits(before[k], eight[k], what[k]);
        }
        finally
        {
            Parallelism.MaxThreads = saved;
            RecurrentKernel.t_forcedLstmWidth = savedWidth;
            RecurrentKernel.t_noEightRowTiles = false;
        }

        float[][] Run(bool noEight)
        {
            RecurrentKernel.t_noEightRowTiles = noEight;
            var ws = new RecurrentWorkspace();
            var y = new float[rows * hidden];
            RecurrentStack.Forward(s, x, y, batch, [wIh, wHh, bIh, bHh], ws, h0, c0);
            var cn = new float[nh];
            RecurrentStack.FinalState(s, 2, cn, batch, ws);
            var gx = new float[rows * input];
            float[] gWih = new float[g * input], gWhh = new float[g * hidden], gBih = new float[g], gBhh = new float[g];
            float[]? gh0 = initial ? new float[nh] : null, gc0 = initial ? new float[nh] : null;
            RecurrentStack.Backward(s, gy, gx, batch, [wIh, wHh, bIh, bHh], [gWih, gWhh, gBih, gBhh], ws, gh0, gc0);
            return [y, cn, gx, gWih, gWhh, gBih, gBhh, gh0 ?? [], gc0 ?? []];
        }

        void AssertSameBits(float[] e, float[] a, string what)
        {
            Assert.Equal(e.Length, a.Length);
            for (int i = 0; i < e.Length; i++)
            {
                if (BitConverter.SingleToInt32Bits(e[i]) != BitConverter.SingleToInt32Bits(a[i]))
                    Assert.Fail($"{input}→{hidden}, {steps} steps × {batch}, {width} bits, {threads} thread(s): {what} element {i} is {a[i]:R} with 8-row tiles, {e[i]:R} without");
            }
        }
    }

    [Theory]
    [InlineData(32, 4)]
    [InlineData(35, 4)]
    [InlineData(7, 0)]
    [InlineData(16, 2)]
    public void EightRowTilesOnlyAt512Bits(int rows, int eight)
    {
        Assert.Equal(eight, RecurrentKernel.LstmEightRowTiles<float, System.Runtime.Intrinsics.Vector512<float>>(rows));
        Assert.Equal(0, RecurrentKernel.LstmEightRowTiles<float, System.Runtime.Intrinsics.Vector256<float>>(rows));
    }
}
