using System.IO.Compression;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text;

namespace SharpGrad.Serialization;

/// <summary>
/// Reads the state dicts PyTorch writes with <c>torch.save(model.state_dict(), path)</c> (.pt / .pth): a zip archive holding
/// <c>data.pkl</c> (a pickle) and one <c>data/&lt;key&gt;</c> entry per storage. The pickle is read by a restricted unpickler that
/// executes nothing and accepts only what a state dict needs (<c>collections.OrderedDict</c>, <c>torch._utils._rebuild_tensor_v2</c>,
/// <c>_rebuild_parameter</c>, the storage types and persistent ids into <c>data/</c>). Anything else — other globals, unknown
/// opcodes, oversize entries (zip bombs) — is an <see cref="InvalidDataException"/>.
/// </summary>
public static class PyTorchCheckpoint
{
    /// <summary>The largest <c>data.pkl</c> accepted.</summary>
    public const long MaxPickleSize = 64L << 20;

    /// <summary>
    /// Reads the state dict in a PyTorch checkpoint (PyTorch: <c>torch.load(path, weights_only=True)</c>). Tensors keep their
    /// dtype (float16/bfloat16 are widened to Float32); non-contiguous tensors keep their strides as views over their storage.
    /// </summary>
    /// <exception cref="InvalidDataException">The file is malformed or holds more than a state dict.</exception>
    public static StateDict Read(string path) => Read(path, limits: null);

    /// <summary>Reads a checkpoint, refusing (before reading it) any storage that would take the total past <paramref name="limits"/>.</summary>
    internal static StateDict Read(string path, ModelLoadOptions? limits)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        return Read(stream, path, limits);
    }

    /// <summary>Reads a PyTorch checkpoint from a stream (seekable streams are read in place; others are buffered, at most 4 GB).</summary>
    /// <exception cref="InvalidDataException">The data is malformed or holds more than a state dict.</exception>
    public static StateDict Read(Stream stream) => Read(stream, "the checkpoint stream", limits: null);

    private static StateDict Read(Stream stream, string source, ModelLoadOptions? limits)
    {
        ArgumentNullException.ThrowIfNull(stream);
        try
        {
            if (!stream.CanSeek)
            {
                var copy = new MemoryStream();
                var buffer = new byte[1 << 16];
                int r;
                while ((r = stream.Read(buffer)) > 0)
                {
                    if (copy.Length + r > int.MaxValue) throw Bad(source, "the stream is longer than 2 GB; save it to a file and read that.");
                    copy.Write(buffer, 0, r);
                }
                copy.Position = 0;
                stream = copy;
            }
            using var zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
            return ReadArchive(zip, stream.Length, source, limits);
        }
        catch (InvalidDataException)
        {
            throw;
        }
        catch (Exception ex) when (ex is IOException or ArgumentException or NotSupportedException or OverflowException
                                       or IndexOutOfRangeException or DecoderFallbackException or FormatException)
        {
            throw Bad(source, $"the archive is corrupt ({ex.GetType().Name}: {ex.Message}).", ex);
        }
    }

    private static StateDict ReadArchive(ZipArchive zip, long fileLength, string source, ModelLoadOptions? limits)
    {
        if (zip.Entries.Count > 1_000_000) throw Bad(source, $"the archive has {zip.Entries.Count} entries, far more than a state dict needs.");
        ZipArchiveEntry? pkl = null;
        foreach (var e in zip.Entries)
        {
            if (e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal) && e.FullName.IndexOf('/') == e.FullName.Length - "/data.pkl".Length)
            {
                if (pkl is not null) throw Bad(source, $"the archive has two pickles ('{pkl.FullName}' and '{e.FullName}').");
                pkl = e;
            }
        }
        if (pkl is null)
        {
            throw Bad(source, "the archive has no '<name>/data.pkl' entry. It is not a PyTorch checkpoint written by torch.save (files from " +
                              "PyTorch older than 1.6, saved with _use_new_zipfile_serialization=False, are not supported).");
        }
        string prefix = pkl.FullName[..^"data.pkl".Length];

        var byteOrder = zip.GetEntry(prefix + "byteorder");
        if (byteOrder is not null)
        {
            var text = Encoding.ASCII.GetString(ReadEntry(byteOrder, 16, source, exact: false)).Trim();
            if (text != "little") throw Bad(source, $"the checkpoint's byte order is '{Truncate(text)}'; only little-endian checkpoints are supported.");
        }

        var pickle = ReadEntry(pkl, Math.Min(MaxPickleSize, Math.Max(1 << 20, fileLength * MaxCompressionRatio)), source, exact: false);
        var unpickled = new Unpickler(pickle, source).Load();
        if (unpickled is not PyDict dict)
        {
            throw Bad(source, $"the pickle holds a {Unpickler.Describe(unpickled)}, not a state dict: the file holds more than a state dict. " +
                              "Save the model with torch.save(model.state_dict(), path), or as safetensors.");
        }

        var storages = new Dictionary<string, Storage>(StringComparer.Ordinal);
        var result = new StateDict();
        long budget = fileLength; // stored (uncompressed, as torch.save writes) storages can't add up to more than the file
        long compressedBudget = fileLength * MaxCompressionRatio;
        long loadBudget = limits?.MaxBytes ?? long.MaxValue;
        foreach (var (k, v) in dict.Items)
        {
            if (k is not string name) throw Bad(source, $"the state dict has a key that is a {Unpickler.Describe(k)}, not a string.");
            if (v is not TensorRef t)
            {
                throw Bad(source, $"the entry '{name}' is a {Unpickler.Describe(v)}, not a tensor: the file holds more than a state dict " +
                                  "(e.g. a training checkpoint with extra objects). Save only model.state_dict().");
            }
            if (result.ContainsKey(name)) throw Bad(source, $"the state dict names '{name}' twice.");
            if (!storages.TryGetValue(t.Storage.Key, out var storage))
            {
                if (limits is not null && t.Storage.NumElements is >= 0 and <= int.MaxValue)
                {
                    // (larger counts are refused by LoadStorage)
                    long inMemory = t.Storage.NumElements * (t.Storage.Type.IsHalf ? 4 : t.Storage.Type.ElementSize);
                    if (inMemory > loadBudget)
                    {
                        throw Bad(source, $"storage '{Truncate(t.Storage.Key)}' (at '{name}') would take the tensors past the model load budget. {limits.RaiseHint}");
                    }
                    loadBudget -= inMemory;
                }
                storage = LoadStorage(zip, prefix, t.Storage, source, ref budget, ref compressedBudget, fileLength);
                storages[t.Storage.Key] = storage;
            }
            else if (storage.Length != t.Storage.NumElements && !(t.Storage.Type.IsHalf && storage.Length == t.Storage.NumElements))
            {
                throw Bad(source, $"storage '{t.Storage.Key}' is declared with different sizes by different tensors (at '{name}').");
            }
            result.Add(name, MakeView(storage, t, name, source));
        }
        return result;
    }

    /// <summary>The largest expansion accepted for a compressed entry (torch.save stores entries uncompressed).</summary>
    private const long MaxCompressionRatio = 100;

    private static Storage LoadStorage(ZipArchive zip, string prefix, StorageRef s, string source, ref long budget, ref long compressedBudget, long fileLength)
    {
        var entry = zip.GetEntry(prefix + "data/" + s.Key)
            ?? throw Bad(source, $"the pickle refers to storage '{Truncate(s.Key)}', but the archive has no entry '{prefix}data/{Truncate(s.Key)}'.");
        long numel = s.NumElements;
        if (numel < 0 || numel > Array.MaxLength) throw Bad(source, $"storage '{s.Key}' declares {numel} elements, more than can be loaded.");
        long bytes = numel * s.Type.ElementSize;
        if (entry.Length != bytes)
        {
            throw Bad(source, $"storage '{s.Key}' should hold {numel} {s.Type.Name} elements ({bytes} bytes), but its archive entry declares {entry.Length} bytes.");
        }
        bool stored = entry.CompressedLength >= entry.Length;
        if (stored ? bytes > budget : bytes > compressedBudget)
        {
            throw Bad(source, $"storage '{s.Key}' declares {bytes} bytes; with the other storages that is more than this {fileLength}-byte file can hold" +
                              (stored ? "." : $" even at a {MaxCompressionRatio}:1 compression ratio (a zip bomb?)."));
        }
        if (stored) budget -= bytes;
        else compressedBudget -= bytes;
        int n = (int)numel;
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("SharpGrad's checkpoint reader needs a little-endian machine.");
        switch (s.Type.Kind)
        {
            case StorageKind.Float: { var a = new float[n]; ReadEntryInto(entry, MemoryMarshal.AsBytes(a.AsSpan()), source); return new Storage<float>(a); }
            case StorageKind.Double: { var a = new double[n]; ReadEntryInto(entry, MemoryMarshal.AsBytes(a.AsSpan()), source); return new Storage<double>(a); }
            case StorageKind.Long: { var a = new long[n]; ReadEntryInto(entry, MemoryMarshal.AsBytes(a.AsSpan()), source); return new Storage<long>(a); }
            case StorageKind.Int: { var a = new int[n]; ReadEntryInto(entry, MemoryMarshal.AsBytes(a.AsSpan()), source); return new Storage<int>(a); }
            case StorageKind.Byte: { var a = new byte[n]; ReadEntryInto(entry, a, source); return new Storage<byte>(a); }
            case StorageKind.Bool:
            {
                var raw = new byte[n];
                ReadEntryInto(entry, raw, source);
                var a = new bool[n];
                for (int i = 0; i < n; i++) a[i] = raw[i] != 0;
                return new Storage<bool>(a);
            }
            case StorageKind.Half:
            {
                var raw = new ushort[n];
                ReadEntryInto(entry, MemoryMarshal.AsBytes(raw.AsSpan()), source);
                var a = new float[n];
                for (int i = 0; i < n; i++) a[i] = (float)BitConverter.UInt16BitsToHalf(raw[i]);
                return new Storage<float>(a);
            }
            default:
            {
                var raw = new ushort[n];
                ReadEntryInto(entry, MemoryMarshal.AsBytes(raw.AsSpan()), source);
                var a = new float[n];
                for (int i = 0; i < n; i++) a[i] = BitConverter.Int32BitsToSingle(raw[i] << 16);
                return new Storage<float>(a);
            }
        }
    }

    private static Tensor MakeView(Storage storage, TensorRef t, string name, string source)
    {
        int rank = t.Size.Length;
        if (t.Stride.Length != rank) throw Bad(source, $"tensor '{name}' has {rank} sizes but {t.Stride.Length} strides.");
        if (rank > 64) throw Bad(source, $"tensor '{name}' has {rank} dimensions; at most 64 are supported.");
        var shape = new int[rank];
        var strides = new int[rank];
        long numel = 1;
        long maxIndex = t.Offset;
        for (int d = 0; d < rank; d++)
        {
            long size = t.Size[d], stride = t.Stride[d];
            if (size < 0 || size > int.MaxValue) throw Bad(source, $"tensor '{name}' has an invalid size {size} in dimension {d}.");
            if (stride < 0 || stride > int.MaxValue) throw Bad(source, $"tensor '{name}' has an invalid stride {stride} in dimension {d}.");
            shape[d] = (int)size;
            strides[d] = (int)stride;
            numel = size == 0 ? 0 : Math.Min(numel * size, (long)int.MaxValue + 1);
        }
        if (t.Offset < 0 || t.Offset > int.MaxValue) throw Bad(source, $"tensor '{name}' has an invalid storage offset {t.Offset}.");
        if (numel > Array.MaxLength) throw Bad(source, $"tensor '{name}' has shape {ShapeUtil.Format(shape)}, too many elements to load.");
        if (numel > 0)
        {
            for (int d = 0; d < rank; d++) maxIndex += (long)(shape[d] - 1) * strides[d];
            if (maxIndex >= storage.Length)
            {
                throw Bad(source, $"tensor '{name}' (shape {ShapeUtil.Format(shape)}, strides {ShapeUtil.Format(strides)}, offset {t.Offset}) " +
                                  $"reaches element {maxIndex} of storage '{t.Storage.Key}', which has only {storage.Length} elements.");
            }
        }
        return new Tensor(storage, shape, strides, (int)t.Offset);
    }

    /// <summary>Reads an entry, never more than <paramref name="limit"/> bytes, whatever its header says.</summary>
    private static byte[] ReadEntry(ZipArchiveEntry entry, long limit, string source, bool exact)
    {
        _ = exact;
        long declared = entry.Length;
        if (declared < 0 || declared > limit)
        {
            throw Bad(source, $"the archive entry '{Truncate(entry.FullName)}' declares {declared} bytes, more than the {limit} expected.");
        }
        var data = new byte[declared];
        ReadEntryInto(entry, data, source);
        return data;
    }

    /// <summary>Reads an entry whose declared size equals <paramref name="dst"/>'s length into it, checking the real size too.</summary>
    private static void ReadEntryInto(ZipArchiveEntry entry, Span<byte> dst, string source)
    {
        long declared = entry.Length;
        if (declared != dst.Length) throw Bad(source, $"the archive entry '{Truncate(entry.FullName)}' declares {declared} bytes, but {dst.Length} are expected.");
        if (declared > (1 << 20) && declared > entry.CompressedLength * MaxCompressionRatio)
        {
            throw Bad(source, $"the archive entry '{Truncate(entry.FullName)}' would expand {entry.CompressedLength} compressed bytes to {declared} (a zip bomb?).");
        }
        using var s = entry.Open();
        int total = 0;
        while (total < dst.Length)
        {
            int r = s.Read(dst[total..]);
            if (r <= 0) break;
            total += r;
        }
        if (total < dst.Length) throw Bad(source, $"the archive entry '{Truncate(entry.FullName)}' ends after {total} of its {declared} bytes.");
        Span<byte> one = stackalloc byte[1];
        if (s.Read(one) > 0) throw Bad(source, $"the archive entry '{Truncate(entry.FullName)}' holds more than the {declared} bytes its header declares.");
        // The zip layer does not check the CRC-32 of what it returns: a flipped bit would load as a wrong weight. Python's zipfile
        // (and so torch.load) refuses such an entry; so do we.
        uint crc = Crc32.HashToUInt32(dst);
        if (crc != entry.Crc32)
        {
            throw Bad(source, $"the archive entry '{Truncate(entry.FullName)}' is corrupt: its CRC-32 is {crc:x8}, but the archive records {entry.Crc32:x8} " +
                              "(a damaged or tampered file; Python's zipfile reports 'Bad CRC-32'). Copy or download it again.");
        }
    }

    internal static InvalidDataException Bad(string source, string problem, Exception? inner = null)
        => new($"Invalid PyTorch checkpoint ({source}): {problem}", inner);

    internal static string Truncate(string s) => s.Length <= 80 ? s : s[..80] + "…";
}
