using System.Buffers.Binary;
using System.IO.Compression;

namespace SharpGrad.Tests.Samples;

/// <summary>An independent PNG reader for the tests: checks signature and CRCs, returns IHDR size and the inflated IDAT.</summary>
internal static class PngCheck
{
    public static readonly byte[] Signature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    // Table-less bitwise CRC-32 (ISO 3309 / PNG), written independently of the encoder's table version.
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

    public static (int Width, int Height, List<string> Chunks, byte[] Raw) Read(byte[] png)
    {
        Assert.True(png.AsSpan(0, 8).SequenceEqual(Signature), "the file must start with the PNG signature");
        int pos = 8, width = -1, height = -1;
        var chunks = new List<string>();
        using var idat = new MemoryStream();
        while (pos < png.Length)
        {
            int len = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(pos));
            string type = System.Text.Encoding.ASCII.GetString(png, pos + 4, 4);
            var typeAndData = png.AsSpan(pos + 4, 4 + len);
            uint crc = BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(pos + 8 + len));
            Assert.True(Crc(typeAndData) == crc, $"CRC of chunk {type} at byte {pos}");
            chunks.Add(type);
            var data = png.AsSpan(pos + 8, len);
            if (type == "IHDR")
            {
                Assert.Equal(13, len);
                width = BinaryPrimitives.ReadInt32BigEndian(data);
                height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                Assert.Equal(8, data[8]);  // bit depth
                Assert.Equal(2, data[9]);  // colour type RGB
            }
            if (type == "IDAT") idat.Write(data);
            pos += 12 + len;
        }
        Assert.Equal(png.Length, pos);
        Assert.Equal("IHDR", chunks[0]);
        Assert.Equal("IEND", chunks[^1]);
        idat.Position = 0;
        using var z = new ZLibStream(idat, CompressionMode.Decompress);
        using var raw = new MemoryStream();
        z.CopyTo(raw);
        return (width, height, chunks, raw.ToArray());
    }
}
