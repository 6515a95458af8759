namespace SharpGrad.Layers;

/// <summary>
/// Zeroes elements with probability p in training and scales the rest by 1 / (1 − p); passes input through in evaluation
/// (PyTorch: <c>torch.nn.Dropout</c>).
/// </summary>
[Module]
public sealed partial class Dropout : Module
{
    /// <summary>Creates the layer (PyTorch: <c>nn.Dropout(p)</c>); <paramref name="rng"/> draws the masks (default <see cref="Rng.Default"/>).</summary>
    public Dropout(double p = 0.5, Rng? rng = null)
    {
        if (p < 0 || p > 1 || double.IsNaN(p)) throw new ArgumentException($"Dropout: the probability p must be between 0 and 1, but got {p}.");
        P = p;
        Rng = rng;
    }

    /// <summary>The probability of zeroing an element (PyTorch: <c>p</c>).</summary>
    public double P { get; }

    /// <summary>The generator for the masks, or null for <see cref="SharpGrad.Rng.Default"/>.</summary>
    public Rng? Rng { get; set; }

    /// <summary>Applies dropout in training mode, identity in evaluation (PyTorch: <c>forward</c>).</summary>
    public Tensor Forward(Tensor input) => Functional.Dropout(input, P, Training, Rng);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"p={Py.Float(P)}, inplace=False";
}

/// <summary>
/// Zeroes whole channels of [N, C, H, W] input with probability p in training and scales the rest by 1 / (1 − p); passes input
/// through in evaluation (PyTorch: <c>torch.nn.Dropout2d</c>).
/// </summary>
[Module]
public sealed partial class Dropout2d : Module
{
    /// <summary>Creates the layer (PyTorch: <c>nn.Dropout2d(p, inplace)</c>); <paramref name="rng"/> draws the masks (default <see cref="Rng.Default"/>).</summary>
    public Dropout2d(double p = Ops.OpDefaults.Dropout.P, bool inplace = false, Rng? rng = null)
    {
        Kernels.DropoutKernel.CheckProbability(p);
        P = p;
        Inplace = inplace;
        Rng = rng;
    }

    /// <summary>The probability of zeroing a channel (PyTorch: <c>p</c>).</summary>
    public double P { get; }

    /// <summary>PyTorch's <c>inplace</c> flag, kept for the architecture; the op runs out of place.</summary>
    public bool Inplace { get; }

    /// <summary>The generator for the masks, or null for <see cref="SharpGrad.Rng.Default"/>.</summary>
    public Rng? Rng { get; set; }

    /// <summary>Applies channel dropout in training mode, identity in evaluation (PyTorch: <c>forward</c>).</summary>
    public Tensor Forward(Tensor input) => Functional.Dropout2d(input, P, Training, Rng);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"p={Py.Float(P)}, inplace={Py.Bool(Inplace)}";
}
