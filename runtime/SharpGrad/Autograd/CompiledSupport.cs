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

    /// <summary>PyTorch-style shape text (<c>[2, 3]</c>) for the messages of generated code.</summary>
    public static string FormatShape(int[] shape) => ShapeUtil.Format(shape);

    /// <summary>The float32 data of a tensor as an array starting at element 0 (shared when it already is, else a copy).</summary>
    private static float[] ZeroOffset(Tensor tensor)
    {
        var data = FloatData(tensor.Contiguous());
        return tensor.IsContiguous && tensor.Offset == 0 ? data : FloatData(tensor.Contiguous().Clone());
    }

    /// <summary>
    /// 2-d convolution (PyTorch: <c>torch.nn.functional.conv2d</c>) on contiguous NCHW arrays at offset 0:
    /// <paramref name="y"/>[n, o, ho, wo] = conv(<paramref name="x"/>, weight) + bias.
    /// </summary>
    public static void Conv2dForward(float[] x, Tensor weight, Tensor? bias, float[] y, int n, int c, int h, int w, int o,
        int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw, int groups, int ho, int wo)
        => Kernels.Conv.Forward(new Kernels.ConvGeometry(n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, groups, ho, wo),
            x, ZeroOffset(weight), bias is null ? null : ZeroOffset(bias), y);

    /// <summary>
    /// Gradients of <see cref="Conv2dForward"/>: <paramref name="gx"/> (input, n·c·h·w), <paramref name="gw"/> and
    /// <paramref name="gb"/> are overwritten; any may be null to skip it.
    /// </summary>
    public static void Conv2dBackward(float[] x, Tensor weight, float[] gy, float[]? gx, float[]? gw, float[]? gb, int n, int c, int h, int w, int o,
        int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw, int groups, int ho, int wo)
        => Kernels.Conv.Backward(new Kernels.ConvGeometry(n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, groups, ho, wo),
            x, ZeroOffset(weight), gy, gx, gw, gb);

    /// <summary>
    /// 2-d max pooling (PyTorch: <c>torch.nn.functional.max_pool2d</c>) over <paramref name="planes"/> contiguous h×w
    /// planes at offset 0; <paramref name="indices"/> receives the flat position of each maximum in its plane.
    /// </summary>
    public static void MaxPool2dForward(float[] x, float[] y, long[] indices, int planes, int h, int w, int ho, int wo,
        int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw)
        => Kernels.Pooling.MaxForward(new Kernels.PoolGeometry(planes, h, w, ho, wo, kh, kw, sh, sw, ph, pw, dh, dw), x, y, indices);

    /// <summary>Gradient of <see cref="MaxPool2dForward"/>: <paramref name="gx"/> is overwritten (cleared, then each output gradient added at its maximum).</summary>
    public static void MaxPool2dBackward(float[] gy, long[] indices, float[] gx, int planes, int hw, int lo)
        => Kernels.Pooling.MaxBackward(planes, hw, lo, gy, indices, gx);
}
