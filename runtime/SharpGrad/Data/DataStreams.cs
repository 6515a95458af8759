using System.IO.Compression;

namespace SharpGrad.Data;

/// <summary>Opening data files: gzip detection (magic 1f 8b) and bounded reads with clear errors.</summary>
internal static class DataStreams
{
    /// <summary>Wraps <paramref name="stream"/> in a <see cref="GZipStream"/> if it starts with the gzip magic; the peeked
    /// bytes are not lost. <paramref name="compressed"/> says which it was.</summary>
    public static Stream MaybeDecompress(Stream stream, out bool compressed)
    {
        var head = new byte[2];
        int got = ReadUpTo(stream, head);
        Stream s = got == 0 ? stream : new PrefixStream(head.AsSpan(0, got).ToArray(), stream);
        compressed = got == 2 && head[0] == 0x1f && head[1] == 0x8b;
        return compressed ? new CheckedGZipStream(s) : s;
    }

    /// <summary>Reads until <paramref name="buffer"/> is full or the stream ends; returns the bytes read.</summary>
    public static int ReadUpTo(Stream stream, Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = stream.Read(buffer[total..]);
            if (n <= 0) break;
            total += n;
        }
        return total;
    }

    /// <summary>A read-only, forward-only stream: subclasses implement only <c>Read(Span&lt;byte&gt;)</c>.</summary>
    private abstract class ForwardOnlyStream : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
    }

    /// <summary>
    /// Decompresses gzip and, at the end, checks that the input really ended with a gzip trailer whose size field matches
    /// the data: <see cref="GZipStream"/> alone accepts input cut anywhere (it returns the bytes decoded so far), so a
    /// truncated file would otherwise pass for a shorter one. (Its CRC check still applies when the trailer is present.)
    /// Limitation: concatenated multi-member gzip files are reported as corrupt.
    /// </summary>
    private sealed class CheckedGZipStream : ForwardOnlyStream
    {
        private readonly TailStream _raw;
        private readonly GZipStream _gzip;
        private long _count;
        private bool _checked;

        public CheckedGZipStream(Stream raw)
        {
            _raw = new TailStream(raw);
            _gzip = new GZipStream(_raw, CompressionMode.Decompress, leaveOpen: true);
        }

        public override int Read(Span<byte> buffer)
        {
            if (buffer.Length == 0) return 0;
            int n = _gzip.Read(buffer);
            _count += n;
            if (n == 0 && !_checked)
            {
                _checked = true;
                // A gzip member ends with CRC32 and ISIZE (the uncompressed length mod 2^32), little-endian; the smallest
                // member is 10 header + 2 deflate + 8 trailer bytes.
                if (_raw.Total < 20 || _raw.LastUInt32 != (uint)_count)
                {
                    throw new InvalidDataException(
                        $"the gzip data is truncated or its trailer is corrupt ({_raw.Total} compressed bytes gave {_count} bytes, " +
                        "but the stream does not end with a matching gzip trailer; concatenated gzip members are not supported).");
                }
            }
            return n;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) _gzip.Dispose();
            base.Dispose(disposing);
        }
    }

    /// <summary>Passes reads through, counting the bytes and remembering the last four.</summary>
    private sealed class TailStream(Stream inner) : ForwardOnlyStream
    {
        private uint _last;

        public long Total { get; private set; }

        /// <summary>The last four bytes read, as a little-endian uint32.</summary>
        public uint LastUInt32 => _last;

        public override int Read(Span<byte> buffer)
        {
            int n = inner.Read(buffer);
            for (int i = Math.Max(0, n - 4); i < n; i++) _last = (_last >> 8) | ((uint)buffer[i] << 24);
            if (n > 0) Total += n;
            return n;
        }
    }

    /// <summary>A read-only stream that first returns <c>prefix</c>, then the rest of <c>inner</c>.</summary>
    private sealed class PrefixStream(byte[] prefix, Stream inner) : ForwardOnlyStream
    {
        private int _pos;

        public override int Read(Span<byte> buffer)
        {
            if (buffer.Length == 0) return 0;
            if (_pos < prefix.Length)
            {
                int n = Math.Min(buffer.Length, prefix.Length - _pos);
                prefix.AsSpan(_pos, n).CopyTo(buffer);
                _pos += n;
                return n;
            }
            return inner.Read(buffer);
        }
    }
}
