namespace SharpGrad.Serialization;

/// <summary>
/// Caps the tensor memory allocated on this thread while a model is rebuilt from an untrusted file: every
/// <see cref="Storage.Allocate"/> inside <see cref="Begin"/>'s scope is charged before its array exists, and the first one
/// past the budget throws an <see cref="InvalidDataException"/> — so a small file declaring a huge layer is refused without
/// allocating it. Outside a scope the charge is one thread-static read.
/// </summary>
internal sealed class AllocationBudget : IDisposable
{
    [ThreadStatic] private static AllocationBudget? t_current;

    private readonly AllocationBudget? _outer;
    private readonly long _limit;
    private readonly string _why;
    private long _used;

    private AllocationBudget(long limit, string why)
    {
        _outer = t_current;
        _limit = limit;
        _why = why;
        t_current = this;
    }

    /// <summary>What is being built, named in the error (e.g. "the Linear layer '3'"); set by the builder as it goes.</summary>
    public string Building { get; set; } = "the model";

    /// <summary>
    /// Starts a scope that allows <paramref name="limit"/> bytes; <paramref name="why"/> explains the limit in the error message.
    /// Dispose it to end the scope.
    /// </summary>
    public static AllocationBudget Begin(long limit, string why) => new(limit, why);

    /// <summary>Charges an allocation of <paramref name="length"/> elements of <paramref name="dtype"/> to the current scope, if any.</summary>
    public static void Charge(DType dtype, int length)
    {
        if (t_current is { } budget) budget.ChargeCore(dtype, length);
    }

    private void ChargeCore(DType dtype, int length)
    {
        long bytes = (long)length * dtype.ElementSize();
        if (bytes > _limit - _used)
        {
            throw new InvalidDataException(
                $"The saved architecture is larger than the file's weights: building {Building} needs {bytes} more bytes of parameters and buffers, " +
                $"after {_used} already allocated for the layers before it, but {_why}. The file is malformed (or hostile); nothing more was allocated.");
        }
        _used += bytes;
    }

    /// <summary>Ends the scope (the enclosing one, if any, applies again).</summary>
    public void Dispose() => t_current = _outer;
}
