using System.IO.Compression;
using System.Text;
using SharpGrad.Data;

namespace SharpGrad.Tests.Data;

/// <summary>IDX and CSV readers on small hand-built files, valid and malformed.</summary>
public class ReadersDataTests
{
    /// <summary>An IDX file built byte by byte from the format description.</summary>
    private static byte[] IdxBytes(byte type, uint[] dims, byte[] payload)
    {
        var ms = new MemoryStream();
        ms.Write([0, 0, type, (byte)dims.Length]);
        foreach (var d in dims) ms.Write([(byte)(d >> 24), (byte)(d >> 16), (byte)(d >> 8), (byte)d]);
        ms.Write(payload);
        return ms.ToArray();
    }

    private static byte[] Gzip(byte[] data)
    {
        var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Optimal, leaveOpen: true)) gz.Write(data);
        return ms.ToArray();
    }

    private static byte[] ValidSmall() => IdxBytes(0x08, [2, 3, 4], Enumerable.Range(0, 24).Select(i => (byte)(i * 10)).ToArray());

    /// <summary>A stream that hides its length (like a network stream), to exercise the path that cannot check the size first.</summary>
    private sealed class Unseekable(byte[] data) : Stream
    {
        private readonly MemoryStream _inner = new(data);
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, Math.Min(count, 7));
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    private static IEnumerable<(string How, Stream Stream)> AllWays(byte[] file)
    {
        yield return ("plain", new MemoryStream(file));
        yield return ("plain unseekable", new Unseekable(file));
        yield return ("gzip", new MemoryStream(Gzip(file)));
        yield return ("gzip unseekable", new Unseekable(Gzip(file)));
    }

    [Fact]
    public void ReadsUBytePlainAndGzipped()
    {
        foreach (var (how, s) in AllWays(ValidSmall()))
        {
            var t = Idx.Read(s, how);
            Assert.Equal(DType.UInt8, t.DType);
            Assert.Equal(new[] { 2, 3, 4 }, t.Shape);
            Assert.Equal(Enumerable.Range(0, 24).Select(i => (byte)(i * 10)), t.ToByteArray());
        }
    }

    [Fact]
    public void ReadsOtherTypesBigEndian()
    {
        // sbyte: 0xFF is -1, 0x80 is -128.
        var sb = Idx.Read(new MemoryStream(IdxBytes(0x09, [3], [0xFF, 0x80, 0x05])));
        Assert.Equal(new long[] { -1, -128, 5 }, sb.ToLongArray());
        // int16 big-endian: 0x0102 = 258, 0xFFFE = -2.
        var sh = Idx.Read(new MemoryStream(IdxBytes(0x0B, [2], [0x01, 0x02, 0xFF, 0xFE])));
        Assert.Equal(new long[] { 258, -2 }, sh.ToLongArray());
        // int32 big-endian: 0x01020304 = 16909060, 0xFFFFFFFF = -1.
        var i32 = Idx.Read(new MemoryStream(IdxBytes(0x0C, [1, 2], [1, 2, 3, 4, 0xFF, 0xFF, 0xFF, 0xFF])));
        Assert.Equal(DType.Int32, i32.DType);
        Assert.Equal(new[] { 1, 2 }, i32.Shape);
        Assert.Equal(new long[] { 16909060, -1 }, i32.ToLongArray());
        // float32 big-endian: 0x3FC00000 = 1.5, 0xC0200000 = -2.5 (IEEE 754).
        var f = Idx.Read(new MemoryStream(IdxBytes(0x0D, [2], [0x3F, 0xC0, 0, 0, 0xC0, 0x20, 0, 0])));
        Assert.Equal(DType.Float32, f.DType);
        Assert.Equal(new float[] { 1.5f, -2.5f }, f.ToArray());
        // float64 big-endian: 0x4009_21FB_5444_2D18 = π.
        var d = Idx.Read(new MemoryStream(IdxBytes(0x0E, [1], [0x40, 0x09, 0x21, 0xFB, 0x54, 0x44, 0x2D, 0x18])));
        Assert.Equal(DType.Float64, d.DType);
        Assert.Equal(Math.PI, d.ToDoubleArray()[0]);
        // Zero-sized dimension.
        var empty = Idx.Read(new MemoryStream(IdxBytes(0x08, [0, 28, 28], [])));
        Assert.Equal(new[] { 0, 28, 28 }, empty.Shape);
    }

    private static InvalidDataException Bad(byte[] file, string how)
    {
        var ex = Assert.Throws<InvalidDataException>(() => Idx.Read(new MemoryStream(file), "bad.idx"));
        Assert.Contains("bad.idx", ex.Message);
        return ex;
    }

    [Fact]
    public void RejectsMalformedIdx()
    {
        var valid = ValidSmall();
        foreach (var (how, s) in AllWays(valid[..^1]))
        {
            var ex = Assert.Throws<InvalidDataException>(() => Idx.Read(s, "short.idx"));
            Assert.Contains("short.idx", ex.Message);
            Assert.Contains("truncated", ex.Message);
        }
        foreach (var (how, s) in AllWays([.. valid, 0]))
        {
            var ex = Assert.Throws<InvalidDataException>(() => Idx.Read(s, "long.idx"));
            Assert.Contains("extra bytes", ex.Message);
        }
        Assert.Contains("truncated", Bad(valid[..9], "header").Message);
        Assert.Contains("truncated", Bad([0, 0], "magic").Message);
        Assert.Contains("magic", Bad([1, .. valid[1..]], "magic").Message);
        Assert.Contains("magic", Bad(Encoding.ASCII.GetBytes("P5\n28 28\n255\n" + new string('x', 40)), "pgm").Message);
        Assert.Contains("type code 0x0A", Bad(IdxBytes(0x0A, [2], [1, 2]), "type").Message);
        Assert.Contains("type code 0x00", Bad(IdxBytes(0x00, [2], [1, 2]), "type").Message);

        // Dims whose product overflows 32 and 64 bits, or that exceed the file.
        foreach (var (how, s) in AllWays(IdxBytes(0x0E, [0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF], [1, 2, 3])))
        {
            var ex = Assert.Throws<InvalidDataException>(() => Idx.Read(s, how));
            Assert.Contains("more elements than a tensor can hold", ex.Message);
        }
        foreach (var (how, s) in AllWays(IdxBytes(0x08, [60_000, 28, 28], new byte[100])))
        {
            var ex = Assert.Throws<InvalidDataException>(() => Idx.Read(s, how));
            Assert.Contains("47040000 bytes", ex.Message);
        }
        Bad(IdxBytes(0x08, [0x80000000, 0], []), "dim too large");

        // Truncated gzip: the IDX header is intact, the compressed payload stops half-way.
        var big = IdxBytes(0x08, [100, 100], Enumerable.Range(0, 10_000).Select(i => (byte)(i * 31 % 251)).ToArray());
        var gz = Gzip(big);
        foreach (var cut in new[] { gz.Length / 2, gz.Length - 4, 12 })
        {
            Assert.Throws<InvalidDataException>(() => Idx.Read(new MemoryStream(gz[..cut]), "cut.gz"));
            Assert.Throws<InvalidDataException>(() => Idx.Read(new Unseekable(gz[..cut]), "cut.gz"));
        }
        // Corrupt gzip body.
        var corrupt = (byte[])gz.Clone();
        for (int i = 20; i < 60; i++) corrupt[i] ^= 0x5A;
        Assert.Throws<InvalidDataException>(() => Idx.Read(new MemoryStream(corrupt), "corrupt.gz"));
    }

    [Fact]
    public void IdxFromFileNamesTheFile()
    {
        var path = Path.Combine(Path.GetTempPath(), $"sharpgrad-{Guid.NewGuid():N}.idx");
        try
        {
            File.WriteAllBytes(path, ValidSmall()[..20]);
            var ex = Assert.Throws<InvalidDataException>(() => Idx.Read(path));
            Assert.Contains(path, ex.Message);
            Assert.Throws<InvalidDataException>(() => Mnist.Load(path, path));
            File.WriteAllBytes(path, IdxBytes(0x08, [3], [1, 2, 3]));
            var ex2 = Assert.Throws<InvalidDataException>(() => Mnist.Load(path, path));
            Assert.Contains("[N, rows, cols]", ex2.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task RandomMutationsGiveOnlyInvalidDataException()
    {
        var valid = IdxBytes(0x0D, [3, 2, 2], Enumerable.Range(0, 48).Select(i => (byte)(i * 37)).ToArray());
        var validGz = Gzip(valid);
        var rng = new Random(20261127);
        int failures = 0, successes = 0;
        var run = Task.Run(() =>
        {
            for (int m = 0; m < 400; m++)
            {
                var file = (byte[])(m % 4 == 3 ? validGz : valid).Clone();
                int kind = rng.Next(4);
                if (kind == 0)
                {
                    int flips = 1 + rng.Next(4);
                    for (int k = 0; k < flips; k++) file[rng.Next(file.Length)] = (byte)rng.Next(256);
                }
                else if (kind == 1)
                {
                    file = file[..rng.Next(file.Length)];
                }
                else if (kind == 2)
                {
                    // Mutate the header only (magic, type, rank, dims).
                    int at = rng.Next(Math.Min(file.Length, 16));
                    file[at] = (byte)rng.Next(256);
                }
                else
                {
                    int at = rng.Next(file.Length);
                    var extra = new byte[1 + rng.Next(8)];
                    rng.NextBytes(extra);
                    file = [.. file[..at], .. extra, .. file[at..]];
                }
                foreach (var stream in new Stream[] { new MemoryStream(file), new Unseekable(file) })
                {
                    try
                    {
                        Idx.Read(stream, $"mutation {m}");
                        successes++;
                    }
                    catch (InvalidDataException)
                    {
                        failures++;
                    }
                }
            }
        });
        await run.WaitAsync(TimeSpan.FromSeconds(60)); // any other exception fails the test; TimeoutException if a mutation hangs
        Assert.True(failures > 100, $"only {failures} of the mutations were rejected");
        Assert.True(successes > 0);
    }

    [Fact]
    public void CsvReadsNumbersAndNamesBadCells()
    {
        var text = "a;b;c\n1;2.5;-3e2\n\"4\"; 5 ;6\r\n\n";
        var t = Csv.Read(new MemoryStream(Encoding.UTF8.GetBytes(text)), "x.csv", hasHeader: true, separator: ';');
        Assert.Equal(new[] { 2, 3 }, t.Shape);
        Assert.Equal(new float[] { 1, 2.5f, -300, 4, 5, 6 }, t.ToArray());
        var tgz = Csv.Read(new MemoryStream(Gzip(Encoding.UTF8.GetBytes(text))), "x.csv.gz", hasHeader: true, separator: ';');
        Assert.Equal(t.ToArray(), tgz.ToArray());

        var (x, y) = Csv.ReadWithLabels(new MemoryStream(Encoding.UTF8.GetBytes("7,1,2\n9,3,4\n")), "l.csv", labelColumn: 0);
        Assert.Equal(new float[] { 1, 2, 3, 4 }, x.ToArray());
        Assert.Equal(new long[] { 7, 9 }, y.ToLongArray());
        Assert.Equal(DType.Int64, y.DType);

        var ex = Assert.Throws<InvalidDataException>(() => Csv.Read(new MemoryStream(Encoding.UTF8.GetBytes("1,2,3\n4,five,6\n")), "bad.csv"));
        Assert.Contains("bad.csv", ex.Message);
        Assert.Contains("line 2", ex.Message);
        Assert.Contains("data row 2", ex.Message);
        Assert.Contains("column 2", ex.Message);
        Assert.Contains("'five'", ex.Message);

        var ragged = Assert.Throws<InvalidDataException>(() => Csv.Read(new MemoryStream(Encoding.UTF8.GetBytes("1,2,3\n4,5\n")), "ragged.csv"));
        Assert.Contains("line 2", ragged.Message);
        var label = Assert.Throws<InvalidDataException>(() => Csv.ReadWithLabels(new MemoryStream(Encoding.UTF8.GetBytes("1,2\n3,4.5\n")), "lab.csv"));
        Assert.Contains("column 2", label.Message);
        Assert.Contains("not an integer", label.Message);

        var gz = Gzip(Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("1,2,3,4,5,6,7,8\n", 2000))));
        Assert.Throws<InvalidDataException>(() => Csv.Read(new MemoryStream(gz[..(gz.Length / 2)]), "cut.csv.gz"));
    }

    [Fact]
    public void IrisHeaderIsChecked()
    {
        var path = Path.Combine(Path.GetTempPath(), $"sharpgrad-{Guid.NewGuid():N}.csv");
        try
        {
            File.WriteAllText(path, "3,2,a,b\n1,2,0\n3,4,1\n");
            var ex = Assert.Throws<InvalidDataException>(() => Datasets.LoadIris(path));
            Assert.Contains("expected 3 samples", ex.Message);
            File.WriteAllText(path, "2,2,a,b\n1,2,0\n3,4,2\n");
            Assert.Contains("label 2", Assert.Throws<InvalidDataException>(() => Datasets.LoadIris(path)).Message);
            File.WriteAllText(path, "two,2,a,b\n1,2,0\n");
            Assert.Contains("line 1", Assert.Throws<InvalidDataException>(() => Datasets.LoadIris(path)).Message);
            File.WriteAllText(path, "2,2,a,b\n1,2,0\n3,4,1\n");
            var (x, y) = Datasets.LoadIris(path);
            Assert.Equal(new float[] { 1, 2, 3, 4 }, x.ToArray());
            Assert.Equal(new long[] { 0, 1 }, y.ToLongArray());
        }
        finally
        {
            File.Delete(path);
        }
    }
}
