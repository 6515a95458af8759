namespace SharpGrad.Data;

/// <summary>
/// An open IDX file whose header has been read and checked (as by <see cref="Idx.Read(string)"/>), from which items along
/// the first dimension are read on demand with <see cref="ReadItems"/>: an uncompressed file is read only at the requested
/// items (it seeks), a gzipped one is decompressed sequentially and only up to the end of the requested items
/// (so with gzip, successive calls must go forward). PyTorch has no counterpart (torchvision reads the whole file);
/// <c>ReadItems(start, count)</c> equals <c>read_sn3_pascalvincent_tensor(path)[start:start + count]</c>.
/// </summary>
public sealed class IdxReader : IDisposable
{
    private readonly Stream _owned;       // the stream disposed with the reader (null-stream for borrowed input)
    private readonly Stream _data;        // positioned after the header at construction
    private readonly bool _compressed;
    private readonly bool _seekable;      // uncompressed and seekable: ReadItems seeks
    private readonly long _dataStart;     // stream position of the first payload byte (seekable only)
    private readonly string _name;
    private readonly Idx.Header _header;
    private readonly long _itemBytes;
    private long _nextItem;               // forward-only: the item the stream is positioned at
    private bool _disposed;

    private IdxReader(Stream owned, Stream data, bool compressed, bool seekable, string name, Idx.Header header)
    {
        _owned = owned;
        _data = data;
        _compressed = compressed;
        _seekable = seekable;
        _name = name;
        _header = header;
        _dataStart = seekable ? data.Position : 0;
        _itemBytes = header.Shape.Length == 0 || header.Shape[0] == 0 ? 0 : header.ByteCount / header.Shape[0];
    }

    /// <summary>Opens the IDX file at <paramref name="path"/> (gzipped or not) and reads its header.</summary>
    /// <exception cref="InvalidDataException">The header is invalid or (uncompressed file) disagrees with the file length.</exception>
    public static IdxReader Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var stream = File.OpenRead(path);
        try
        {
            return Open(stream, path, ownsStream: true);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Reads the header of an IDX file (gzipped or not) from <paramref name="stream"/>; <paramref name="name"/> is
    /// used in error messages. With <paramref name="ownsStream"/> the reader disposes the stream.</summary>
    /// <exception cref="InvalidDataException">The header is invalid or (uncompressed seekable stream) disagrees with its length.</exception>
    public static IdxReader Open(Stream stream, string? name = null, bool ownsStream = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        name ??= "<stream>";
        var (data, compressed, rawRemaining) = Idx.OpenData(stream, name);
        try
        {
            var header = Idx.ReadHeader(data, name, rawRemaining, compressed);
            // MaybeDecompress wraps the peeked bytes of an uncompressed stream; past the header, seek the stream itself.
            bool seekable = !compressed && rawRemaining is not null;
            return new IdxReader(ownsStream ? stream : Stream.Null, seekable ? stream : data, compressed, seekable, name, header);
        }
        catch
        {
            if (compressed) data.Dispose();
            throw;
        }
    }

    /// <summary>The shape in the header (a copy), e.g. [10000, 28, 28] for MNIST test images.</summary>
    public int[] Shape => (int[])_header.Shape.Clone();

    /// <summary>The dtype <see cref="ReadItems"/> returns (see <see cref="Idx.Read(string)"/> for the type codes).</summary>
    public DType DType => _header.Type switch
    {
        0x08 => DType.UInt8,
        0x0D => DType.Float32,
        0x0E => DType.Float64,
        _ => DType.Int32,
    };

    /// <summary>The number of items: the size of the first dimension (PyTorch: <c>len(tensor)</c>).</summary>
    /// <exception cref="InvalidDataException">The file has no dimension (a scalar).</exception>
    public int Count => _header.Shape.Length > 0
        ? _header.Shape[0]
        : throw Idx.Fail(_name, "has no dimensions (a scalar), so it has no items to read by range; use Idx.Read.");

    /// <summary>Reads items <paramref name="start"/> .. <paramref name="start"/> + <paramref name="count"/> − 1 along the
    /// first dimension: a tensor of shape [count, …rest of the header's shape]. With a gzipped file, <paramref name="start"/>
    /// must not be before the end of the previous call's range (decompression goes forward only).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative <paramref name="start"/>/<paramref name="count"/>, or the range
    /// goes beyond <see cref="Count"/> (the message names both).</exception>
    /// <exception cref="InvalidOperationException">Gzipped file and <paramref name="start"/> is behind the previous range.</exception>
    /// <exception cref="InvalidDataException">The data ends before the range does, or the gzip data is corrupt.</exception>
    public Tensor ReadItems(int start, int count)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int n = Count;
        if (start < 0 || count < 0 || (long)start + count > n)
        {
            throw new ArgumentOutOfRangeException(start < 0 ? nameof(start) : nameof(count),
                $"IDX file '{_name}': cannot read {count} item(s) from index {start}: the file holds {n} item(s) " +
                $"(shape {_header.DimsText}); start must be in 0..{n} and start + count at most {n}.");
        }
        long skipBytes;
        if (_seekable)
        {
            _data.Position = _dataStart + start * _itemBytes;
            skipBytes = 0;
        }
        else
        {
            if (start < _nextItem)
            {
                throw new InvalidOperationException(
                    $"IDX file '{_name}': cannot go back to item {start}: this {(_compressed ? "gzipped file" : "stream")} is read forward only " +
                    $"and is already at item {_nextItem}. Open a new IdxReader to read earlier items.");
            }
            skipBytes = (start - _nextItem) * _itemBytes;
            Idx.SkipPayload(_data, _name, _compressed, skipBytes, _header, _nextItem * _itemBytes);
        }
        long byteCount = count * _itemBytes; // <= the header's byte count, which fits in an array
        var bytes = Idx.ReadPayload(_data, _name, _compressed, (int)byteCount, _seekable, _header, start * _itemBytes);
        _nextItem = start + count;
        var shape = (int[])_header.Shape.Clone();
        shape[0] = count;
        return Idx.ToTensor(bytes, _header.Type, (int)(count == 0 ? 0 : byteCount / _header.ElementSize), shape);
    }

    /// <summary>Closes the file (or, for a borrowed stream, only the decompressor).</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_compressed) _data.Dispose();
        _owned.Dispose();
    }
}
