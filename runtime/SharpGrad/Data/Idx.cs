using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace SharpGrad.Data;

/// <summary>
/// Reader for IDX files, the format of MNIST (PyTorch: <c>torchvision.datasets.mnist.read_sn3_pascalvincent_tensor</c>).
/// Layout: a big-endian magic <c>0x0000TTRR</c> (<c>TT</c> the type code, <c>RR</c> the number of dimensions), one
/// big-endian uint32 per dimension, then the elements in row-major order, big-endian. Gzipped files (magic 1f 8b) are
/// decompressed transparently. Every byte is treated as untrusted: a malformed file gives an
/// <see cref="InvalidDataException"/> naming the file and the problem, never an out-of-memory or a hang.
/// </summary>
public static class Idx
{
    private const int InitialChunk = 1 << 20;

    /// <summary>Reads the IDX file at <paramref name="path"/> (gzipped or not) into a tensor of the shape in its header.
    /// Type codes: 0x08 unsigned byte → UInt8; 0x09 signed byte, 0x0B int16, 0x0C int32 → Int32 (SharpGrad has no
    /// 8/16-bit integer dtypes; the values are exact); 0x0D float32 → Float32; 0x0E float64 → Float64.</summary>
    /// <exception cref="InvalidDataException">The file is not a valid IDX file (message names the file and what is wrong).</exception>
    public static Tensor Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = File.OpenRead(path);
        return Read(stream, path);
    }

    /// <summary>Reads an IDX file (gzipped or not) from <paramref name="stream"/>; <paramref name="name"/> is used in error
    /// messages. The stream is read to its end and not closed. See <see cref="Read(string)"/>.</summary>
    /// <exception cref="InvalidDataException">The data is not a valid IDX file.</exception>
    public static Tensor Read(Stream stream, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        name ??= "<stream>";
        var (data, compressed, rawRemaining) = OpenData(stream, name);
        try
        {
            return ReadCore(data, name, rawRemaining, compressed);
        }
        finally
        {
            if (compressed) data.Dispose();
        }
    }

    /// <summary>Reads only the items <paramref name="start"/> .. <paramref name="start"/> + <paramref name="count"/> − 1 along
    /// the first dimension of the IDX file at <paramref name="path"/>: the result equals
    /// <c>Read(path).Narrow(0, start, count)</c> (PyTorch: <c>read_sn3_pascalvincent_tensor(path)[start:start + count]</c>),
    /// but an uncompressed file is only read at the header and the range, and a gzipped one is decompressed only up to
    /// the end of the range. The header gets the same checks as in <see cref="Read(string)"/>; the data after the range
    /// of a gzipped file is not read, so its truncation or extra bytes there go unnoticed. See <see cref="IdxReader"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="start"/> or <paramref name="count"/> is negative, or the
    /// range goes beyond the items of the file (message names both).</exception>
    /// <exception cref="InvalidDataException">The file is not a valid IDX file, has no dimension, or ends before the range does.</exception>
    public static Tensor ReadRange(string path, int start, int count)
    {
        using var reader = IdxReader.Open(path);
        return reader.ReadItems(start, count);
    }

    /// <summary>
    /// Prepares <paramref name="stream"/> for reading an IDX file: a decompressing view when it is gzip, and the number of
    /// raw bytes left when the stream is uncompressed and its length is known (null otherwise).
    /// </summary>
    internal static (Stream Data, bool Compressed, long? RawRemaining) OpenData(Stream stream, string name)
    {
        long? rawRemaining = null;
        try
        {
            if (stream.CanSeek) rawRemaining = stream.Length - stream.Position;
        }
        catch (NotSupportedException)
        {
        }
        try
        {
            var data = DataStreams.MaybeDecompress(stream, out bool compressed);
            return (data, compressed, compressed ? null : rawRemaining);
        }
        catch (IOException ex)
        {
            throw Fail(name, $"could not be read: {ex.Message}", ex);
        }
    }

    internal static InvalidDataException Fail(string name, string message, Exception? inner = null) =>
        new($"IDX file '{name}': {message}", inner);

    internal static int ReadChecked(Stream s, Span<byte> buffer, string name, bool compressed)
    {
        try
        {
            return DataStreams.ReadUpTo(s, buffer);
        }
        catch (InvalidDataException ex) when (compressed)
        {
            throw Fail(name, $"bad gzip data: {ex.Message}", ex);
        }
        catch (IOException ex)
        {
            throw Fail(name, $"could not be read ({ex.Message}).", ex);
        }
    }

    /// <summary>What the header of an IDX file says (parsed and checked by <see cref="ReadHeader"/>).</summary>
    internal sealed record Header(byte Type, int ElementSize, int[] Shape, long Count, long ByteCount, long HeaderBytes, string DimsText);

    /// <summary>Parses and checks the magic number and the dimensions (the only header parser; <see cref="Read(Stream, string?)"/>
    /// and <see cref="IdxReader"/> share it). <paramref name="rawLength"/> (uncompressed input of known length) is checked
    /// against the size the header announces.</summary>
    internal static Header ReadHeader(Stream s, string name, long? rawLength, bool compressed)
    {
        string what = compressed ? "the decompressed data" : "the file";
        Span<byte> magic = stackalloc byte[4];
        int got = ReadChecked(s, magic, name, compressed);
        if (got < 4)
        {
            throw Fail(name, $"truncated: {what} has only {got} byte(s), but an IDX file starts with a 4-byte magic number.");
        }
        uint magicValue = BinaryPrimitives.ReadUInt32BigEndian(magic);
        if (magic[0] != 0 || magic[1] != 0)
        {
            throw Fail(name, $"bad magic number 0x{magicValue:X8}: an IDX file starts with two zero bytes, a type code and the number of dimensions " +
                             "(e.g. 0x00000803 for MNIST images, 0x00000801 for labels). This is not an IDX file.");
        }
        byte type = magic[2];
        int rank = magic[3];
        int elementSize = type switch
        {
            0x08 or 0x09 => 1,
            0x0B => 2,
            0x0C or 0x0D => 4,
            0x0E => 8,
            _ => throw Fail(name, $"unsupported type code 0x{type:X2} in magic number 0x{magicValue:X8}; IDX type codes are " +
                                  "0x08 (ubyte), 0x09 (sbyte), 0x0B (int16), 0x0C (int32), 0x0D (float32), 0x0E (float64)."),
        };

        var dimBytes = new byte[rank * 4];
        got = ReadChecked(s, dimBytes, name, compressed);
        if (got < dimBytes.Length)
        {
            throw Fail(name, $"truncated header: the magic number 0x{magicValue:X8} announces {rank} dimension(s) ({dimBytes.Length} bytes), but {what} ends after {4 + got} bytes.");
        }
        var shape = new int[rank];
        var dims = new uint[rank];
        bool anyZero = false;
        for (int i = 0; i < rank; i++)
        {
            dims[i] = BinaryPrimitives.ReadUInt32BigEndian(dimBytes.AsSpan(i * 4));
            anyZero |= dims[i] == 0;
        }
        string dimsText = "[" + string.Join(", ", dims) + "]";
        long count = 1;
        if (anyZero)
        {
            count = 0;
        }
        else
        {
            foreach (var d in dims)
            {
                count *= d; // d < 2^32 and count <= int.MaxValue before: no long overflow
                if (count > Array.MaxLength / elementSize)
                {
                    throw Fail(name, $"the dimensions {dimsText} describe more elements than a tensor can hold (at most {Array.MaxLength / elementSize} of {elementSize} byte(s)); the header is corrupt or the file is too large.");
                }
            }
        }
        for (int i = 0; i < rank; i++) shape[i] = (int)dims[i]; // each <= count <= int.MaxValue unless count == 0
        if (anyZero)
        {
            foreach (var d in dims)
            {
                if (d > int.MaxValue) throw Fail(name, $"dimension size {d} in {dimsText} is larger than {int.MaxValue}.");
            }
        }
        long byteCount = count * elementSize;
        long headerBytes = 4 + dimBytes.Length;

        if (rawLength is long total && total - headerBytes != byteCount)
        {
            long have = total - headerBytes;
            throw Fail(name, have < byteCount
                ? $"truncated: the dimensions {dimsText} of {TypeName(type)} need {byteCount} bytes of data after the {headerBytes}-byte header, but the file has only {have}."
                : $"the dimensions {dimsText} of {TypeName(type)} need {byteCount} bytes of data after the {headerBytes}-byte header, but the file has {have} (extra bytes at the end: wrong dimensions?).");
        }
        return new Header(type, elementSize, shape, count, byteCount, headerBytes, dimsText);
    }

    private static Tensor ReadCore(Stream s, string name, long? rawLength, bool compressed)
    {
        var h = ReadHeader(s, name, rawLength, compressed);
        var bytes = ReadPayload(s, name, compressed, (int)h.ByteCount, rawLength is not null, h, 0);

        Span<byte> probe = stackalloc byte[1];
        if (ReadChecked(s, probe, name, compressed) != 0)
        {
            string what = compressed ? "the decompressed data" : "the file";
            throw Fail(name, $"{what} continues after the {h.ByteCount} bytes the dimensions {h.DimsText} of {TypeName(h.Type)} need (extra bytes at the end: wrong dimensions?).");
        }
        return ToTensor(bytes, h.Type, (int)h.Count, h.Shape);
    }

    /// <summary>The truncation error: the header needs <see cref="Header.ByteCount"/> bytes of data, the input has only
    /// <paramref name="have"/>.</summary>
    internal static InvalidDataException Truncated(string name, Header h, bool compressed, long have) =>
        Fail(name, $"truncated: the dimensions {h.DimsText} of {TypeName(h.Type)} need {h.ByteCount} bytes of data after the {h.HeaderBytes}-byte header, " +
                   $"but {(compressed ? "the decompressed data" : "the file")} has only {have}.");

    /// <summary>Reads and discards <paramref name="byteCount"/> payload bytes (a forward-only stream), of which
    /// <paramref name="payloadBefore"/> are the payload bytes already consumed (for the truncation message).</summary>
    internal static void SkipPayload(Stream s, string name, bool compressed, long byteCount, Header h, long payloadBefore)
    {
        if (byteCount == 0) return;
        var scratch = new byte[(int)Math.Min(byteCount, 1 << 16)];
        long skipped = 0;
        while (skipped < byteCount)
        {
            int want = (int)Math.Min(scratch.Length, byteCount - skipped);
            int n = ReadChecked(s, scratch.AsSpan(0, want), name, compressed);
            skipped += n;
            if (n < want) throw Truncated(name, h, compressed, payloadBefore + skipped);
        }
    }

    /// <summary>Reads <paramref name="byteCount"/> payload bytes; <paramref name="payloadBefore"/> payload bytes were
    /// consumed before (for the truncation message).</summary>
    internal static byte[] ReadPayload(Stream s, string name, bool compressed, int byteCount, bool lengthKnown, Header h, long payloadBefore)
    {
        // Allocate as data arrives (unless the file length already vouches for it), so a lying header cannot
        // make us allocate gigabytes for a small file.
        var buffer = new byte[lengthKnown ? byteCount : Math.Min(byteCount, InitialChunk)];
        int filled = 0;
        while (filled < byteCount)
        {
            if (filled == buffer.Length)
            {
                Array.Resize(ref buffer, (int)Math.Min(byteCount, (long)buffer.Length * 2));
            }
            int n = ReadChecked(s, buffer.AsSpan(filled), name, compressed);
            filled += n;
            if (filled < buffer.Length) break; // the stream ended
        }
        if (filled < byteCount) throw Truncated(name, h, compressed, payloadBefore + filled);
        return buffer;
    }

    private static string TypeName(byte type) => type switch
    {
        0x08 => "ubyte",
        0x09 => "sbyte",
        0x0B => "int16",
        0x0C => "int32",
        0x0D => "float32",
        _ => "float64",
    };

    internal static Tensor ToTensor(byte[] bytes, byte type, int count, int[] shape)
    {
        switch (type)
        {
            case 0x08:
                return Tensor.Wrap(bytes, shape);
            case 0x09:
            {
                var data = new int[count];
                for (int i = 0; i < count; i++) data[i] = (sbyte)bytes[i];
                return Tensor.Wrap(data, shape);
            }
            case 0x0B:
            {
                var data = new int[count];
                for (int i = 0; i < count; i++) data[i] = BinaryPrimitives.ReadInt16BigEndian(bytes.AsSpan(2 * i));
                return Tensor.Wrap(data, shape);
            }
            case 0x0C:
            {
                var data = new int[count];
                FromBigEndian(MemoryMarshal.Cast<byte, int>(bytes.AsSpan()), data);
                return Tensor.Wrap(data, shape);
            }
            case 0x0D:
            {
                var data = new float[count];
                FromBigEndian(MemoryMarshal.Cast<byte, int>(bytes.AsSpan()), MemoryMarshal.Cast<float, int>(data.AsSpan()));
                return Tensor.Wrap(data, shape);
            }
            default:
            {
                var data = new double[count];
                FromBigEndian(MemoryMarshal.Cast<byte, long>(bytes.AsSpan()), MemoryMarshal.Cast<double, long>(data.AsSpan()));
                return Tensor.Wrap(data, shape);
            }
        }
    }

    private static void FromBigEndian(ReadOnlySpan<int> src, Span<int> dst)
    {
        if (BitConverter.IsLittleEndian) BinaryPrimitives.ReverseEndianness(src, dst);
        else src.CopyTo(dst);
    }

    private static void FromBigEndian(ReadOnlySpan<long> src, Span<long> dst)
    {
        if (BitConverter.IsLittleEndian) BinaryPrimitives.ReverseEndianness(src, dst);
        else src.CopyTo(dst);
    }
}
