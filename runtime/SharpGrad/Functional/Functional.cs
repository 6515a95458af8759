namespace SharpGrad;

/// <summary>
/// Stateless neural-network functions (PyTorch: <c>torch.nn.functional</c>): activations, convolution, pooling,
/// normalisation, dropout, embedding. Each records its gradient for autograd. The layers in <c>SharpGrad.Layers</c> call these.
/// </summary>
public static partial class Functional
{
    /// <summary>The dense (contiguous, offset 0, exact length) storage array of a tensor, copying only when needed.</summary>
    internal static T[] Dense<T>(Tensor t) where T : unmanaged
    {
        if (t.IsContiguous && t.Offset == 0)
        {
            var data = t.Data<T>();
            if (data.Length == t.NumElements) return data;
        }
        return t.ToRaw(t.DType).Data<T>();
    }

    /// <summary>The dense storage array of a tensor converted to <paramref name="dtype"/> (no copy when it already is dense of that dtype).</summary>
    internal static T[] DenseAs<T>(Tensor t, DType dtype) where T : unmanaged => Dense<T>(t.DType == dtype ? t : t.ToRaw(dtype));

    /// <summary>The promoted floating-point dtype of the given tensors, or an error naming the op.</summary>
    internal static DType FloatDType(string op, params Tensor?[] tensors)
    {
        DType? d = null;
        foreach (var t in tensors)
        {
            if (t is null) continue;
            if (!t.DType.IsFloatingPoint())
            {
                throw new NotSupportedException($"{op}: expected Float32 or Float64 tensors, but got a {t.DType} tensor of shape {ShapeUtil.Format(t._shape)}. Convert it with .To(DType.Float32).");
            }
            d = d is null ? t.DType : DTypes.Promote(d.Value, t.DType);
        }
        return d ?? DType.Float32;
    }

    private static Tensor CastRaw(Tensor t, DType dtype) => t.DType == dtype ? t : t.ToRaw(dtype);
}
