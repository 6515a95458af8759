namespace SharpGrad;

/// <summary>
/// Marks a <c>partial</c> class as a module (PyTorch: a subclass of <c>torch.nn.Module</c>). The SharpGrad generator makes it
/// derive from <see cref="Module"/> and writes, at build time, its named children, parameters and buffers from its fields.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class ModuleAttribute : Attribute
{
    /// <summary>False keeps the model eager-only (no compiled program is generated).</summary>
    public bool Compile { get; set; } = true;
}

/// <summary>
/// Marks a <c>partial</c> class whose module fields run one after another (PyTorch: <c>nn.Sequential</c> with an <c>OrderedDict</c>):
/// the generator writes <c>Forward</c> calling the fields in declaration order, named after the fields.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class SequentialAttribute : Attribute
{
}

/// <summary>Marks a tensor field of a <c>[Module]</c> class as a buffer: saved in the state dict, not trained (PyTorch: <c>register_buffer</c>).</summary>
[AttributeUsage(AttributeTargets.Field | AttributeTargets.Property, Inherited = false)]
public sealed class BufferAttribute : Attribute
{
}

/// <summary>Marks an extra method of a <c>[Module]</c> (e.g. <c>Loss(x, target)</c>) to be compiled like <c>Forward</c>.</summary>
[AttributeUsage(AttributeTargets.Method, Inherited = false)]
public sealed class CompiledAttribute : Attribute
{
}

/// <summary>
/// Declares the shape of a <c>Forward</c> parameter or return value: strings are symbolic dims (batch), numbers are fixed.
/// <code>public Tensor Forward([Shape("N", 3, 8, 8)] Tensor x)</code>
/// </summary>
[AttributeUsage(AttributeTargets.Parameter | AttributeTargets.ReturnValue | AttributeTargets.Field, Inherited = false)]
public sealed class ShapeAttribute : Attribute
{
    /// <summary>Creates the attribute from dims: <c>int</c> for fixed sizes, <c>string</c> for symbolic ones.</summary>
    public ShapeAttribute(params object[] dims) => Dims = dims;

    /// <summary>The dims as written: <c>int</c> or <c>string</c>.</summary>
    public object[] Dims { get; }
}
