using System.Globalization;
using System.IO.Compression;
using SharpGrad.Data;

namespace SharpGrad.Tests.Data;

/// <summary>The readers on the real data files. Expectations come from the file formats and the data's README
/// (counts, value ranges, well-known facts about the data sets) or from a naive independent parse in the test.</summary>
public class RealFilesDataTests
{
    internal static string FilePath(string name) => Path.Combine(AppContext.BaseDirectory, "Data", "Files", name);

    private static byte[] Gunzip(string name)
    {
        using var gz = new GZipStream(File.OpenRead(FilePath(name)), CompressionMode.Decompress);
        using var ms = new MemoryStream();
        gz.CopyTo(ms);
        return ms.ToArray();
    }

    private static int BigEndian(byte[] b, int at) => (b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3];

    [Fact]
    public void MnistImagesIdx()
    {
        var t = Idx.Read(FilePath("mnist10k-images-idx3-ubyte.gz"));
        Assert.Equal(DType.UInt8, t.DType);
        Assert.Equal(new[] { 10_000, 28, 28 }, t.Shape);

        // Naive reference: the decompressed bytes after the 16-byte header (magic 0x803 + three dims).
        var raw = Gunzip("mnist10k-images-idx3-ubyte.gz");
        Assert.Equal(0x00000803, BigEndian(raw, 0));
        Assert.Equal(16 + 10_000 * 28 * 28, raw.Length);
        var pixels = t.ToByteArray();
        Assert.True(raw.AsSpan(16).SequenceEqual(pixels), "IDX pixels differ from the raw file bytes");

        // MNIST facts: mean pixel ≈ 0.1307 × 255 ≈ 33; the border is (almost) always black; digits use the full 0..255 range.
        double mean = pixels.Average(p => (double)p);
        Assert.InRange(mean, 25, 40);
        Assert.Equal(255, pixels.Max());
        Assert.Equal(0, pixels.Min());
        long corner = 0;
        for (int n = 0; n < 10_000; n++) corner += pixels[n * 784];
        Assert.Equal(0, corner);
    }

    [Fact]
    public void MnistLoadScalesAndLabels()
    {
        var (images, labels) = Mnist.Load(FilePath("mnist10k-images-idx3-ubyte.gz"), FilePath("mnist10k-labels-idx1-ubyte.gz"));
        Assert.Equal(new[] { 10_000, 1, 28, 28 }, images.Shape);
        Assert.Equal(DType.Float32, images.DType);
        Assert.Equal(new[] { 10_000 }, labels.Shape);
        Assert.Equal(DType.Int64, labels.DType);

        var rawImages = Gunzip("mnist10k-images-idx3-ubyte.gz");
        var pix = images.ToArray();
        int firstWrong = -1;
        for (int i = 0; i < pix.Length && firstWrong < 0; i++) if (pix[i] != rawImages[16 + i] / 255f) firstWrong = i;
        Assert.True(firstWrong < 0, $"pixel {firstWrong} is {(firstWrong < 0 ? 0 : pix[firstWrong])}, expected byte / 255");

        var rawLabels = Gunzip("mnist10k-labels-idx1-ubyte.gz");
        Assert.Equal(0x00000801, BigEndian(rawLabels, 0));
        Assert.Equal(10_000, BigEndian(rawLabels, 4));
        var l = labels.ToLongArray();
        Assert.Equal(rawLabels.Skip(8).Select(b => (long)b), l);
        var histogram = new int[10];
        foreach (var v in l)
        {
            Assert.InRange(v, 0, 9);
            histogram[v]++;
        }
        foreach (var h in histogram) Assert.InRange(h, 800, 1300);

        // Class "1" has the fewest ink pixels of all digits, "0" and "8" among the most: compare mean ink per class.
        var ink = new double[10];
        for (int n = 0; n < 10_000; n++)
        {
            double s = 0;
            for (int k = 0; k < 784; k++) s += pix[n * 784 + k];
            ink[l[n]] += s / histogram[l[n]];
        }
        Assert.Equal(1, Array.IndexOf(ink, ink.Min()));
        Assert.True(ink[0] > ink[1] * 1.5 && ink[8] > ink[1] * 1.5, $"mean ink per class: {string.Join(", ", ink.Select(v => v.ToString("F1", CultureInfo.InvariantCulture)))}");
    }

    [Fact]
    public void Digits()
    {
        var (x, y) = Datasets.LoadDigits(FilePath("digits.csv.gz"));
        Assert.Equal(new[] { 1797, 64 }, x.Shape);
        Assert.Equal(DType.Float32, x.DType);
        Assert.Equal(new[] { 1797 }, y.Shape);
        Assert.Equal(DType.Int64, y.DType);

        // Naive reference parse of the decompressed text.
        var lines = System.Text.Encoding.UTF8.GetString(Gunzip("digits.csv.gz")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(1797, lines.Length);
        var xs = x.ToArray();
        var ys = y.ToLongArray();
        var expectedX = new float[1797 * 64];
        var expectedY = new long[1797];
        for (int r = 0; r < lines.Length; r++)
        {
            var cells = lines[r].Trim().Split(',');
            Assert.Equal(65, cells.Length);
            for (int c = 0; c < 64; c++) expectedX[r * 64 + c] = float.Parse(cells[c], CultureInfo.InvariantCulture);
            expectedY[r] = long.Parse(cells[64], CultureInfo.InvariantCulture);
        }
        Assert.Equal(expectedX, xs);
        Assert.Equal(expectedY, ys);
        // UCI optdigits: pixel counts 0..16, ten classes of roughly 180 each.
        Assert.True(xs.All(v => v >= 0 && v <= 16 && v == MathF.Floor(v)), "digits pixels must be integers 0..16");
        var histogram = ys.GroupBy(v => v).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (long)i), histogram.Keys.Order());
        Assert.All(histogram.Values, n => Assert.InRange(n, 170, 190));
    }

    [Fact]
    public void Iris()
    {
        var (x, y) = Datasets.LoadIris(FilePath("iris.csv"), out var names);
        Assert.Equal(new[] { "setosa", "versicolor", "virginica" }, names);
        Assert.Equal(new[] { 150, 4 }, x.Shape);
        Assert.Equal(DType.Float32, x.DType);
        Assert.Equal(DType.Int64, y.DType);
        var ys = y.ToLongArray();
        for (int c = 0; c < 3; c++) Assert.Equal(50, ys.Count(v => v == c));
        // Fisher's first sample: 5.1, 3.5, 1.4, 0.2 (setosa).
        Assert.Equal(new[] { 5.1f, 3.5f, 1.4f, 0.2f }, x.ToArray().Take(4));
        Assert.Equal(0, ys[0]);
        // Well-known column means: sepal length 5.843, sepal width 3.057, petal length 3.758, petal width 1.199.
        var xs = x.ToArray();
        var expectedMeans = new[] { 5.843, 3.057, 3.758, 1.199 };
        for (int c = 0; c < 4; c++)
        {
            double m = Enumerable.Range(0, 150).Average(r => (double)xs[r * 4 + c]);
            Assert.InRange(m, expectedMeans[c] - 0.001, expectedMeans[c] + 0.001);
        }
        // Setosa is separable by petal length < 2.5.
        for (int r = 0; r < 150; r++) Assert.Equal(ys[r] == 0, xs[r * 4 + 2] < 2.5f);
    }

    [Fact]
    public void CsvReadsIrisBodyAndLabelColumn()
    {
        var all = Csv.Read(FilePath("iris.csv"), hasHeader: true);
        Assert.Equal(new[] { 150, 5 }, all.Shape);
        var (features, labels) = Csv.ReadWithLabels(FilePath("iris.csv"), labelColumn: 4, hasHeader: true);
        var (x, y) = Datasets.LoadIris(FilePath("iris.csv"));
        Assert.Equal(x.ToArray(), features.ToArray());
        Assert.Equal(y.ToLongArray(), labels.ToLongArray());
        Assert.Equal(y.ToLongArray().Select(v => (float)v), all.Select(1, 4).ToArray());
    }
}
