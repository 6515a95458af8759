namespace SharpGrad;

/// <summary>
/// A tensor that is a module's learnable weight (PyTorch: <c>torch.nn.Parameter</c>). Requires grad by default;
/// <c>[Module]</c> classes list their <see cref="Parameter"/> fields in <see cref="Module.NamedParameters"/>.
/// </summary>
public sealed class Parameter : Tensor
{
    /// <summary>Wraps <paramref name="data"/> (sharing its storage) as a leaf parameter (PyTorch: <c>nn.Parameter(data, requires_grad)</c>).</summary>
    public Parameter(Tensor data, bool requiresGrad = true)
        : base(RequireLeafData(data))
    {
        RequiresGrad = requiresGrad;
    }

    private static Tensor RequireLeafData(Tensor data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (!data.DType.IsFloatingPoint())
        {
            throw new ArgumentException($"A Parameter must be floating-point, but got a {data.DType} tensor. Use a buffer for integer state.");
        }
        return data;
    }
}
