namespace SharpGrad;

/// <summary>Shape arithmetic shared by the ops: counting, formatting, broadcasting.</summary>
internal static class ShapeUtil
{
    public static int Count(ReadOnlySpan<int> shape)
    {
        long n = 1;
        foreach (var s in shape)
        {
            n *= s;
            if (n > int.MaxValue)
            {
                throw new ArgumentException($"A tensor of shape {Format(shape)} would have more than {int.MaxValue} elements, which SharpGrad does not support.");
            }
        }
        return (int)n;
    }

    public static string Format(ReadOnlySpan<int> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";

    public static bool SameShape(ReadOnlySpan<int> a, ReadOnlySpan<int> b) => a.SequenceEqual(b);

    public static int[] Validate(int[] shape, string what = "shape")
    {
        foreach (var s in shape)
        {
            if (s < 0) throw new ArgumentException($"Invalid {what} {Format(shape)}: sizes must be non-negative.");
        }
        if (Count(shape) > Array.MaxLength)
        {
            throw new ArgumentException($"Invalid {what} {Format(shape)}: {Count(shape)} elements are more than a .NET array holds ({Array.MaxLength}).");
        }
        return shape;
    }

    /// <summary>The broadcast shape of two shapes (NumPy/PyTorch rules), or an error naming both.</summary>
    public static int[] Broadcast(int[] a, int[] b, string? op = null)
    {
        if (SameShape(a, b)) return a;
        int rank = Math.Max(a.Length, b.Length);
        var result = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i - (rank - a.Length);
            int db = i - (rank - b.Length);
            int sa = da >= 0 ? a[da] : 1;
            int sb = db >= 0 ? b[db] : 1;
            if (sa == sb || sb == 1) result[i] = sa;
            else if (sa == 1) result[i] = sb;
            else
            {
                throw new ArgumentException(
                    $"{(op is null ? "" : op + ": ")}shapes {Format(a)} and {Format(b)} cannot be broadcast together: " +
                    $"dimension {i} has size {sa} in one and {sb} in the other (sizes must be equal, or one of them 1).");
            }
        }
        return result;
    }

    /// <summary>Strides of <paramref name="shape"/>/<paramref name="strides"/> seen as <paramref name="target"/> (0 on broadcast dims).</summary>
    public static int[] BroadcastStrides(int[] shape, int[] strides, int[] target)
    {
        var result = new int[target.Length];
        int off = target.Length - shape.Length;
        for (int i = 0; i < shape.Length; i++)
        {
            result[i + off] = shape[i] == 1 && target[i + off] != 1 ? 0 : strides[i];
        }
        return result;
    }

    /// <summary>Throws unless <paramref name="from"/> broadcasts to exactly <paramref name="to"/>.</summary>
    public static void CheckBroadcastsTo(int[] from, int[] to, string op)
    {
        bool ok = from.Length <= to.Length;
        for (int i = 0; ok && i < from.Length; i++)
        {
            int f = from[from.Length - 1 - i], t = to[to.Length - 1 - i];
            ok = f == t || f == 1;
        }
        if (!ok)
        {
            throw new ArgumentException($"{op}: a tensor of shape {Format(from)} cannot be broadcast to shape {Format(to)} (the shape of the tensor written in place).");
        }
    }
}
