using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace SharpGrad.Serialization;

/// <summary>
/// Reads and writes the safetensors format (Hugging Face; <c>safetensors.torch.load_file</c> / <c>save_file</c>): an 8-byte
/// little-endian header length N, N bytes of JSON (<c>{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {…}}</c>,
/// padded with spaces), then the tensors' bytes, little-endian and row-major, packed with no holes or overlaps.
/// Every byte read is treated as untrusted: malformed files give <see cref="InvalidDataException"/> naming the tensor and the problem.
/// </summary>
public static class SafeTensors
{
    /// <summary>The largest header accepted (the reference implementation's limit, 100 MB).</summary>
    public const long MaxHeaderSize = 100_000_000;

    private const string MetadataKey = "__metadata__";

    // ---------------------------------------------------------------- reading

    /// <summary>
    /// Reads every tensor of a safetensors file (PyTorch: <c>safetensors.torch.load_file(path)</c>). F32, F64, I64, I32, U8
    /// and BOOL keep their dtype; F16 and BF16 are widened to Float32. The header is read first, then each tensor's bytes
    /// straight into its own array (the file is never copied whole). Entries keep the header's order.
    /// </summary>
    /// <exception cref="InvalidDataException">The file is not a valid safetensors file.</exception>
    public static StateDict Read(string path) => Read(path, limits: null);

    /// <summary>Reads a safetensors file, refusing (before reading any tensor) one whose tensors need more than <paramref name="limits"/> allows.</summary>
    internal static StateDict Read(string path, ModelLoadOptions? limits)
    {
        ArgumentNullException.ThrowIfNull(path);
        // Unbuffered: the header and then each tensor are read straight into their own arrays (one read each), so a buffer
        // would only add a copy (and, for a small model loaded at start-up, 64 KB of fresh memory to fault in).
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0, FileOptions.SequentialScan);
        return Read(stream, path, limits);
    }

    /// <summary>Reads a safetensors file from <paramref name="stream"/> (read from its current position to the end of the file's data).</summary>
    /// <exception cref="InvalidDataException">The data is not a valid safetensors file.</exception>
    public static StateDict Read(Stream stream) => Read(stream, "the safetensors stream", limits: null);

    private static StateDict Read(Stream stream, string source, ModelLoadOptions? limits)
    {
        ArgumentNullException.ThrowIfNull(stream);
        long available = stream.CanSeek ? stream.Length - stream.Position : -1;
        Span<byte> lenBytes = stackalloc byte[8];
        if (ReadFully(stream, lenBytes) < 8)
        {
            throw Bad(source, "the file is shorter than the 8-byte header length that starts every safetensors file.");
        }
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(lenBytes);
        if (n < 2) throw Bad(source, $"the header length is {n} bytes, too small for a JSON object.");
        if (n > MaxHeaderSize) throw Bad(source, $"the header length is {n} bytes, more than the {MaxHeaderSize}-byte limit (is this a safetensors file?).");
        if (available >= 0 && (long)n > available - 8)
        {
            throw Bad(source, $"the header length is {n} bytes, but only {available - 8} bytes follow the length field (the file is truncated or not safetensors).");
        }
        byte[] header;
        if (available >= 0 || n <= FirstChunk)
        {
            header = new byte[(int)n];
            if (ReadFully(stream, header) < header.Length) throw Bad(source, $"the file ends inside the {n}-byte header.");
        }
        else
        {
            // A stream of unknown length: don't trust the declared size before the bytes are there.
            var chunks = ReadChunks(stream, (long)n, got => Bad(source, $"the file ends inside the {n}-byte header ({got} bytes are present)."));
            header = new byte[(int)n];
            int at = 0;
            foreach (var c in chunks) { c.CopyTo(header, at); at += c.Length; }
        }
        long bufferLength = available >= 0 ? available - 8 - (long)n : -1;

        List<Entry> entries;
        List<(string, string)> metadata;
        try
        {
            entries = ParseHeader(header, source, out metadata);
        }
        catch (InvalidOperationException ex)
        {
            // JsonElement reports strings that are not valid UTF-8 this way.
            throw Bad(source, $"the header holds text that is not valid UTF-8 ({ex.Message}).", ex);
        }

        // Validate the layout: sorted by offset, the tensors must tile [0, end) exactly.
        var byOffset = entries.OrderBy(e => e.Begin).ThenBy(e => e.End).ToList();
        long expectedBegin = 0;
        foreach (var e in byOffset)
        {
            if (e.Begin != expectedBegin)
            {
                throw Bad(source, e.Begin > expectedBegin
                    ? $"tensor '{e.Name}' starts at byte {e.Begin} of the data, but the previous tensor ends at {expectedBegin}: the data has a hole (safetensors tensors must be packed without gaps)."
                    : $"tensor '{e.Name}' (bytes {e.Begin}..{e.End}) overlaps the tensor before it, which ends at byte {expectedBegin}.");
            }
            expectedBegin = e.End;
        }
        if (bufferLength >= 0 && expectedBegin != bufferLength)
        {
            throw Bad(source, expectedBegin > bufferLength
                ? $"the tensors need {expectedBegin} bytes of data, but the file has only {bufferLength} after the header (truncated file or offsets out of range)" +
                  (byOffset.Count > 0 ? $"; the last tensor is '{byOffset[^1].Name}' (bytes {byOffset[^1].Begin}..{byOffset[^1].End})." : ".")
                : $"the tensors cover {expectedBegin} bytes of data, but the file has {bufferLength} bytes after the header: {bufferLength - expectedBegin} trailing bytes belong to no tensor.");
        }

        if (limits is not null)
        {
            long inMemory = 0;
            foreach (var e in entries) inMemory += e.NumElements * (e.DType is "F16" or "BF16" ? 4 : (e.End - e.Begin) / Math.Max(e.NumElements, 1));
            if (inMemory > limits.MaxBytes)
            {
                throw Bad(source, $"its {entries.Count} tensors need {inMemory} bytes in memory, more than the model load budget. {limits.RaiseHint}");
            }
        }

        // Read each tensor's bytes in file order (the layout is contiguous, so no seeking is needed).
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var e in byOffset) tensors[e.Name] = ReadTensor(stream, e, source, bufferLength >= 0);
        if (bufferLength < 0)
        {
            Span<byte> one = stackalloc byte[1];
            if (ReadFully(stream, one) > 0) throw Bad(source, $"the tensors cover {expectedBegin} bytes of data, but more bytes follow them that belong to no tensor.");
        }

        var dict = new StateDict();
        foreach (var e in entries) dict.Add(e.Name, tensors[e.Name]);
        foreach (var (k, v) in metadata) dict.Metadata[k] = v;
        return dict;
    }

    private sealed record Entry(string Name, string DType, int[] Shape, long NumElements, long Begin, long End);

    private static List<Entry> ParseHeader(byte[] header, string source, out List<(string, string)> metadata)
    {
        metadata = [];
        if (header[0] != (byte)'{') throw Bad(source, "the header does not start with '{': it is not a JSON object (is this a safetensors file?).");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(header, new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException ex)
        {
            throw Bad(source, $"the header is not valid JSON ({ex.Message}).", ex);
        }
        catch (ArgumentException ex)
        {
            throw Bad(source, $"the header is not valid UTF-8 JSON ({ex.Message}).", ex);
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw Bad(source, "the header is not a JSON object.");
            var names = new HashSet<string>(StringComparer.Ordinal);
            var entries = new List<Entry>();
            bool sawMetadata = false;
            foreach (var prop in root.EnumerateObject())
            {
                string name = prop.Name;
                if (!names.Add(name)) throw Bad(source, $"the header names '{name}' twice; tensor names must be unique.");
                if (name == MetadataKey)
                {
                    sawMetadata = true;
                    if (prop.Value.ValueKind != JsonValueKind.Object) throw Bad(source, "__metadata__ must be an object mapping strings to strings.");
                    foreach (var m in prop.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String)
                        {
                            throw Bad(source, $"__metadata__ entry '{m.Name}' is a {m.Value.ValueKind}, but metadata values must be strings.");
                        }
                        metadata.Add((m.Name, m.Value.GetString()!));
                    }
                    continue;
                }
                entries.Add(ParseEntry(name, prop.Value, source));
            }
            _ = sawMetadata;
            return entries;
        }
    }

    private static Entry ParseEntry(string name, JsonElement v, string source)
    {
        if (v.ValueKind != JsonValueKind.Object) throw Bad(source, $"the header entry for tensor '{name}' is a {v.ValueKind}, not an object.");
        if (!v.TryGetProperty("dtype", out var dtypeEl) || dtypeEl.ValueKind != JsonValueKind.String)
        {
            throw Bad(source, $"tensor '{name}' has no \"dtype\" string.");
        }
        string dtype = dtypeEl.GetString()!;
        int elementSize = dtype switch
        {
            "F32" or "I32" => 4,
            "F64" or "I64" => 8,
            "U8" or "BOOL" => 1,
            "F16" or "BF16" => 2,
            "I8" or "I16" or "U16" or "U32" or "U64" or "F8_E4M3" or "F8_E5M2" => throw Bad(source,
                $"tensor '{name}' has dtype {dtype}, which SharpGrad does not support (supported: F32, F64, I64, I32, U8, BOOL; F16 and BF16 are widened to F32)."),
            _ => throw Bad(source, $"tensor '{name}' has an unknown dtype \"{Truncate(dtype)}\"."),
        };
        if (!v.TryGetProperty("shape", out var shapeEl) || shapeEl.ValueKind != JsonValueKind.Array)
        {
            throw Bad(source, $"tensor '{name}' has no \"shape\" array.");
        }
        int rank = shapeEl.GetArrayLength();
        if (rank > 64) throw Bad(source, $"tensor '{name}' has {rank} dimensions; at most 64 are supported.");
        var shape = new int[rank];
        long count = 1;
        bool overflow = false;
        int i = 0;
        foreach (var d in shapeEl.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long dim) || dim < 0)
            {
                throw Bad(source, $"tensor '{name}' has an invalid dimension {Truncate(d.GetRawText())} in its shape (dimensions are non-negative integers).");
            }
            if (dim > int.MaxValue)
            {
                throw Bad(source, $"tensor '{name}' has a dimension of {dim}, larger than SharpGrad's limit of {int.MaxValue}.");
            }
            shape[i++] = (int)dim;
            if (!overflow)
            {
                long next;
                try { next = checked(count * dim); }
                catch (OverflowException) { overflow = true; next = 0; }
                count = next;
            }
        }
        if (!v.TryGetProperty("data_offsets", out var offEl) || offEl.ValueKind != JsonValueKind.Array || offEl.GetArrayLength() != 2)
        {
            throw Bad(source, $"tensor '{name}' has no \"data_offsets\" pair [begin, end].");
        }
        var begin = offEl[0];
        var end = offEl[1];
        if (begin.ValueKind != JsonValueKind.Number || !begin.TryGetInt64(out long b) || b < 0 ||
            end.ValueKind != JsonValueKind.Number || !end.TryGetInt64(out long e) || e < 0)
        {
            throw Bad(source, $"tensor '{name}' has invalid data_offsets {Truncate(offEl.GetRawText())} (they must be non-negative integers).");
        }
        if (e < b) throw Bad(source, $"tensor '{name}' has data_offsets [{b}, {e}]: the end is before the beginning.");
        string shapeText = "[" + string.Join(", ", shape) + "]";
        if (overflow || count > Array.MaxLength || count > long.MaxValue / elementSize)
        {
            throw Bad(source, $"tensor '{name}' declares shape {shapeText}, which is too many elements to load (the limit is {Array.MaxLength}).");
        }
        if (e - b != count * elementSize)
        {
            throw Bad(source, $"tensor '{name}' is {dtype} with shape {shapeText}, which takes {count * elementSize} bytes, but its data_offsets [{b}, {e}] span {e - b} bytes.");
        }
        return new Entry(name, dtype, shape, count, b, e);
    }

    private static Tensor ReadTensor(Stream stream, Entry e, string source, bool sizeChecked)
    {
        int n = (int)e.NumElements;
        long bytes = e.End - e.Begin;
        var prefetched = Prefetch(stream, bytes, sizeChecked, source, e.Name);
        switch (e.DType)
        {
            case "F32": { var a = new float[n]; Fill(MemoryMarshal.AsBytes(a.AsSpan())); return Tensor.Wrap(a, e.Shape); }
            case "F64": { var a = new double[n]; Fill(MemoryMarshal.AsBytes(a.AsSpan())); return Tensor.Wrap(a, e.Shape); }
            case "I64": { var a = new long[n]; Fill(MemoryMarshal.AsBytes(a.AsSpan())); return Tensor.Wrap(a, e.Shape); }
            case "I32": { var a = new int[n]; Fill(MemoryMarshal.AsBytes(a.AsSpan())); return Tensor.Wrap(a, e.Shape); }
            case "U8": { var a = new byte[n]; Fill(a); return Tensor.Wrap(a, e.Shape); }
            case "BOOL":
            {
                var a = new byte[n];
                Fill(a);
                var r = new bool[n];
                for (int i = 0; i < n; i++) r[i] = a[i] != 0;
                return Tensor.Wrap(r, e.Shape);
            }
            case "F16":
            {
                var raw = new ushort[n];
                Fill(MemoryMarshal.AsBytes(raw.AsSpan()));
                var a = new float[n];
                for (int i = 0; i < n; i++) a[i] = (float)BitConverter.UInt16BitsToHalf(ToLittle(raw[i]));
                return Tensor.Wrap(a, e.Shape);
            }
            case "BF16":
            {
                var raw = new ushort[n];
                Fill(MemoryMarshal.AsBytes(raw.AsSpan()));
                var a = new float[n];
                for (int i = 0; i < n; i++) a[i] = BitConverter.Int32BitsToSingle(ToLittle(raw[i]) << 16);
                return Tensor.Wrap(a, e.Shape);
            }
            default:
                throw Bad(source, $"tensor '{e.Name}' has an unsupported dtype {e.DType}.");
        }

        void Fill(Span<byte> dst)
        {
            if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("SharpGrad's safetensors reader needs a little-endian machine.");
            if (prefetched is not null)
            {
                int pos = 0;
                foreach (var chunk in prefetched) { chunk.CopyTo(dst[pos..]); pos += chunk.Length; }
                return;
            }
            int got = ReadFully(stream, dst);
            if (got < dst.Length)
            {
                throw Bad(source, $"the file ends inside tensor '{e.Name}' ({got} of its {bytes} bytes are present): the file is truncated.");
            }
        }
    }

    /// <summary>
    /// For a stream of unknown length, reads a tensor's bytes (more than 64 KB) in chunks before its array is allocated, so a
    /// header that lies about a size fails at the end of the data instead of allocating what it asks for.
    /// </summary>
    private static List<byte[]>? Prefetch(Stream stream, long bytes, bool sizeChecked, string source, string name)
    {
        if (sizeChecked || bytes <= FirstChunk) return null;
        return ReadChunks(stream, bytes, got => Bad(source, $"the file ends inside tensor '{name}' ({got} of its {bytes} bytes are present): the file is truncated."));
    }

    private const int FirstChunk = 1 << 16;

    /// <summary>
    /// Reads <paramref name="bytes"/> bytes in chunks that start at 64 KB and double (up to 16 MB) as data keeps arriving, so
    /// what is allocated stays within about twice what the stream really holds, whatever was declared.
    /// </summary>
    private static List<byte[]> ReadChunks(Stream stream, long bytes, Func<long, Exception> truncated)
    {
        var chunks = new List<byte[]>();
        long received = 0;
        while (received < bytes)
        {
            var chunk = new byte[(int)Math.Min(Math.Min(1 << 24, Math.Max(FirstChunk, received)), bytes - received)];
            int got = ReadFully(stream, chunk);
            if (got < chunk.Length) throw truncated(received + got);
            chunks.Add(chunk);
            received += got;
        }
        return chunks;
    }

    private static ushort ToLittle(ushort v) => BitConverter.IsLittleEndian ? v : BinaryPrimitives.ReverseEndianness(v);

    private static int ReadFully(Stream s, Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int r = s.Read(buffer[total..]);
            if (r <= 0) break;
            total += r;
        }
        return total;
    }

    // ---------------------------------------------------------------- writing

    /// <summary>
    /// Writes <paramref name="tensors"/> to a safetensors file (PyTorch: <c>safetensors.torch.save_file(tensors, path, metadata)</c>).
    /// Tensors are written in the given order, contiguous and little-endian; names must be unique.
    /// </summary>
    public static void Write(string path, IEnumerable<(string Name, Tensor Value)> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(tensors);
        var list = tensors.ToList();
        Validate(list, metadata);
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        WriteCore(stream, list, metadata);
    }

    /// <summary>Writes <paramref name="tensors"/> in the safetensors format to <paramref name="stream"/>.</summary>
    public static void Write(Stream stream, IEnumerable<(string Name, Tensor Value)> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(tensors);
        var list = tensors.ToList();
        Validate(list, metadata);
        WriteCore(stream, list, metadata);
    }

    /// <summary>Writes a state dict with its <see cref="StateDict.Metadata"/>.</summary>
    public static void Write(string path, StateDict stateDict)
    {
        ArgumentNullException.ThrowIfNull(stateDict);
        Write(path, stateDict.Items(), stateDict.Metadata);
    }

    private static void Validate(List<(string Name, Tensor Value)> list, IReadOnlyDictionary<string, string>? metadata)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, t) in list)
        {
            if (name is null) throw new ArgumentException("SafeTensors.Write: a tensor name is null.");
            if (t is null) throw new ArgumentException($"SafeTensors.Write: the tensor '{name}' is null.");
            if (name == MetadataKey) throw new ArgumentException($"SafeTensors.Write: '{MetadataKey}' is reserved for the metadata and can't name a tensor.");
            if (!names.Add(name)) throw new ArgumentException($"SafeTensors.Write: the name '{name}' is used twice; tensor names must be unique.");
        }
        if (metadata is not null)
        {
            foreach (var (k, v) in metadata)
            {
                if (k is null || v is null) throw new ArgumentException("SafeTensors.Write: metadata keys and values can't be null.");
            }
        }
    }

    internal static string DTypeName(DType d) => d switch
    {
        DType.Float32 => "F32",
        DType.Float64 => "F64",
        DType.Int64 => "I64",
        DType.Int32 => "I32",
        DType.UInt8 => "U8",
        DType.Bool => "BOOL",
        _ => throw new ArgumentOutOfRangeException(nameof(d)),
    };

    private static void WriteCore(Stream stream, List<(string Name, Tensor Value)> list, IReadOnlyDictionary<string, string>? metadata)
    {
        var header = BuildHeader(list, metadata);
        Span<byte> len = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)header.Length);
        stream.Write(len);
        stream.Write(header);
        foreach (var (_, t) in list)
        {
            var c = t.Contiguous();
            if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("SharpGrad's safetensors writer needs a little-endian machine.");
            switch (c.DType)
            {
                case DType.Float32: stream.Write(MemoryMarshal.AsBytes(c.Span<float>())); break;
                case DType.Float64: stream.Write(MemoryMarshal.AsBytes(c.Span<double>())); break;
                case DType.Int64: stream.Write(MemoryMarshal.AsBytes(c.Span<long>())); break;
                case DType.Int32: stream.Write(MemoryMarshal.AsBytes(c.Span<int>())); break;
                case DType.UInt8: stream.Write(c.Span<byte>()); break;
                case DType.Bool:
                {
                    var src = c.Span<bool>();
                    var bytes = new byte[src.Length];
                    for (int i = 0; i < src.Length; i++) bytes[i] = src[i] ? (byte)1 : (byte)0;
                    stream.Write(bytes);
                    break;
                }
            }
        }
        stream.Flush();
    }

    /// <summary>The header JSON, padded with spaces so that 8 + its length is a multiple of 8.</summary>
    internal static byte[] BuildHeader(List<(string Name, Tensor Value)> list, IReadOnlyDictionary<string, string>? metadata)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject(MetadataKey);
                foreach (var (k, v) in metadata) w.WriteString(k, v);
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, t) in list)
            {
                long size = (long)t.NumElements * t.DType.ElementSize();
                w.WriteStartObject(name);
                w.WriteString("dtype", DTypeName(t.DType));
                w.WriteStartArray("shape");
                foreach (var d in t._shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + size);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += size;
            }
            w.WriteEndObject();
        }
        int len = (int)ms.Length;
        int padded = (len + 7) / 8 * 8;
        var result = new byte[padded];
        ms.GetBuffer().AsSpan(0, len).CopyTo(result);
        result.AsSpan(len).Fill((byte)' ');
        return result;
    }

    // ---------------------------------------------------------------- errors

    internal static InvalidDataException Bad(string source, string problem, Exception? inner = null)
        => new($"Invalid safetensors file ({source}): {problem}", inner);

    private static string Truncate(string s) => s.Length <= 60 ? s : s[..60] + "…";
}
