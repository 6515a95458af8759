using SharpGrad.Layers;

namespace SharpGrad.Tests.Compiler;

// Models that read a one-layer, one-direction LSTM's output only at its last step (CompiledRecurrentLastStepTests): the
// generator passes `lastStepOnly: true` to their support calls (RecurrentRule.MarkLastStep), which write only that step's
// rows of the output and read only that step's gradient.

/// <summary>lstm_train_step_b32's shape of program at odd sizes: the last step's output into a Linear.</summary>
[Module]
public sealed partial class LstmLastStepHead
{
    private readonly LSTM lstm = new(5, 8, batchFirst: true);
    private readonly Linear head = new(8, 3);

    public Tensor Forward([Shape("N", 7, 5)] Tensor x)
    {
        var (y, _) = lstm.Forward(x);
        return head.Forward(y.Select(1, 6));
    }
}

/// <summary>A batch-second layer ([T, N, I]): the last step is <c>y.Select(0, -1)</c>.</summary>
[Module]
public sealed partial class LstmLastStepBatchSecond
{
    private readonly LSTM lstm = new(5, 16);
    private readonly Linear head = new(16, 3);

    public Tensor Forward([Shape("T", "N", 5)] Tensor x) => head.Forward(lstm.Forward(x).Output.Select(0, -1));
}

/// <summary>A length read at each call: <c>y.Select(1, -1)</c> of [N, T, H].</summary>
[Module]
public sealed partial class LstmLastStepAnyLength
{
    private readonly LSTM lstm = new(4, 8, batchFirst: true);
    private readonly Linear head = new(8, 2);

    public Tensor Forward([Shape("N", "T", 4)] Tensor x) => head.Forward(lstm.Forward(x).Output.Select(1, -1));
}

/// <summary>From (h_0, c_0), the last step and the final states together: h_n's gradient joins the last step's.</summary>
[Module]
public sealed partial class LstmLastStepWithStates
{
    private readonly LSTM lstm = new(4, 8, batchFirst: true);
    private readonly Linear head = new(8, 2);

    public Tensor Forward([Shape("N", 6, 4)] Tensor x, [Shape(1, "N", 8)] Tensor h0, [Shape(1, "N", 8)] Tensor c0)
    {
        var (y, (hN, cN)) = lstm.Forward(x, (h0, c0));
        return head.Forward(y.Select(1, -1) + hN.Select(0, 0) * 0.5f + Functional.Tanh(cN.Select(0, 0)));
    }
}
