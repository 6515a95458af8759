using SharpGrad.Layers;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Nn;

/// <summary>
/// The fused recurrence (<c>Recurrence.Sequence</c>: one autograd node, flat loops, hand-written backward) against the same
/// steps written with tensor ops (<c>Recurrence.StepByStep</c>, <c>Recurrence.Step</c> T times, differentiated by autograd):
/// outputs, final states and the gradients of all five inputs, for every kind, both directions and both float types. The
/// layers built on it are checked against PyTorch (SequenceLayerFixtureTests) and finite differences (SequenceLayerGradCheckTests).
/// </summary>
public class RecurrenceSequenceTests
{
    public static TheoryData<string, bool, DType> Cases()
    {
        var data = new TheoryData<string, bool, DType>();
        foreach (var mode in new[] { "LSTM", "GRU", "RNN_TANH", "RNN_RELU" })
        {
            foreach (var reverse in new[] { false, true })
            {
                data.Add(mode, reverse, DType.Float32);
                data.Add(mode, reverse, DType.Float64);
            }
        }
        return data;
    }

    /// <summary>The same with the kernel's batch split forced (3 rows in blocks of 1 and 2, each run through all steps alone).</summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void FusedEqualsStepByStepWithTheBatchSplit(string mode, bool reverse, DType dtype)
    {
        SharpGrad.Kernels.RecurrentKernel.t_forcedBatchParts = 2;
        try
        {
            FusedEqualsStepByStep(mode, reverse, dtype);
        }
        finally
        {
            SharpGrad.Kernels.RecurrentKernel.t_forcedBatchParts = 0;
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void FusedEqualsStepByStep(string mode, bool reverse, DType dtype)
    {
        const int steps = 7, n = 3, h = 5;
        int g = Recurrence.Gates(mode) * h;
        var rng = new Rng(mode.Length * 10 + (reverse ? 1 : 0));
        Tensor Leaf(params int[] shape) => Tensor.Randn(shape, dtype, rng: rng).RequiresGrad_();
        var xw = Leaf(steps, n, g);
        var h0 = Leaf(n, h);
        var c0 = mode == "LSTM" ? Leaf(n, h) : null;
        var wHh = Leaf(g, h);
        var bHh = Leaf(g);
        Tensor[] leaves = c0 is null ? [xw, h0, wHh, bHh] : [xw, h0, c0, wHh, bHh];
        var seedOut = Tensor.Randn([steps, n, h], dtype, rng: rng);
        var seedH = Tensor.Randn([n, h], dtype, rng: rng);
        var seedC = Tensor.Randn([n, h], dtype, rng: rng);

        var (output, hN, cN) = Recurrence.Sequence(mode, xw, h0, c0, wHh, bHh, reverse);
        var fusedLoss = (output * seedOut).Sum() + (hN * seedH).Sum() + (cN is null ? Tensor.Zeros([], dtype) : (cN * seedC).Sum());
        var fused = Autograd.Grad([fusedLoss], leaves);

        var packed = Recurrence.StepByStep(mode, xw, h0, c0, wHh, bHh, reverse);
        var refOutput = packed.Narrow(0, 0, steps);
        var refH = packed.Select(0, reverse ? 0 : steps - 1);
        var refLoss = (refOutput * seedOut).Sum() + (refH * seedH).Sum() + (c0 is null ? Tensor.Zeros([], dtype) : (packed.Select(0, steps) * seedC).Sum());
        var reference = Autograd.Grad([refLoss], leaves);

        double rtol = dtype == DType.Float32 ? 1e-5 : 1e-12, atol = dtype == DType.Float32 ? 1e-6 : 1e-13;
        TensorAssert.Close(refOutput, output, rtol, atol, $"{mode}: outputs");
        TensorAssert.Close(refH, hN, rtol, atol, $"{mode}: h_T");
        if (c0 is not null) TensorAssert.Close(packed.Select(0, steps), cN!, rtol, atol, $"{mode}: c_T");
        else Assert.Null(cN);
        string[] names = c0 is null ? ["xw", "h0", "W_hh", "b_hh"] : ["xw", "h0", "c0", "W_hh", "b_hh"];
        for (int i = 0; i < leaves.Length; i++) TensorAssert.Close(reference[i]!, fused[i]!, rtol, atol, $"{mode}: gradient of {names[i]}");
    }

    [Fact]
    public void OnlyTheWantedGradientsAreComputed()
    {
        // h_0 and b_hh don't require grad: the node's backward must skip them and still give the others right.
        var rng = new Rng(5);
        var xw = Tensor.Randn([4, 2, 12], rng: rng).RequiresGrad_();
        var h0 = Tensor.Randn([2, 3], rng: rng);
        var c0 = Tensor.Randn([2, 3], rng: rng);
        var wHh = Tensor.Randn([12, 3], rng: rng).RequiresGrad_();
        var bHh = Tensor.Randn([12], rng: rng);
        var fused = Autograd.Grad([Recurrence.Sequence("LSTM", xw, h0, c0, wHh, bHh, reverse: false).Output.Sum()], [xw, wHh]);
        var reference = Autograd.Grad([Recurrence.StepByStep("LSTM", xw, h0, c0, wHh, bHh, reverse: false).Narrow(0, 0, 4).Sum()], [xw, wHh]);
        TensorAssert.Close(reference[0]!, fused[0]!, 1e-5, 1e-6, "gradient of xw");
        TensorAssert.Close(reference[1]!, fused[1]!, 1e-5, 1e-6, "gradient of W_hh");
    }

    [Fact]
    public void EmptySequenceGivesTheInitialStates()
    {
        var lstm = new LSTM(3, 2, rng: new Rng(1));
        var h0 = Tensor.Randn([1, 4, 2], rng: new Rng(2));
        var c0 = Tensor.Randn([1, 4, 2], rng: new Rng(3));
        var (o, (h, c)) = lstm.Forward(Tensor.Zeros([0, 4, 3]), (h0, c0));
        Assert.Equal([0, 4, 2], o.Shape);
        TensorAssert.Close(h0, h, 0, 0, "h_n");
        TensorAssert.Close(c0, c, 0, 0, "c_n");
    }

    [Fact]
    public void ChangingTheOutputInPlaceBeforeBackwardIsAnError()
    {
        var gru = new GRU(3, 2, rng: new Rng(4));
        var (o, _) = gru.Forward(Tensor.Randn([4, 1, 3], rng: new Rng(6)));
        var loss = o.Sum();
        using (Autograd.NoGrad()) o.Mul_(2f);
        var e = Assert.Throws<InvalidOperationException>(() => loss.Backward());
        Assert.Contains("GruBackward", e.Message);
    }

    [Fact]
    public void StatesOfAnotherDTypeAreRefused()
    {
        var lstm = new LSTM(3, 2, rng: new Rng(7));
        var x = Tensor.Randn([4, 1, 3], rng: new Rng(8));
        var h0 = Tensor.Zeros([1, 1, 2], DType.Float64);
        var e = Assert.Throws<ArgumentException>(() => lstm.Forward(x, (h0, Tensor.Zeros([1, 1, 2]))));
        Assert.Contains("same dtype", e.Message);
        Assert.Contains("Float64", e.Message);
    }
}
