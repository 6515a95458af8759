using System.ComponentModel;

namespace SharpGrad;

/// <summary>
/// Entry points for the code SharpGrad's generator emits into a module's nested <c>Compiled</c> class (no PyTorch
/// counterpart: the closest is the glue TorchInductor generates). Not meant to be called by hand.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static partial class CompiledSupport
{
    /// <summary>
    /// Enters a compiled program's output into the eager tape as one node (like a custom
    /// <c>torch.autograd.Function</c>): when grad mode is on and an input requires grad, <paramref name="output"/> gets a
    /// node named <paramref name="name"/> whose backward is <paramref name="backward"/>, returning one gradient per input,
    /// accumulated into <c>.Grad</c> like any eager op's. Returns <paramref name="output"/>.
    /// </summary>
    public static Tensor RecordCompiled(Tensor output, string name, Tensor?[] inputs, BackwardFunction backward, params Tensor[] saved)
        => Tensor.Record(output, name, inputs, backward, saved);

    /// <summary>
    /// <see cref="RecordCompiled(Tensor, string, Tensor?[], BackwardFunction, Tensor[])"/> for a program whose backward reads
    /// its inputs and needs only the call's <paramref name="generation"/> and <paramref name="batch"/>: the node saves the
    /// inputs themselves (their in-place changes before the backward are caught) and keeps both numbers
    /// (<see cref="Generation"/>, <see cref="Batch"/>), so that <paramref name="backward"/> can be one delegate per compiled
    /// instance: no closure and no saved array per call.
    /// </summary>
    public static Tensor RecordCompiled(Tensor output, string name, Tensor?[] inputs, BackwardFunction backward, int generation, int batch)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(inputs);
        if (!Tensor.ShouldRecord(inputs)) return output;
        bool dense = true;
        foreach (var t in inputs) dense &= t is not null;
        Tensor[] saved = dense ? (Tensor[])inputs! : [.. inputs.Where(t => t is not null).Select(t => t!)];
        output.SetGradFn(new Node(name, inputs, backward, saved) { CompiledGeneration = generation, CompiledBatch = batch });
        return output;
    }

    /// <summary>The generation of the compiled call that recorded <paramref name="node"/> (<see cref="RecordCompiled(Tensor, string, Tensor?[], BackwardFunction, int, int)"/>).</summary>
    public static int Generation(Node node) => node.CompiledGeneration;

    /// <summary>The batch size of the compiled call that recorded <paramref name="node"/>.</summary>
    public static int Batch(Node node) => node.CompiledBatch;

    /// <summary>True when a compiled program's output must be recorded (grad mode on and an input requires grad).</summary>
    public static bool ShouldRecord(Tensor?[] inputs) => Tensor.ShouldRecord(inputs);

    /// <summary>
    /// The float32 storage array of a contiguous tensor (its first element is at <see cref="Tensor.StorageOffset"/>),
    /// shared, not copied. Throws if the tensor is not float32 or not contiguous.
    /// </summary>
    public static float[] FloatData(Tensor tensor)
    {
        if (tensor.DType != DType.Float32 || !tensor.IsContiguous)
            throw new System.ArgumentException($"Compiled program: expected a contiguous float32 tensor, got {tensor.DType} of shape {ShapeUtil.Format(tensor._shape)} (contiguous: {tensor.IsContiguous}).");
        return tensor.Data<float>();
    }

    /// <summary>Wraps <paramref name="data"/> (not copied; the tensor owns it from now on) as a float32 tensor of <paramref name="shape"/>.</summary>
    public static Tensor Wrap(float[] data, params int[] shape) => Tensor.Wrap(data, shape);

    /// <summary>Wraps <paramref name="data"/> (not copied; the tensor owns it from now on) as an Int64 tensor of <paramref name="shape"/> (a program's indices).</summary>
    public static Tensor WrapInt64(long[] data, params int[] shape) => Tensor.Wrap(data, shape);

    /// <summary>PyTorch-style shape text (<c>[2, 3]</c>) for the messages of generated code.</summary>
    public static string FormatShape(int[] shape) => ShapeUtil.Format(shape);
}
