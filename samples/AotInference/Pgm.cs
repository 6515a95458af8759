using System.Text;

namespace SharpGrad.Samples.AotInference;

/// <summary>Reader for 28x28 grayscale PGM (netpbm) images, P5 (binary) and P2 (ASCII), maxval up to 65535.</summary>
internal static class Pgm
{
    /// <summary>Reads the PGM file at <paramref name="path"/> as Float32 [1, 28, 28], pixel / maxval.</summary>
    /// <exception cref="InvalidDataException">Not a valid PGM file, or not 28x28.</exception>
    public static Tensor Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        int pos = 2;
        bool binary = bytes[1] == (byte)'5';
        int width = Header(bytes, ref pos, path, "width");
        int height = Header(bytes, ref pos, path, "height");
        int maxval = Header(bytes, ref pos, path, "maxval");
        if (width != 28 || height != 28)
            throw new InvalidDataException($"PGM file '{path}': the image is {width}x{height}, but the model takes 28x28 digits (resize it first).");
        if (maxval is < 1 or > 65535)
            throw new InvalidDataException($"PGM file '{path}': maxval {maxval} is out of range 1..65535.");
        var data = new float[28 * 28];
        if (binary)
        {
            pos++;   // exactly one whitespace byte after maxval
            int size = maxval < 256 ? 1 : 2;
            if (bytes.Length - pos < data.Length * size)
                throw new InvalidDataException($"PGM file '{path}': truncated: {data.Length * size} pixel bytes expected, {Math.Max(0, bytes.Length - pos)} present.");
            for (int i = 0; i < data.Length; i++)
            {
                int v = size == 1 ? bytes[pos + i] : (bytes[pos + 2 * i] << 8) | bytes[pos + 2 * i + 1];
                data[i] = Pixel(v, maxval, path);
            }
        }
        else
        {
            for (int i = 0; i < data.Length; i++) data[i] = Pixel(Header(bytes, ref pos, path, $"pixel {i}"), maxval, path);
        }
        return Tensor.FromArray(data, 1, 28, 28);
    }

    private static float Pixel(int v, int maxval, string path) =>
        v <= maxval ? (float)v / maxval : throw new InvalidDataException($"PGM file '{path}': pixel value {v} exceeds maxval {maxval}.");

    /// <summary>Reads the next decimal number, skipping whitespace and # comments.</summary>
    private static int Header(byte[] b, ref int pos, string path, string what)
    {
        while (pos < b.Length)
        {
            if (b[pos] == (byte)'#') { while (pos < b.Length && b[pos] != (byte)'\n') pos++; }
            else if (b[pos] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n') pos++;
            else break;
        }
        long v = 0;
        int begin = pos;
        while (pos < b.Length && b[pos] is >= (byte)'0' and <= (byte)'9' && v <= int.MaxValue) v = v * 10 + (b[pos++] - '0');
        if (pos == begin || v > int.MaxValue)
        {
            string found = pos < b.Length ? $"'{Encoding.ASCII.GetString(b, pos, 1)}'" : "end of file";
            throw new InvalidDataException($"PGM file '{path}': expected the {what} (a decimal number), found {found}.");
        }
        return (int)v;
    }
}
