using System.Collections;

namespace SharpGrad.Serialization;

/// <summary>
/// An ordered map from names to tensors — a model's (or a file's) saved state (PyTorch: the <c>OrderedDict</c> that
/// <c>module.state_dict()</c> returns). Keys keep their insertion order. <see cref="Metadata"/> carries a file's string
/// metadata (safetensors <c>__metadata__</c>).
/// </summary>
public sealed class StateDict : IReadOnlyDictionary<string, Tensor>
{
    private readonly List<string> _keys = [];
    private readonly Dictionary<string, Tensor> _map = new(StringComparer.Ordinal);

    /// <summary>An empty state dict (PyTorch: <c>OrderedDict()</c>).</summary>
    public StateDict()
    {
    }

    /// <summary>A state dict holding <paramref name="entries"/> in order; names must be unique.</summary>
    public StateDict(IEnumerable<(string Name, Tensor Value)> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        foreach (var (name, value) in entries) Add(name, value);
    }

    /// <summary>String metadata stored with the tensors (safetensors: <c>__metadata__</c>). Empty when there is none.</summary>
    public Dictionary<string, string> Metadata { get; } = new(StringComparer.Ordinal);

    /// <summary>The number of entries (PyTorch: <c>len(state_dict)</c>).</summary>
    public int Count => _keys.Count;

    /// <summary>The names, in order (PyTorch: <c>keys()</c>).</summary>
    public IEnumerable<string> Keys => _keys;

    /// <summary>The tensors, in order (PyTorch: <c>values()</c>).</summary>
    public IEnumerable<Tensor> Values => _keys.Select(k => _map[k]);

    /// <summary>
    /// The tensor named <paramref name="key"/> (PyTorch: <c>state_dict[key]</c>). Setting a new name appends it;
    /// setting an existing one replaces its tensor and keeps its position.
    /// </summary>
    public Tensor this[string key]
    {
        get => _map.TryGetValue(key, out var t)
            ? t
            : throw new KeyNotFoundException($"The state dict has no entry '{key}'. {DescribeKeys()}");
        set
        {
            ArgumentNullException.ThrowIfNull(key);
            ArgumentNullException.ThrowIfNull(value);
            if (!_map.ContainsKey(key)) _keys.Add(key);
            _map[key] = value;
        }
    }

    /// <summary>Adds an entry at the end; throws if the name is already present.</summary>
    public void Add(string key, Tensor value)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        if (_map.ContainsKey(key)) throw new ArgumentException($"The state dict already has an entry '{key}'; names must be unique.", nameof(key));
        _keys.Add(key);
        _map.Add(key, value);
    }

    /// <summary>Removes an entry (PyTorch: <c>del state_dict[key]</c> / <c>pop</c>). Returns false if absent.</summary>
    public bool Remove(string key)
    {
        if (!_map.Remove(key)) return false;
        _keys.Remove(key);
        return true;
    }

    /// <summary>True if an entry named <paramref name="key"/> exists (PyTorch: <c>key in state_dict</c>).</summary>
    public bool ContainsKey(string key) => _map.ContainsKey(key);

    /// <summary>Looks up an entry without throwing.</summary>
    public bool TryGetValue(string key, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out Tensor value) => _map.TryGetValue(key, out value);

    /// <summary>
    /// Strips <paramref name="prefix"/> from every key that starts with it, e.g. the <c>module.</c> that
    /// <c>DataParallel</c>/<c>DistributedDataParallel</c> checkpoints carry (PyTorch:
    /// <c>torch.nn.modules.utils.consume_prefix_in_state_dict_if_present(state_dict, prefix)</c>). As in PyTorch, the renamed
    /// entries move after the others, in their order. A renamed key that would collide with an existing one is an error
    /// and nothing is changed.
    /// </summary>
    public void ConsumePrefixInStateDictIfPresent(string prefix)
    {
        ArgumentException.ThrowIfNullOrEmpty(prefix);
        var renamed = _keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)).ToList();
        var kept = new HashSet<string>(_keys.Where(k => !k.StartsWith(prefix, StringComparison.Ordinal)), StringComparer.Ordinal);
        foreach (var k in renamed)
        {
            if (!kept.Add(k[prefix.Length..]))
            {
                throw new ArgumentException($"ConsumePrefixInStateDictIfPresent: removing '{prefix}' from '{k}' gives '{k[prefix.Length..]}', which the state dict already has.", nameof(prefix));
            }
        }
        foreach (var k in renamed)
        {
            var t = _map[k];
            Remove(k);
            Add(k[prefix.Length..], t);
        }
    }

    /// <summary>Enumerates the entries in order (PyTorch: <c>items()</c>).</summary>
    public IEnumerator<KeyValuePair<string, Tensor>> GetEnumerator()
    {
        foreach (var k in _keys) yield return new KeyValuePair<string, Tensor>(k, _map[k]);
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>The entries as (name, tensor) pairs, in order.</summary>
    public IEnumerable<(string Name, Tensor Value)> Items() => _keys.Select(k => (k, _map[k]));

    /// <summary>
    /// Reads a state dict from <paramref name="path"/>, choosing the format by extension: <c>.safetensors</c>, or
    /// <c>.pt</c> / <c>.pth</c> / <c>.bin</c> (a PyTorch <c>torch.save(model.state_dict())</c> zip archive, read by a restricted
    /// unpickler) (PyTorch: <c>torch.load(path)</c> / <c>safetensors.torch.load_file</c>).
    /// </summary>
    /// <exception cref="InvalidDataException">The file is malformed or holds more than a state dict.</exception>
    public static StateDict Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return FormatOf(path) switch
        {
            FileFormat.SafeTensors => SafeTensors.Read(path),
            _ => PyTorchCheckpoint.Read(path),
        };
    }

    /// <summary>
    /// Writes this state dict to <paramref name="path"/> as safetensors, with <see cref="Metadata"/> (PyTorch:
    /// <c>safetensors.torch.save_file</c>). Only <c>.safetensors</c> is written: SharpGrad never writes pickles.
    /// </summary>
    public void Save(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (FormatOf(path) != FileFormat.SafeTensors)
        {
            throw new ArgumentException(
                $"StateDict.Save: SharpGrad writes only safetensors, but '{path}' has another extension. Use a path ending in .safetensors " +
                "(PyTorch reads it with safetensors.torch.load_file).", nameof(path));
        }
        SafeTensors.Write(path, Items(), Metadata);
    }

    internal enum FileFormat { SafeTensors, PyTorch }

    internal static FileFormat FormatOf(string path)
    {
        var ext = Path.GetExtension(path).ToLowerInvariant();
        return ext switch
        {
            ".safetensors" => FileFormat.SafeTensors,
            ".pt" or ".pth" or ".bin" => FileFormat.PyTorch,
            _ => throw new ArgumentException(
                $"Can't tell the format of '{path}' from its extension '{ext}'. Use .safetensors (read and write) or .pt / .pth (PyTorch state dicts, read only).",
                nameof(path)),
        };
    }

    private string DescribeKeys() => _keys.Count == 0
        ? "It is empty."
        : _keys.Count <= 20 ? "Its keys are: " + string.Join(", ", _keys.Select(k => "'" + k + "'")) + "."
        : "Its first keys are: " + string.Join(", ", _keys.Take(20).Select(k => "'" + k + "'")) + ", ….";
}

/// <summary>
/// What a non-strict <see cref="Module.LoadStateDict"/> found (PyTorch: the <c>_IncompatibleKeys</c> named tuple).
/// </summary>
public sealed class LoadStateDictResult
{
    internal LoadStateDictResult(IReadOnlyList<string> missing, IReadOnlyList<string> unexpected)
    {
        MissingKeys = missing;
        UnexpectedKeys = unexpected;
    }

    /// <summary>Names the module expects that the state dict did not have (PyTorch: <c>missing_keys</c>).</summary>
    public IReadOnlyList<string> MissingKeys { get; }

    /// <summary>Names in the state dict that the module has no place for (PyTorch: <c>unexpected_keys</c>).</summary>
    public IReadOnlyList<string> UnexpectedKeys { get; }

    /// <summary>True when every key matched.</summary>
    public bool IsComplete => MissingKeys.Count == 0 && UnexpectedKeys.Count == 0;

    /// <inheritdoc/>
    public override string ToString() =>
        $"MissingKeys=[{string.Join(", ", MissingKeys)}], UnexpectedKeys=[{string.Join(", ", UnexpectedKeys)}]";
}

/// <summary>
/// Thrown by <see cref="Module.LoadStateDict"/> when the state dict does not fit the module: lists every problem at once
/// (PyTorch: the <c>RuntimeError</c> "Error(s) in loading state_dict for …").
/// </summary>
public sealed class StateDictMismatchException : ArgumentException
{
    internal StateDictMismatchException(string message, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected, IReadOnlyList<string> mismatches)
        : base(message)
    {
        MissingKeys = missing;
        UnexpectedKeys = unexpected;
        Mismatches = mismatches;
    }

    /// <summary>Names the module expects that were not in the state dict.</summary>
    public IReadOnlyList<string> MissingKeys { get; }

    /// <summary>Names in the state dict that the module has no place for.</summary>
    public IReadOnlyList<string> UnexpectedKeys { get; }

    /// <summary>One line per entry whose shape or dtype does not fit.</summary>
    public IReadOnlyList<string> Mismatches { get; }
}
