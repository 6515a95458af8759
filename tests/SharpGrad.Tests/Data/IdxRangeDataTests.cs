using System.IO.Compression;
using SharpGrad.Data;

namespace SharpGrad.Tests.Data;

/// <summary><see cref="Idx.ReadRange"/> and <see cref="IdxReader"/>: reading only some items of an IDX file. References are
/// the raw bytes of the file (decompressed by <see cref="GZipStream"/> in the test) and <c>Idx.Read(...).Narrow</c>.</summary>
public class IdxRangeDataTests
{
    private const string ImagesGz = "mnist10k-images-idx3-ubyte.gz";
    private const int Item = 28 * 28;

    private static byte[] Gunzip(byte[] gz)
    {
        using var z = new GZipStream(new MemoryStream(gz), CompressionMode.Decompress);
        using var ms = new MemoryStream();
        z.CopyTo(ms);
        return ms.ToArray();
    }

    private static byte[] Gzip(byte[] data)
    {
        var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(data);
        return ms.ToArray();
    }

    private static byte[] IdxBytes(byte type, uint[] dims, byte[] payload)
    {
        var ms = new MemoryStream();
        ms.Write([0, 0, type, (byte)dims.Length]);
        foreach (var d in dims) ms.Write([(byte)(d >> 24), (byte)(d >> 16), (byte)(d >> 8), (byte)d]);
        ms.Write(payload);
        return ms.ToArray();
    }

    private static string Temp(byte[] bytes, string suffix)
    {
        var path = Path.Combine(Path.GetTempPath(), $"sharpgrad-idxrange-{Guid.NewGuid():N}{suffix}");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static readonly (int Start, int Count)[] Ranges = [(0, 1), (0, 256), (1, 3), (4321, 17), (9999, 1), (5000, 0), (10_000, 0), (0, 10_000)];

    [Fact]
    public void RangeOfRealMnistEqualsRawBytesAndNarrowedRead()
    {
        var gz = File.ReadAllBytes(RealFilesDataTests.FilePath(ImagesGz));
        var raw = Gunzip(gz);
        var rawPath = Temp(raw, ".idx");
        try
        {
            var whole = Idx.Read(RealFilesDataTests.FilePath(ImagesGz));
            foreach (var path in new[] { RealFilesDataTests.FilePath(ImagesGz), rawPath })
            {
                foreach (var (start, count) in Ranges)
                {
                    var t = Idx.ReadRange(path, start, count);
                    Assert.Equal(DType.UInt8, t.DType);
                    Assert.Equal(new[] { count, 28, 28 }, t.Shape);
                    // Naive reference: the file bytes after the 16-byte header.
                    Assert.True(raw.AsSpan(16 + start * Item, count * Item).SequenceEqual(t.ToByteArray()), $"{path} [{start}, +{count}]: bytes differ");
                    Assert.True(whole.Narrow(0, start, count).Contiguous().ToByteArray().SequenceEqual(t.ToByteArray()), $"{path} [{start}, +{count}]: differs from Read().Narrow");
                }
            }
        }
        finally
        {
            File.Delete(rawPath);
        }
    }

    [Fact]
    public void ReaderHeaderAndSuccessiveRanges()
    {
        var raw = Gunzip(File.ReadAllBytes(RealFilesDataTests.FilePath(ImagesGz)));
        var rawPath = Temp(raw, ".idx");
        try
        {
            foreach (var path in new[] { RealFilesDataTests.FilePath(ImagesGz), rawPath })
            {
                using var r = IdxReader.Open(path);
                Assert.Equal(10_000, r.Count);
                Assert.Equal(new[] { 10_000, 28, 28 }, r.Shape);
                Assert.Equal(DType.UInt8, r.DType);
                foreach (var (start, count) in new[] { (3, 2), (5, 10), (100, 1) }) // forward: fine with gzip too
                {
                    Assert.True(raw.AsSpan(16 + start * Item, count * Item).SequenceEqual(r.ReadItems(start, count).ToByteArray()), $"{path} [{start}, +{count}]");
                }
                if (path == rawPath)
                {
                    Assert.True(raw.AsSpan(16, Item).SequenceEqual(r.ReadItems(0, 1).ToByteArray()), "seek back");
                }
                else
                {
                    var ex = Assert.Throws<InvalidOperationException>(() => r.ReadItems(0, 1));
                    Assert.Contains("forward only", ex.Message);
                }
            }
        }
        finally
        {
            File.Delete(rawPath);
        }
    }

    [Fact]
    public void WiderTypesAndStreams()
    {
        // int32 [3, 2]: items of 8 bytes, big-endian.
        var file = IdxBytes(0x0C, [3, 2], [0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 1, 0, 0, 0, 0, 7]);
        foreach (var bytes in new[] { file, Gzip(file) })
        {
            using var r = IdxReader.Open(new MemoryStream(bytes), "ints");
            Assert.Equal(DType.Int32, r.DType);
            var t = r.ReadItems(1, 2);
            Assert.Equal(new[] { 2, 2 }, t.Shape);
            Assert.Equal(new long[] { 3, -1, 256, 7 }, t.ToLongArray());
        }
    }

    [Fact]
    public void BadRangesNameTheCounts()
    {
        foreach (var path in new[] { RealFilesDataTests.FilePath(ImagesGz) })
        {
            foreach (var (start, count) in new[] { (-1, 1), (0, -1), (10_000, 1), (9_990, 11), (10_001, 0), (int.MaxValue, int.MaxValue) })
            {
                var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Idx.ReadRange(path, start, count));
                Assert.Contains($"cannot read {count} item(s) from index {start}", ex.Message);
                Assert.Contains("holds 10000 item(s)", ex.Message);
            }
        }
        var scalar = IdxBytes(0x08, [], [42]);
        using var r = IdxReader.Open(new MemoryStream(scalar), "scalar");
        Assert.Contains("no dimensions", Assert.Throws<InvalidDataException>(() => r.ReadItems(0, 1)).Message);
    }

    [Fact]
    public void TruncatedFiles()
    {
        var payload = Enumerable.Range(0, 10 * 6).Select(i => (byte)(i * 7)).ToArray();
        var full = IdxBytes(0x08, [10, 2, 3], payload);
        var cut = full[..(16 + 4 * 6 + 2)]; // header says 10 items of 6 bytes; 4 items and 2 bytes are there

        // Uncompressed: the header is checked against the file length up front, whatever the range.
        var cutPath = Temp(cut, ".idx");
        try
        {
            var ex = Assert.Throws<InvalidDataException>(() => Idx.ReadRange(cutPath, 0, 1));
            Assert.Contains("truncated", ex.Message);
            Assert.Contains("need 60 bytes of data after the 16-byte header, but the file has only 26", ex.Message);
        }
        finally
        {
            File.Delete(cutPath);
        }

        // Gzip (and unseekable plain streams): data is read only up to the end of the range.
        foreach (var (how, open) in new (string, Func<Stream>)[]
                 {
                     ("gzip", () => new MemoryStream(Gzip(cut))),
                     ("gzip, compressed bytes cut", () => new MemoryStream(Gzip(full)[..^12])),
                 })
        {
            using (var r = IdxReader.Open(open(), how))
            {
                Assert.True(payload.AsSpan(6, 18).SequenceEqual(r.ReadItems(1, 3).ToByteArray()), $"{how}: range before the cut");
            }
            if (how == "gzip")
            {
                foreach (var (start, count) in new[] { (3, 2), (0, 10), (5, 1), (9, 1) }) // range ends after the cut
                {
                    using var r = IdxReader.Open(open(), how);
                    var ex = Assert.Throws<InvalidDataException>(() => r.ReadItems(start, count));
                    Assert.Contains($"IDX file '{how}': truncated: the dimensions [10, 2, 3] of ubyte need 60 bytes of data after the 16-byte header, but the decompressed data has only 26", ex.Message);
                }
            }
            else
            {
                using var r = IdxReader.Open(open(), how);
                Assert.Throws<InvalidDataException>(() => r.ReadItems(0, 10));
            }
        }
    }

    [Fact]
    public void RealGzipCutInsideTheRange()
    {
        var gz = File.ReadAllBytes(RealFilesDataTests.FilePath(ImagesGz));
        var path = Temp(gz[..(gz.Length / 2)], ".gz");
        try
        {
            Assert.Equal(Item, Idx.ReadRange(path, 10, 1).ToByteArray().Length); // well before the cut
            Assert.Throws<InvalidDataException>(() => Idx.ReadRange(path, 9_000, 10)); // after it
            Assert.Throws<InvalidDataException>(() => Idx.Read(path));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
