using SharpGrad;
using SharpGrad.Kernels;

namespace SharpGrad.Tests.LossTests;

/// <summary>
/// ClassIndexLoss's float32 rows path (input [n, c], no class weights, no label smoothing: the exponentials as vectors over
/// the batch) against the general path's arithmetic written out here element by element with <see cref="Math.Exp(double)"/>:
/// the log-probabilities, the loss and the gradient bit for bit, on odd sizes, with ignored targets, for Mean, Sum and None,
/// through the compiled entry points (float[]) and the generic kernels eager mode calls.
/// </summary>
public class CrossEntropyRowsPathTests
{
    private const long Ignore = -100;

    public static TheoryData<int, int, int> Sizes => new()
    {
        { 1, 1, 1 }, { 3, 10, 2 }, { 64, 10, 3 }, { 37, 17, 4 }, { 5, 1000, 5 }, { 130, 9, 6 },
    };

    /// <summary>Logits of both signs and a wide range, some rows' targets ignored (not the first row's).</summary>
    private static (float[] X, long[] Y) Make(int n, int c, int seed)
    {
        var rnd = new Random(seed);
        var x = new float[n * c];
        for (int i = 0; i < x.Length; i++) x[i] = (float)((rnd.NextDouble() - 0.5) * (i % 7 == 0 ? 40 : 6));
        var y = new long[n];
        for (int i = 0; i < n; i++) y[i] = i > 0 && rnd.Next(5) == 0 ? Ignore : rnd.Next(c);
        return (x, y);
    }

    /// <summary>The general path's forward: log-softmax in double per row, then the summed NLL and the non-ignored count.</summary>
    private static (float[] LogP, double SumNll, double Count) ReferenceForward(float[] x, long[] y, int n, int c)
    {
        var logp = new float[n * c];
        double sumNll = 0, count = 0;
        for (int i = 0; i < n; i++)
        {
            double max = double.NegativeInfinity;
            for (int k = 0; k < c; k++) max = Math.Max(max, x[i * c + k]);
            double sum = 0;
            for (int k = 0; k < c; k++) sum += Math.Exp(x[i * c + k] - max);
            double lse = max + Math.Log(sum);
            for (int k = 0; k < c; k++) logp[i * c + k] = (float)(x[i * c + k] - lse);
        }
        for (int i = 0; i < n; i++)
        {
            if (y[i] == Ignore) continue;
            sumNll += -1.0 * logp[i * c + (int)y[i]];
            count += 1;
        }
        return (logp, sumNll, count);
    }

    /// <summary>The general path's backward: gx[i, k] += coef_k − exp(logp) · Σ coef, coef = −g/denominator at the target.</summary>
    private static void ReferenceBackward(float[] logp, long[] y, Func<int, double> g, double denominator, float[] gx, int n, int c)
    {
        for (int i = 0; i < n; i++)
        {
            if (y[i] == Ignore) continue;
            double a = -(1 - 0.0) * g(i) / denominator, sumCoef = 0;
            var coef = new double[c];
            for (int k = 0; k < c; k++)
            {
                double ck = 0 * 1.0;
                if (k == y[i]) ck += a * 1.0;
                coef[k] = ck;
                sumCoef += ck;
            }
            for (int k = 0; k < c; k++) gx[i * c + k] += (float)(coef[k] - Math.Exp(logp[i * c + k]) * sumCoef);
        }
    }

    private static void AssertBits(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
                Assert.Fail($"{what}[{i}]: expected {expected[i]:R}, got {actual[i]:R}");
        }
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void CompiledEntryPointsEqualTheGeneralArithmeticBitForBit(int n, int c, int seed)
    {
        var (x, y) = Make(n, c, seed);
        var target = Tensor.FromArray(y, [n]);
        var (refLogp, sumNll, count) = ReferenceForward(x, y, n, c);
        foreach (var reduction in new[] { Reduction.Mean, Reduction.Sum })
        {
            var logp = new float[n * c];
            float loss = ClassIndexLoss.Forward(x, target, logp, n, c, reduction, Ignore, logSoftmax: true);
            AssertBits(refLogp, logp, "logp");
            double denominator = reduction == Reduction.Mean ? count : 1;
            Assert.Equal(BitConverter.SingleToInt32Bits((float)(sumNll / denominator)), BitConverter.SingleToInt32Bits(loss));

            // accumulated into a gradient that already holds values
            var rnd = new Random(seed + 100);
            var gx = new float[n * c];
            for (int i = 0; i < gx.Length; i++) gx[i] = rnd.NextSingle() - 0.5f;
            var expected = (float[])gx.Clone();
            const float gLoss = 0.75f;
            ReferenceBackward(refLogp, y, _ => gLoss, denominator, expected, n, c);
            ClassIndexLoss.Backward(logp, target, gLoss, gx, n, c, reduction, Ignore, logSoftmax: true);
            AssertBits(expected, gx, $"gx ({reduction})");
        }
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void GenericKernelsWithoutReductionEqualTheGeneralArithmeticBitForBit(int n, int c, int seed)
    {
        var (x, y) = Make(n, c, seed);
        var (refLogp, _, _) = ReferenceForward(x, y, n, c);
        var setup = new ClassIndexLoss.Setup { N = n, C = c, S = 1, IgnoreIndex = Ignore, Reduction = Reduction.None, LogSoftmax = true };
        var logp = new float[n * c];
        var perRow = new double[n];
        ClassIndexLoss.Forward<float>(x, logp, new Indices(y), ref setup, perRow);
        AssertBits(refLogp, logp, "logp");
        for (int i = 0; i < n; i++)
            Assert.Equal(y[i] == Ignore ? 0.0 : -1.0 * refLogp[i * c + (int)y[i]], perRow[i]);

        var g = new float[n];
        for (int i = 0; i < n; i++) g[i] = 0.25f + i % 3;
        var gx = new float[n * c];
        var expected = new float[n * c];
        ReferenceBackward(refLogp, y, i => g[i], 1, expected, n, c);
        ClassIndexLoss.Backward<float>(logp, g, gx, new Indices(y), setup, accumulate: false);
        AssertBits(expected, gx, "gx (None)");
    }

    [Fact]
    public void NaNLogitsGiveNaNRowsAsTheGeneralPath()
    {
        var (x, y) = Make(4, 10, 9);
        y[2] = 3;
        x[2 * 10 + 5] = float.NaN;
        var (refLogp, _, _) = ReferenceForward(x, y, 4, 10);
        var logp = new float[40];
        float loss = ClassIndexLoss.Forward(x, Tensor.FromArray(y, [4]), logp, 4, 10, Reduction.Mean, Ignore, logSoftmax: true);
        AssertBits(refLogp, logp, "logp");
        Assert.True(float.IsNaN(loss));
    }
}
