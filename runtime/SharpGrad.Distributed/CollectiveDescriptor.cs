using System.Globalization;
using System.Text;

namespace SharpGrad.Distributed;

/// <summary>The kinds of collective a <see cref="ProcessGroup"/> checks the ranks agree on.</summary>
internal enum CollectiveKind
{
    AllReduce = 1,
    Broadcast,
    AllGather,
    Barrier,
    Checkpoint,
    Shutdown,
    DdpConstruction,
    DdpReduction,
}

/// <summary>
/// What one rank is about to do, as a fixed row of integers that all ranks exchange (one small all-gather) before the
/// collective itself: every rank then sees whether they all called the same collective, with the same dtype, shape, op or
/// root, at the same position in their sequence — and if not, every rank reports what each one called, instead of
/// waiting forever (MPI's behaviour on mismatched collectives is undefined: usually a hang or corrupted data).
/// </summary>
internal readonly struct CollectiveDescriptor
{
    /// <summary>Row layout: kind, sequence, dtype + 1 (0: none), op or root (or a count), elements, rank of the shape
    /// (−1: no shape), then six slots: the first dims (a hash of the rest in the last slot when there are more) or extras.</summary>
    internal const int Length = 12;

    private const int Slots = 6;

    private readonly CollectiveKind _kind;
    private readonly DType? _dtype;
    private readonly long _detail;
    private readonly long _elements;
    private readonly int[]? _shape;
    private readonly long _extra1;
    private readonly long _extra2;

    private CollectiveDescriptor(CollectiveKind kind, DType? dtype, long detail, long elements, int[]? shape, long extra1 = 0, long extra2 = 0)
    {
        _kind = kind;
        _dtype = dtype;
        _detail = detail;
        _elements = elements;
        _shape = shape;
        _extra1 = extra1;
        _extra2 = extra2;
    }

    internal static CollectiveDescriptor ForTensor(CollectiveKind kind, Tensor tensor, long detail) => new(kind, tensor.DType, detail, tensor.NumElements, tensor.Shape);

    internal static CollectiveDescriptor Plain(CollectiveKind kind, long detail = 0) => new(kind, null, detail, 0, null);

    /// <summary>A DistributedDataParallel event: <paramref name="count"/> tensors (or buckets) of <paramref name="elements"/> elements in all.</summary>
    internal static CollectiveDescriptor Ddp(CollectiveKind kind, long count, long elements, long extra1, long extra2) => new(kind, null, count, elements, null, extra1, extra2);

    internal void Encode(long sequence, Span<long> row)
    {
        row.Clear();
        row[0] = (long)_kind;
        row[1] = sequence;
        row[2] = _dtype is { } d ? (long)d + 1 : 0;
        row[3] = _detail;
        row[4] = _elements;
        if (_shape is null)
        {
            row[5] = -1;
            row[6] = _extra1;
            row[7] = _extra2;
            return;
        }
        row[5] = _shape.Length;
        for (int i = 0; i < Math.Min(_shape.Length, Slots); i++) row[6 + i] = _shape[i];
        if (_shape.Length > Slots)
        {
            long hash = 17;
            for (int i = Slots - 1; i < _shape.Length; i++) hash = hash * 31 + _shape[i];
            row[6 + Slots - 1] = hash;
        }
    }

    /// <summary>What the descriptor of <paramref name="row"/> describes, in words, e.g. "AllReduce(Sum) of a Float32 tensor of shape [3, 4]".</summary>
    internal static string Describe(ReadOnlySpan<long> row)
    {
        var kind = (CollectiveKind)row[0];
        string tensor = row[5] < 0 ? "" : $"a {(DType)(row[2] - 1)} tensor of shape {Shape(row)}";
        return kind switch
        {
            CollectiveKind.AllReduce => $"AllReduce({(ReduceOp)row[3]}) of {tensor}",
            CollectiveKind.Broadcast => $"Broadcast(root {row[3]}) of {tensor}",
            CollectiveKind.AllGather => $"AllGather of {tensor}",
            CollectiveKind.Barrier => "Barrier()",
            CollectiveKind.Checkpoint => $"Checkpoint(root {row[3]})",
            CollectiveKind.Shutdown => "the shutdown of the group (ProcessGroup.Dispose, or the end of the program)",
            CollectiveKind.DdpConstruction => string.Create(CultureInfo.InvariantCulture,
                $"new DistributedDataParallel(…) of a model with {row[3]} parameters and buffers ({row[4]} elements, layout hash {row[6]:x})"),
            CollectiveKind.DdpReduction => string.Create(CultureInfo.InvariantCulture,
                $"the gradient reduction of DistributedDataParallel step {row[6]} ({row[3]} buckets, {row[4]} elements)"),
            _ => $"an unknown collective ({row[0]})",
        };
    }

    private static string Shape(ReadOnlySpan<long> row)
    {
        int rank = (int)row[5];
        var sb = new StringBuilder("[");
        for (int i = 0; i < Math.Min(rank, Slots); i++)
        {
            if (i > 0) sb.Append(", ");
            if (i == Slots - 1 && rank > Slots) sb.Append('…');
            else sb.Append(row[6 + i].ToString(CultureInfo.InvariantCulture));
        }
        return sb.Append(']').ToString();
    }
}
