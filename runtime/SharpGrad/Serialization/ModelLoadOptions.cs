namespace SharpGrad.Serialization;

/// <summary>
/// Limits for loading a whole model (<see cref="Module.Load{T}(string, ModelLoadOptions?)"/>, <c>Sequential.Load</c>). A model
/// file is untrusted input: its tensors and the layers its architecture declares are checked against
/// <see cref="MaxBytes"/> before anything is allocated for them. PyTorch's <c>torch.load</c> has no such limit; the
/// default is large enough for the small and medium networks SharpGrad is for.
/// </summary>
public sealed class ModelLoadOptions
{
    /// <summary>The default <see cref="MaxBytes"/>: 4 GiB.</summary>
    public const long DefaultMaxBytes = 4L << 30;

    /// <summary>The options used when none are given.</summary>
    public static ModelLoadOptions Default { get; } = new();

    /// <summary>
    /// The most memory, in bytes, a model file may make the loader allocate: its stored tensors, and the parameters and buffers
    /// of the layers its architecture describes. A larger file is refused with an <see cref="InvalidDataException"/> before
    /// any of it is read. Raise it to load a larger model you trust.
    /// </summary>
    public long MaxBytes
    {
        get => _maxBytes;
        init => _maxBytes = value > 0 ? value : throw new ArgumentOutOfRangeException(nameof(MaxBytes), value, "MaxBytes must be positive.");
    }

    private readonly long _maxBytes = DefaultMaxBytes;

    /// <summary>How to raise the limit, for error messages.</summary>
    internal string RaiseHint => $"The load budget is {MaxBytes} bytes (ModelLoadOptions.MaxBytes); if you trust the file, raise it: " +
                                 "Module.Load<T>(path, new ModelLoadOptions { MaxBytes = … }) or Sequential.Load(path, new ModelLoadOptions { MaxBytes = … }).";
}
