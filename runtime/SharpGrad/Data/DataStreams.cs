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
        return compressed ? new GZipStream(s, CompressionMode.Decompress, leaveOpen: true) : s;
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

    /// <summary>A read-only stream that first returns <c>prefix</c>, then the rest of <c>inner</c>.</summary>
    private sealed class PrefixStream(byte[] prefix, Stream inner) : Stream
    {
        private int _pos;

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
