using SharpGrad.Ops;

namespace SharpGrad.Onnx;

/// <summary>The output-shape rules of the ops the builder writes, over dims that may be fixed, symbolic or unknown
/// (null: unknown rank). They only track shapes for the builder; ONNX Runtime infers and checks the real ones. The size
/// arithmetic of windows is the catalogue's (<see cref="ShapeRules"/>); the rest stays over <see cref="OnnxDim"/> because an
/// ONNX graph keeps going where the catalogue's rules report an error (an unknown dim here, a diagnostic there) and its
/// symbolic dims carry ONNX <c>dim_param</c> names.</summary>
internal static class OnnxShapes
{
    /// <summary>NumPy broadcasting.</summary>
    public static OnnxDim[]? Broadcast(IReadOnlyList<OnnxDim>? a, IReadOnlyList<OnnxDim>? b)
    {
        if (a is null || b is null) return null;
        int rank = Math.Max(a.Count, b.Count);
        var result = new OnnxDim[rank];
        for (int i = 1; i <= rank; i++)
        {
            OnnxDim? x = i <= a.Count ? (OnnxDim?)a[^i] : null;
            OnnxDim? y = i <= b.Count ? (OnnxDim?)b[^i] : null;
            result[^i] = (x, y) switch
            {
                (null, { } only) => only,
                ({ } only, null) => only,
                ({ } p, { } q) when p.Value == 1 => q,
                ({ } p, { } q) when q.Value == 1 => p,
                ({ } p, { } q) when p.IsFixed => p,
                ({ } p, { } q) when q.IsFixed => q,
                ({ } p, { } q) when p.Param is not null && p.Param == q.Param => p,
                _ => OnnxDim.Unknown,
            };
        }
        return result;
    }

    /// <summary>torch.matmul / ONNX MatMul (NumPy's matmul).</summary>
    public static OnnxDim[]? MatMul(IReadOnlyList<OnnxDim>? a, IReadOnlyList<OnnxDim>? b)
    {
        if (a is null || b is null || a.Count == 0 || b.Count == 0) return null;
        if (a.Count == 1 && b.Count == 1) return [];
        if (b.Count == 1) return a.Take(a.Count - 1).ToArray();
        if (a.Count == 1) return b.Take(b.Count - 2).Append(b[^1]).ToArray();
        var batch = Broadcast(a.Take(a.Count - 2).ToArray(), b.Take(b.Count - 2).ToArray())!;
        return [.. batch, a[^2], b[^1]];
    }

    /// <summary>Convolution and pooling: [N, C, spatial...] → [N, channels ?? C, out...], each size by the catalogue's
    /// <see cref="ShapeRules.OutputSize"/> (PyTorch's formula, ceil mode included).</summary>
    public static OnnxDim[]? Window(IReadOnlyList<OnnxDim>? x, OnnxDim? channels, long[] kernel, int[] stride, int[] padding, int[] dilation, bool ceilMode)
    {
        if (x is null || x.Count != kernel.Length + 2) return null;
        var result = new OnnxDim[x.Count];
        result[0] = x[0];
        result[1] = channels ?? x[1];
        for (int i = 0; i < kernel.Length; i++)
        {
            result[i + 2] = x[i + 2].Value is { } n and <= int.MaxValue && kernel[i] <= int.MaxValue
                && ShapeRules.OutputSize((int)n, (int)kernel[i], stride[i], padding[i], dilation[i], ceilMode) is { } o and >= 1
                ? OnnxDim.Fixed(o)
                : OnnxDim.Unknown;
        }
        return result;
    }

    /// <summary>Transposed convolution: each size by the catalogue's <see cref="ShapeRules.TransposedOutputSize"/>.</summary>
    public static OnnxDim[]? TransposedWindow(IReadOnlyList<OnnxDim>? x, OnnxDim channels, long[] kernel, int[] stride, int[] padding, int[] outputPadding, int[] dilation)
    {
        if (x is null || x.Count != kernel.Length + 2) return null;
        var result = new OnnxDim[x.Count];
        result[0] = x[0];
        result[1] = channels;
        for (int i = 0; i < kernel.Length; i++)
        {
            result[i + 2] = x[i + 2].Value is { } n and <= int.MaxValue && kernel[i] <= int.MaxValue
                && ShapeRules.TransposedOutputSize((int)n, (int)kernel[i], stride[i], padding[i], dilation[i], outputPadding[i]) is var o and >= 0
                ? OnnxDim.Fixed(o)
                : OnnxDim.Unknown;
        }
        return result;
    }

    /// <summary>The product of dims: fixed if all are, else unknown (a single symbolic dim stays itself).</summary>
    public static OnnxDim Product(IEnumerable<OnnxDim> dims)
    {
        var list = dims.ToList();
        if (list.Count == 1) return list[0];
        long p = 1;
        foreach (var d in list)
        {
            if (d.Value is not { } v) return OnnxDim.Unknown;
            p *= v;
        }
        return OnnxDim.Fixed(p);
    }

    /// <summary>Reshape to <paramref name="shape"/> (PyTorch's view: one -1 inferred from the element count).</summary>
    public static OnnxDim[]? Reshape(IReadOnlyList<OnnxDim>? x, long[] shape)
    {
        if (shape.Count(d => d == -1) > 1 || shape.Any(d => d < -1))
            throw new ArgumentException($"view: only one dimension can be inferred (-1), and sizes are ≥ 0; got ({string.Join(", ", shape)}).");
        var result = shape.Select(d => d >= 0 ? OnnxDim.Fixed(d) : OnnxDim.Unknown).ToArray();
        int inferred = Array.IndexOf(shape, -1L);
        if (inferred >= 0 && x is not null && Product(x).Value is { } total)
        {
            long known = shape.Where(d => d >= 0).Aggregate(1L, (a, b) => a * b);
            if (known == 0 || total % known != 0)
                throw new ArgumentException($"view: shape ({string.Join(", ", shape)}) is invalid for an input of shape {OnnxDim.Format(x)} ({total} elements).");
            result[inferred] = OnnxDim.Fixed(total / known);
        }
        else if (inferred >= 0 && x is not null && x.Count > 0 && x[0].Param is not null && inferred == 0 && Product(x.Skip(1)).Value is { } rest
            && rest == shape.Skip(1).Aggregate(1L, (a, b) => a * b))
        {
            result[0] = x[0]; // view(-1, C·H·W) of a symbolic batch keeps the batch's name
        }
        return result;
    }

    /// <summary>Concatenation along <paramref name="dim"/>.</summary>
    public static OnnxDim[]? Concat(IReadOnlyList<OnnxDim>?[] shapes, int dim)
    {
        if (shapes.Any(s => s is null)) return null;
        var first = shapes[0]!;
        if (shapes.Any(s => s!.Count != first.Count))
            throw new ArgumentException($"cat: the values have different ranks ({string.Join(", ", shapes.Select(s => OnnxDim.Format(s!)))}).");
        int d = dim < 0 ? dim + first.Count : dim;
        var result = first.ToArray();
        result[d] = shapes.All(s => s![d].IsFixed)
            ? OnnxDim.Fixed(shapes.Sum(s => s![d].Value!.Value))
            : OnnxDim.Unknown;
        return result;
    }

    /// <summary>Slicing one dim with Python's clamping of start and end.</summary>
    public static OnnxDim[]? Slice(IReadOnlyList<OnnxDim>? x, int dim, long start, long? end, long step)
    {
        if (x is null) return null;
        var result = x.ToArray();
        int d = dim < 0 ? dim + x.Count : dim;
        if (x[d].Value is { } n)
        {
            long s = Math.Clamp(start < 0 ? start + n : start, 0, n);
            long e = Math.Clamp(end is { } en ? (en < 0 ? en + n : en) : n, 0, n);
            result[d] = OnnxDim.Fixed(e > s ? (e - s + step - 1) / step : 0);
        }
        else result[d] = OnnxDim.Unknown;
        return result;
    }

    /// <summary>A reduction over <paramref name="dims"/>.</summary>
    public static OnnxDim[]? Reduce(IReadOnlyList<OnnxDim>? x, int[] dims, bool keepDim)
    {
        if (x is null) return null;
        var reduced = dims.Select(d => d < 0 ? d + x.Count : d).ToHashSet();
        return keepDim
            ? x.Select((v, i) => reduced.Contains(i) ? OnnxDim.Fixed(1) : v).ToArray()
            : x.Where((_, i) => !reduced.Contains(i)).ToArray();
    }
}
