namespace SharpGrad.Layers;

/// <summary>Returns its input unchanged (PyTorch: <c>torch.nn.Identity</c>).</summary>
[Module]
public sealed partial class Identity : Module
{
    /// <summary>Creates the layer.</summary>
    public Identity()
    {
    }

    /// <summary>Returns <paramref name="input"/> (PyTorch: <c>forward</c>).</summary>
    public Tensor Forward(Tensor input) => input;
}

/// <summary>Flattens dimensions <see cref="StartDim"/>..<see cref="EndDim"/> into one (PyTorch: <c>torch.nn.Flatten</c>).</summary>
[Module]
public sealed partial class Flatten : Module
{
    /// <summary>Creates the layer; by default it keeps the batch dimension and flattens the rest.</summary>
    public Flatten(int startDim = 1, int endDim = -1)
    {
        StartDim = startDim;
        EndDim = endDim;
    }

    /// <summary>The first dimension to flatten (PyTorch: <c>start_dim</c>).</summary>
    public int StartDim { get; }

    /// <summary>The last dimension to flatten (PyTorch: <c>end_dim</c>).</summary>
    public int EndDim { get; }

    /// <summary>Flattens the input (PyTorch: <c>forward</c>).</summary>
    public Tensor Forward(Tensor input) => input.Flatten(StartDim, EndDim);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"start_dim={StartDim}, end_dim={EndDim}";
}
