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

/// <summary>Expands dimension <see cref="Dim"/> into <see cref="UnflattenedSize"/> (PyTorch: <c>torch.nn.Unflatten</c>), the inverse of <see cref="Flatten"/>.</summary>
[Module]
public sealed partial class Unflatten : Module
{
    /// <summary>Creates the layer (PyTorch: <c>nn.Unflatten(dim, unflattened_size)</c>); one size may be -1 (inferred).</summary>
    public Unflatten(int dim, int[] unflattenedSize)
    {
        ArgumentNullException.ThrowIfNull(unflattenedSize);
        if (unflattenedSize.Length == 0) throw new ArgumentException("Unflatten: unflattened_size must not be empty.");
        if (unflattenedSize.Count(s => s == -1) > 1 || unflattenedSize.Any(s => s < -1))
        {
            throw new ArgumentException($"Unflatten: unflattened_size {ShapeUtil.Format(unflattenedSize)} may hold non-negative sizes and at most one -1.");
        }
        Dim = dim;
        UnflattenedSize = (int[])unflattenedSize.Clone();
    }

    /// <summary>The dimension to expand (PyTorch: <c>dim</c>).</summary>
    public int Dim { get; }

    /// <summary>The sizes it becomes (PyTorch: <c>unflattened_size</c>).</summary>
    public int[] UnflattenedSize { get; }

    /// <summary>Reshapes the input (PyTorch: <c>forward</c>); a view when the strides allow it.</summary>
    public Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        int d = Tensor.NormalizeDim(Dim, input.Rank);
        int known = 1;
        foreach (var s in UnflattenedSize) if (s != -1) known *= s;
        bool infer = UnflattenedSize.Contains(-1);
        if (infer ? known == 0 || input._shape[d] % known != 0 : known != input._shape[d])
        {
            throw new ArgumentException(
                $"Unflatten: the sizes {ShapeUtil.Format(UnflattenedSize)} don't multiply to dimension {d} of the input (size {input._shape[d]}, input shape {ShapeUtil.Format(input._shape)}).");
        }
        return input.Reshape([.. input._shape[..d], .. UnflattenedSize, .. input._shape[(d + 1)..]]);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"dim={Dim}, unflattened_size={Py.Tuple(UnflattenedSize)}";
}
