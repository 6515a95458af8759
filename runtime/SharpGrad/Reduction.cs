namespace SharpGrad;

/// <summary>How a loss reduces its per-element values (PyTorch: the <c>reduction</c> argument).</summary>
public enum Reduction
{
    /// <summary>No reduction: one loss per element (PyTorch: <c>'none'</c>).</summary>
    None,
    /// <summary>The mean of the elements (PyTorch: <c>'mean'</c>, the default).</summary>
    Mean,
    /// <summary>The sum of the elements (PyTorch: <c>'sum'</c>).</summary>
    Sum,
}
