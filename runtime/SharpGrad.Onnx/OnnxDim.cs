using System.Globalization;

namespace SharpGrad.Onnx;

/// <summary>One dimension of an ONNX tensor shape: a fixed size (<c>dim_value</c>), a named symbolic size that ONNX Runtime
/// binds when the model runs (<c>dim_param</c>: the batch <c>"N"</c>, like PyTorch's <c>dynamic_axes</c>), or unknown (a
/// size the builder cannot work out, e.g. a convolution over a symbolic height).</summary>
/// <remarks>Ints and strings convert implicitly, so shapes read like <c>[Shape("N", 3, 32, 32)]</c>:
/// <c>graph.Input("x", "N", 3, 32, 32)</c>.</remarks>
public readonly record struct OnnxDim
{
    private OnnxDim(long? value, string? param)
    {
        Value = value;
        Param = param;
    }

    /// <summary>The fixed size, or null for a symbolic or unknown dimension.</summary>
    public long? Value { get; }

    /// <summary>The symbolic name (<c>dim_param</c>), or null for a fixed or unknown dimension.</summary>
    public string? Param { get; }

    /// <summary>Whether the size is known when the model is exported.</summary>
    public bool IsFixed => Value is not null;

    /// <summary>A dimension the builder could not work out.</summary>
    public static OnnxDim Unknown => default;

    /// <summary>A fixed size.</summary>
    public static OnnxDim Fixed(long size) => size >= 0
        ? new(size, null)
        : throw new ArgumentOutOfRangeException(nameof(size), size, "An ONNX dimension is a size ≥ 0; use a symbolic name (a string) for a size known only when the model runs.");

    /// <summary>A symbolic size named <paramref name="name"/> (ONNX <c>dim_param</c>; PyTorch's <c>dynamic_axes</c>).</summary>
    public static OnnxDim Symbolic(string name) => string.IsNullOrWhiteSpace(name)
        ? throw new ArgumentException("A symbolic ONNX dimension needs a name, e.g. \"N\" for the batch.", nameof(name))
        : new(null, name);

    /// <summary>A fixed size.</summary>
    public static implicit operator OnnxDim(int size) => Fixed(size);

    /// <summary>A fixed size.</summary>
    public static implicit operator OnnxDim(long size) => Fixed(size);

    /// <summary>A symbolic size.</summary>
    public static implicit operator OnnxDim(string name) => Symbolic(name);

    /// <inheritdoc/>
    public override string ToString() => Value?.ToString(CultureInfo.InvariantCulture) ?? Param ?? "?";

    internal static string Format(IReadOnlyList<OnnxDim> shape) => "[" + string.Join(", ", shape) + "]";
}

/// <summary>The element type of an ONNX tensor (the subset SharpGrad exports).</summary>
public enum OnnxElementType
{
    /// <summary>32-bit float (ONNX <c>FLOAT</c>, <c>torch.float32</c>).</summary>
    Float32 = 1,
    /// <summary>64-bit integer (ONNX <c>INT64</c>, <c>torch.int64</c>): indices, e.g. an Embedding's input.</summary>
    Int64 = 7,
    /// <summary>Boolean (ONNX <c>BOOL</c>, <c>torch.bool</c>): masks, e.g. an attention's key padding mask.</summary>
    Bool = 9,
}

/// <summary>A value of the graph being built: a graph input, an initializer (a parameter or a constant) or a node's
/// output. Values are created by <see cref="OnnxGraphBuilder"/> and passed back to it.</summary>
public sealed class OnnxValue
{
    internal OnnxValue(OnnxGraphBuilder owner, string name, OnnxElementType elementType, OnnxDim[]? shape)
    {
        Owner = owner;
        Name = name;
        ElementType = elementType;
        Shape = shape;
    }

    internal OnnxGraphBuilder Owner { get; }

    /// <summary>The value's name in the ONNX graph (an initializer is named by its PyTorch parameter name).</summary>
    public string Name { get; }

    /// <summary>The element type.</summary>
    public OnnxElementType ElementType { get; }

    /// <summary>The shape as far as the builder knows it, or null when not even the rank is known.</summary>
    public IReadOnlyList<OnnxDim>? Shape { get; }

    /// <summary>The rank, or null when unknown.</summary>
    public int? Rank => Shape?.Count;

    /// <inheritdoc/>
    public override string ToString() => Shape is null ? Name : Name + " " + OnnxDim.Format(Shape);
}
