using System.Buffers.Binary;
using System.IO.Compression;

namespace SharpGrad.Tests.Samples;

/// <summary>An independent PNG reader for the sample tests: checks the signature and every chunk's CRC, reads IHDR
/// (8-bit RGB or RGBA, not interlaced), inflates the IDAT data and undoes the scanline filters.</summary>
internal static class PngCheck
{
    public static readonly byte[] Signature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    // Table-less bitwise CRC-32 (ISO 3309 / PNG).
    public static uint Crc(ReadOnlySpan<byte> bytes)
    {
        uint c = 0xFFFFFFFF;
        foreach (var b in bytes)
        {
            c ^= b;
            for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (uint)-(int)(c & 1));
        }
        return ~c;
    }

    /// <summary>Width, height, channels (3 or 4) and the pixels, row by row, <c>channels</c> bytes each.</summary>
    public static (int Width, int Height, int Channels, byte[] Pixels) Read(byte[] png)
    {
        Assert.True(png.AsSpan(0, 8).SequenceEqual(Signature), "the file must start with the PNG signature");
        int pos = 8, width = -1, height = -1, channels = 0;
        var chunks = new List<string>();
        using var idat = new MemoryStream();
        while (pos < png.Length)
        {
            int len = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(pos));
            string type = System.Text.Encoding.ASCII.GetString(png, pos + 4, 4);
            uint crc = BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(pos + 8 + len));
            Assert.True(Crc(png.AsSpan(pos + 4, 4 + len)) == crc, $"CRC of chunk {type} at byte {pos}");
            chunks.Add(type);
            var data = png.AsSpan(pos + 8, len);
            if (type == "IHDR")
            {
                Assert.Equal(13, len);
                width = BinaryPrimitives.ReadInt32BigEndian(data);
                height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                Assert.Equal(8, data[8]);                                    // bit depth
                channels = data[9] switch { 2 => 3, 6 => 4, var t => throw new Xunit.Sdk.XunitException($"PNG colour type {t}, expected RGB or RGBA") };
                Assert.Equal(0, data[12]);                                   // not interlaced
            }
            if (type == "IDAT") idat.Write(data);
            pos += 12 + len;
        }
        Assert.Equal(png.Length, pos);
        Assert.Equal("IHDR", chunks[0]);
        Assert.Equal("IEND", chunks[^1]);
        idat.Position = 0;
        using var z = new ZLibStream(idat, CompressionMode.Decompress);
        using var inflated = new MemoryStream();
        z.CopyTo(inflated);
        var raw = inflated.ToArray();
        int stride = width * channels;
        Assert.Equal(height * (1 + stride), raw.Length);
        var pixels = new byte[height * stride];
        for (int y = 0; y < height; y++)
        {
            byte filter = raw[y * (1 + stride)];
            for (int i = 0; i < stride; i++)
            {
                int x = raw[y * (1 + stride) + 1 + i];
                int a = i >= channels ? pixels[y * stride + i - channels] : 0;
                int b = y > 0 ? pixels[(y - 1) * stride + i] : 0;
                int c = i >= channels && y > 0 ? pixels[(y - 1) * stride + i - channels] : 0;
                pixels[y * stride + i] = (byte)(x + filter switch
                {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => (a + b) / 2,
                    4 => Paeth(a, b, c),
                    _ => throw new Xunit.Sdk.XunitException($"PNG filter type {filter} in row {y}"),
                });
            }
        }
        return (width, height, channels, pixels);
    }

    /// <summary>How many pixels of the rectangle are dark (every colour channel below 100): text, axes, markers.</summary>
    public static int DarkPixels((int Width, int Height, int Channels, byte[] Pixels) png, int x0, int x1, int y0, int y1)
    {
        int n = 0;
        for (int y = y0; y < y1; y++)
            for (int x = x0; x < x1; x++)
            {
                int o = (y * png.Width + x) * png.Channels;
                if (png.Pixels[o] < 100 && png.Pixels[o + 1] < 100 && png.Pixels[o + 2] < 100) n++;
            }
        return n;
    }

    private static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    /// <summary>Checks a sample's plot: a valid PNG of 640×480 whose title was drawn (dark pixels in the top band) — text
    /// is what goes missing, silently, on a machine without fonts.</summary>
    public static void AssertPlot(string path)
    {
        var png = Read(File.ReadAllBytes(path));
        Assert.Equal((640, 480), (png.Width, png.Height));
        Assert.True(DarkPixels(png, 0, png.Width, 0, 30) > 50,
            "the plot's title is missing: ScottPlot draws no text when the machine has no font; install one (`apt-get install -y fonts-dejavu-core`; .ci/run does it)");
        Assert.True(DarkPixels(png, 60, png.Width - 20, 40, png.Height - 60) > 100, "the plot area holds no series or grid");
    }
}
