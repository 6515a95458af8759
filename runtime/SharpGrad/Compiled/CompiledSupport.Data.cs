namespace SharpGrad;

// Glue for a data op's tensor (a mask, positions, a comparison turned into numbers with To) read as a value by a compiled
// program's arithmetic: checked against the shape the program was built for, converted to float32 and copied. No
// arithmetic of its own; the data op itself is the eager Tensor method the generated code calls.
public static partial class CompiledSupport
{
    /// <summary>
    /// Copies <paramref name="data"/> (any dtype, converted like <c>To(DType.Float32)</c>) into <paramref name="into"/>,
    /// after checking it has <paramref name="shape"/> (−1: the batch, <paramref name="n"/>).
    /// </summary>
    public static void Data(Tensor data, int[] shape, string where, float[] into, int n)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(into);
        bool same = data.Rank == shape.Length;
        for (int d = 0; same && d < shape.Length; d++) same = data._shape[d] == (shape[d] < 0 ? n : shape[d]);
        if (!same)
        {
            var expected = (int[])shape.Clone();
            for (int d = 0; d < expected.Length; d++) if (expected[d] < 0) expected[d] = n;
            throw new ArgumentException(
                $"Compiled `{where}`: the value has shape {ShapeUtil.Format(data._shape)}, but the compiled program was built for {ShapeUtil.Format(expected)}. " +
                "Keep the sizes it was built with, or use the eager Forward.");
        }
        var values = data.DType == DType.Float32 ? data : data.To(DType.Float32);
        values.ContiguousRaw().Span<float>().CopyTo(into);
    }
}
