using SharpGrad.Kernels;
using SharpGrad.Tests.Kernels;

namespace SharpGrad.Tests.Nn;

/// <summary>
/// W_hh's and W_ih's gradients with dG packed once for both products (session 20 round 2, docs/performance.md "LSTM step,
/// session 20"): <see cref="RecurrentKernel.WeightGradsSharingDG"/> must give the bits of <see cref="RecurrentKernel.HiddenWeightGrad"/>
/// and <see cref="RecurrentKernel.WeightGradTransposed"/> (the packed GEMM packing dG per k-block, what ran before and still
/// runs where the sharing does not apply), added into gradients that already hold values. Sizes: lstm_train_step_b32's layer
/// whole and as the second column half, odd sizes (rows of dW not whole 6-row tiles, a partial last panel, columns from an
/// odd offset, several k-blocks whose boundaries differ between the two products), reversed, with and without h_0. The packed
/// path's width is the machine's (its micro-kernels at both widths: DirectGemmTests).
/// </summary>
public class LstmSharedWeightGradTests
{
    public static TheoryData<int, int, int, int, bool, bool, int, int> Shapes => new()
    {
        // steps, batch, hidden, input, reverse, h0, j0, jw
        { 35, 32, 128, 64, false, false, 0, 512 },
        { 35, 32, 128, 64, false, false, 256, 256 },
        { 50, 19, 70, 71, true, true, 0, 280 },
        { 50, 19, 70, 71, false, true, 3, 270 },
        { 40, 17, 130, 71, false, false, 0, 520 },
        { 40, 17, 130, 71, true, false, 8, 500 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void SharedPackingEqualsTheSeparateProducts(int steps, int batch, int hidden, int input, bool reverse, bool withH0, int j0, int jw)
    {
        var s = new RecurrenceShape(RecurrentMode.Lstm, steps, batch, hidden, reverse);
        int g = 4 * hidden, rows = steps * batch;
        Assert.True(RecurrentKernel.CanShareDG(s, input, jw), "the case must take the shared packing");
        var rng = new Rng(steps * 131 + batch * 17 + hidden + input + j0);
        var output = SmallGemmTests.Random(rows * hidden, rng);
        var x = SmallGemmTests.Random(rows * input, rng);
        var dG = SmallGemmTests.Random(rows * g, rng);
        var h0 = withH0 ? SmallGemmTests.Random(batch * hidden, rng) : new float[batch * hidden];
        var whh0 = SmallGemmTests.Random(g * hidden, rng);
        var wih0 = SmallGemmTests.Random(g * input, rng);

        var whh = (float[])whh0.Clone();
        var wih = (float[])wih0.Clone();
        RecurrentKernel.HiddenWeightGrad(s, output, h0, dG, whh, j0, jw, allowParallel: false);
        RecurrentKernel.WeightGradTransposed(x, 0, dG, 0, rows, null, 0, 0, input, g, wih, j0, jw, allowParallel: false);

        var shh = (float[])whh0.Clone();
        var sih = (float[])wih0.Clone();
        RecurrentKernel.WeightGradsSharingDG(s, output, h0, x, input, dG, shh, sih, j0, jw);

        AssertBits(whh, shh, "dW_hh");
        AssertBits(wih, sih, "dW_ih");
        // Rows outside [j0, j0 + jw) untouched.
        Assert.Equal(whh0.AsSpan(0, j0 * hidden).ToArray(), shh.AsSpan(0, j0 * hidden).ToArray());
        Assert.Equal(wih0.AsSpan((j0 + jw) * input).ToArray(), sih.AsSpan((j0 + jw) * input).ToArray());
    }

    private static void AssertBits(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
                Assert.Fail($"{what}[{i}]: {actual[i]:R}, separate products {expected[i]:R}");
        }
    }
}
