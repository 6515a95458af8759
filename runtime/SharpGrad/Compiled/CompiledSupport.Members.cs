namespace SharpGrad;

// Glue for a module's own parameters and buffers read in a compiled Forward: checked against the shape the program was
// built for, then copied into the program's buffer. No arithmetic of its own.
public static partial class CompiledSupport
{
    /// <summary>
    /// Copies a module's own <c>[Parameter]</c>/<c>[Buffer]</c> (float32) into <paramref name="into"/>, after checking it
    /// still has the shape the compiled program was built for (<paramref name="shape"/>, from its initialiser or [Shape]).
    /// </summary>
    public static void Member(Tensor? member, int[] shape, string name, float[] into)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(into);
        if (member is null) throw new InvalidOperationException($"Compiled program: the module's '{name}' is null. Give it a tensor of shape {ShapeUtil.Format(shape)}.");
        if (!member._shape.AsSpan().SequenceEqual(shape))
        {
            throw new ArgumentException(
                $"Compiled program: the module's '{name}' has shape {ShapeUtil.Format(member._shape)}, but the compiled program was built for {ShapeUtil.Format(shape)} " +
                "(its initialiser). Keep the shape it was created with, or use the eager Forward.");
        }
        if (member.DType != DType.Float32)
        {
            throw new ArgumentException($"Compiled program: the module's '{name}' is {member.DType}; a compiled Forward reads float32 members. Convert it with .To(DType.Float32), or use the eager Forward.");
        }
        member.ContiguousRaw().Span<float>().CopyTo(into);
    }
}
