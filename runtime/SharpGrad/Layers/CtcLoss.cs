namespace SharpGrad.Layers;

/// <summary>The Connectionist Temporal Classification loss (PyTorch: <c>torch.nn.CTCLoss</c>); see <see cref="Losses.Ctc(Tensor, Tensor, Tensor, Tensor, int, Reduction, bool)"/>.</summary>
[Module]
public sealed partial class CTCLoss : Module
{
    /// <summary>Creates the loss (PyTorch: <c>CTCLoss(blank=0, reduction='mean', zero_infinity=False)</c>).</summary>
    public CTCLoss(int blank = 0, Reduction reduction = Reduction.Mean, bool zeroInfinity = false)
    {
        if (blank < 0) throw new ArgumentException($"CTCLoss: blank must be a class index >= 0, but got {blank}.");
        Blank = blank;
        Reduction = reduction;
        ZeroInfinity = zeroInfinity;
    }

    /// <summary>The blank class (PyTorch: <c>blank</c>).</summary>
    public int Blank { get; }

    /// <summary>How the per-sequence losses are reduced (PyTorch: <c>reduction</c>).</summary>
    public Reduction Reduction { get; }

    /// <summary>Whether infinite losses and their gradients become zero (PyTorch: <c>zero_infinity</c>).</summary>
    public bool ZeroInfinity { get; }

    /// <summary>Computes the loss (PyTorch: <c>forward(log_probs, targets, input_lengths, target_lengths)</c>).</summary>
    public Tensor Forward(Tensor logProbs, Tensor targets, Tensor inputLengths, Tensor targetLengths) =>
        Losses.Ctc(logProbs, targets, inputLengths, targetLengths, Blank, Reduction, ZeroInfinity);

    /// <inheritdoc/>
    protected override string ExtraRepr() => Blank == 0 ? "" : $"blank={Blank}";
}
