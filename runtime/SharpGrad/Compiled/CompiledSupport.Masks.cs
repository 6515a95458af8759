using System.ComponentModel;

namespace SharpGrad;

public static partial class CompiledSupport
{
    /// <summary>
    /// The elements of a Bool mask that broadcasts over a compiled value other than by repetition (PyTorch: <c>masked_fill</c>
    /// or <c>where</c> with a broadcasting mask, such as a key-padding mask <c>[N, 1, 1, T]</c> over attention scores
    /// <c>[N, H, T, T]</c>): checked against the shape the program was built for (<paramref name="shape"/>, −1 standing for
    /// the batch <paramref name="n"/>), then expanded to the value's shape: <c>[n, over…]</c> when <paramref name="n"/> is
    /// positive (a batched value), else <paramref name="over"/>.
    /// </summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public static ReadOnlySpan<bool> MaskOver(Tensor? mask, int[] shape, ReadOnlySpan<int> over, int n, string where)
    {
        ArgumentNullException.ThrowIfNull(shape);
        var actual = new int[shape.Length];
        for (int d = 0; d < shape.Length; d++) actual[d] = shape[d] < 0 ? n : shape[d];
        Mask(mask, actual, where);   // the checks: not null, Bool or UInt8, the shape it was built for
        var target = new int[over.Length + (n > 0 ? 1 : 0)];
        if (n > 0) target[0] = n;
        over.CopyTo(target.AsSpan(n > 0 ? 1 : 0));
        var elements = mask!.DType == DType.Bool ? mask : mask.Ne(0.0);
        return elements.Expand(target).Contiguous().Span<bool>();
    }
}
