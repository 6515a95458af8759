namespace SharpGrad;

// Glue for a compiled window (Select, Narrow) along a dim whose size is read at each call (a sequence length T): whether
// the window fits is known only then.
public static partial class CompiledSupport
{
    /// <summary>
    /// Checks that the window [<paramref name="start"/>, start + <paramref name="count"/>) of a compiled Select/Narrow lies
    /// inside its dim of <paramref name="size"/> at this call (the start already counted from the end for a negative index),
    /// and throws what eager throws otherwise: <see cref="System.IndexOutOfRangeException"/> for Select,
    /// <see cref="System.ArgumentOutOfRangeException"/> for Narrow.
    /// </summary>
    public static void CheckWindow(int start, int count, int size, string what, bool select)
    {
        if (start >= 0 && start + count <= size) return;
        string message = $"`{what}`: the window [{start}, {start + count}) is outside its dim, of size {size} at this call (a size read from the inputs, or bound when the module was built); " +
                         (select ? $"use an index in [-{size}, {size})" : $"use start + length ≤ {size}") + ", or pass a longer input.";
        if (select) throw new System.IndexOutOfRangeException(message);
        throw new System.ArgumentOutOfRangeException(nameof(start), message);
    }
}
