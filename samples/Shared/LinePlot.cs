// A tiny line-plot writer for the samples: RGB raster, axes with numeric ticks, a 5x7 bitmap font, a legend,
// and a PNG encoder (zlib via System.IO.Compression, CRC32 written here). Pure managed code, no package.
// Linked into each sample project (<Compile Include="../Shared/LinePlot.cs" />); internal so copies don't clash.
using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;

namespace SharpGrad.Samples.Plotting;

/// <summary>An RGB colour.</summary>
internal readonly record struct Rgb(byte R, byte G, byte B)
{
    public static readonly Rgb White = new(255, 255, 255);
    public static readonly Rgb Black = new(0, 0, 0);
    public static readonly Rgb Grid = new(225, 225, 225);
    /// <summary>Distinct series colours (matplotlib's first five).</summary>
    public static readonly Rgb[] Palette = [new(31, 119, 180), new(255, 127, 14), new(44, 160, 44), new(214, 39, 40), new(148, 103, 189)];
}

/// <summary>A line chart with several series, saved as PNG.</summary>
internal sealed class LinePlot
{
    private sealed record Series(string Name, double[] X, double[] Y, Rgb Color, bool Points, bool Markers);

    private readonly List<Series> _series = [];
    private const int Scale = 2;              // font pixels are 2x2 image pixels
    private const int CharW = 6 * Scale, CharH = 7 * Scale;

    public LinePlot(int width = 640, int height = 480)
    {
        if (width < 200 || height < 150) throw new ArgumentException($"LinePlot: the image must be at least 200x150 pixels, but {width}x{height} was requested.");
        Width = width;
        Height = height;
    }

    public int Width { get; }
    public int Height { get; }
    public string Title { get; set; } = "";
    public string XLabel { get; set; } = "";
    public string YLabel { get; set; } = "";
    /// <summary>Tick steps on the x axis are whole numbers (for epochs, steps, counts).</summary>
    public bool IntegerX { get; set; }

    // Plot area in pixels (inclusive left/top, exclusive right/bottom).
    public int Left => 30 + 6 * CharW;
    public int Top => 16 + CharH + 8;
    public int Right => Width - 30;
    public int Bottom => Height - (12 + 2 * CharH + 12);

    /// <summary>
    /// Adds a series drawn as a connected line (<paramref name="points"/>: as separate dots instead;
    /// <paramref name="markers"/>: a line with a dot on each data point).
    /// </summary>
    public LinePlot Add(string name, IReadOnlyList<double> x, IReadOnlyList<double> y, Rgb? color = null, bool points = false, bool markers = false)
    {
        if (x.Count != y.Count) throw new ArgumentException($"LinePlot.Add('{name}'): {x.Count} x values but {y.Count} y values.");
        _series.Add(new Series(name, [.. x], [.. y], color ?? Rgb.Palette[_series.Count % Rgb.Palette.Length], points, markers));
        return this;
    }

    /// <summary>The axis ranges after rounding the data range out to whole tick steps.</summary>
    public (double XMin, double XMax, double XStep, double YMin, double YMax, double YStep) Axes()
    {
        var xs = _series.SelectMany(s => s.X).Where(double.IsFinite).ToList();
        var ys = _series.SelectMany(s => s.Y).Where(double.IsFinite).ToList();
        var (x0, x1, xs0) = NiceRange(xs.Count > 0 ? xs.Min() : 0, xs.Count > 0 ? xs.Max() : 1, IntegerX);
        var (y0, y1, ys0) = NiceRange(ys.Count > 0 ? ys.Min() : 0, ys.Count > 0 ? ys.Max() : 1);
        return (x0, x1, xs0, y0, y1, ys0);
    }

    /// <summary>The pixel (column, row) where the data point (x, y) is drawn.</summary>
    public (int X, int Y) PixelOf(double x, double y)
    {
        var a = Axes();
        int px = Left + (int)Math.Round((x - a.XMin) / (a.XMax - a.XMin) * (Right - 1 - Left));
        int py = Bottom - 1 - (int)Math.Round((y - a.YMin) / (a.YMax - a.YMin) * (Bottom - 1 - Top));
        return (px, py);
    }

    private static (double Min, double Max, double Step) NiceRange(double min, double max, bool integer = false)
    {
        if (max - min < 1e-12 * Math.Max(1, Math.Abs(max))) { min -= 0.5; max += 0.5; }
        double raw = (max - min) / 5, mag = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double f = raw / mag, step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * mag;
        if (integer) step = Math.Max(1, Math.Round(step));
        return (Math.Floor(min / step + 1e-9) * step, Math.Ceiling(max / step - 1e-9) * step, step);
    }

    private static string FormatTick(double v, double step)
    {
        int decimals = Math.Max(0, (int)Math.Ceiling(-Math.Log10(step) - 1e-9));
        if (step * Math.Pow(10, decimals) % 1 > 1e-6) decimals++; // 2.5 x 10^k needs one more digit
        if (Math.Abs(v) < step * 1e-9) v = 0;
        return v.ToString("F" + decimals, CultureInfo.InvariantCulture);
    }

    /// <summary>Renders the chart into an RGB buffer (3 bytes per pixel, rows top to bottom).</summary>
    public byte[] Render()
    {
        var img = new byte[Width * Height * 3];
        Array.Fill(img, (byte)255);
        var a = Axes();

        // Grid lines, ticks and tick labels.
        int nx = (int)Math.Round((a.XMax - a.XMin) / a.XStep), ny = (int)Math.Round((a.YMax - a.YMin) / a.YStep);
        for (int i = 0; i <= nx; i++)
        {
            double v = a.XMin + i * a.XStep;
            int px = PixelOf(v, a.YMin).X;
            for (int py = Top; py < Bottom; py++) Set(img, px, py, Rgb.Grid);
            for (int py = Bottom; py < Bottom + 5; py++) Set(img, px, py, Rgb.Black);
            var label = FormatTick(v, a.XStep);
            DrawText(img, label, px - TextWidth(label) / 2, Bottom + 8, Rgb.Black);
        }
        for (int i = 0; i <= ny; i++)
        {
            double v = a.YMin + i * a.YStep;
            int py = PixelOf(a.XMin, v).Y;
            for (int px = Left; px < Right; px++) Set(img, px, py, Rgb.Grid);
            for (int px = Left - 5; px < Left; px++) Set(img, px, py, Rgb.Black);
            var label = FormatTick(v, a.YStep);
            DrawText(img, label, Left - 8 - TextWidth(label), py - CharH / 2, Rgb.Black);
        }

        // Series, clipped to the plot area.
        foreach (var s in _series)
        {
            (int X, int Y)? prev = null;
            for (int i = 0; i < s.X.Length; i++)
            {
                if (!double.IsFinite(s.X[i]) || !double.IsFinite(s.Y[i])) { prev = null; continue; }
                var p = PixelOf(s.X[i], s.Y[i]);
                if (s.Points) Dot(img, p.X, p.Y, 2, s.Color);
                else if (prev is { } q) Line(img, q.X, q.Y, p.X, p.Y, s.Color);
                else Dot(img, p.X, p.Y, 0, s.Color);
                prev = p;
            }
        }

        // Axes frame.
        for (int px = Left; px < Right; px++) { Set(img, px, Bottom - 1, Rgb.Black); Set(img, px, Top, Rgb.Black); }
        for (int py = Top; py < Bottom; py++) { Set(img, Left, py, Rgb.Black); Set(img, Right - 1, py, Rgb.Black); }

        // Markers go over the frame, so that points at the ends of the axes stay visible.
        foreach (var s in _series.Where(s => s.Markers))
            for (int i = 0; i < s.X.Length; i++)
                if (double.IsFinite(s.X[i]) && double.IsFinite(s.Y[i]))
                {
                    var p = PixelOf(s.X[i], s.Y[i]);
                    Dot(img, p.X, p.Y, 3, s.Color, clip: false);
                }

        // Legend (top right inside the plot area).
        if (_series.Count > 0)
        {
            int w = _series.Max(s => TextWidth(s.Name)) + 40, h = _series.Count * (CharH + 6) + 6;
            int x0 = Right - 8 - w, y0 = Top + 8;
            for (int py = y0; py < y0 + h; py++)
                for (int px = x0; px < x0 + w; px++)
                    Set(img, px, py, py == y0 || py == y0 + h - 1 || px == x0 || px == x0 + w - 1 ? Rgb.Black : Rgb.White);
            for (int i = 0; i < _series.Count; i++)
            {
                int cy = y0 + 6 + i * (CharH + 6) + CharH / 2;
                if (_series[i].Points) Dot(img, x0 + 16, cy, 2, _series[i].Color);
                else for (int px = x0 + 6; px < x0 + 28; px++) Dot(img, px, cy, 0, _series[i].Color);
                DrawText(img, _series[i].Name, x0 + 34, cy - CharH / 2, Rgb.Black);
            }
        }

        // Title, axis labels.
        DrawText(img, Title, (Width - TextWidth(Title)) / 2, 12, Rgb.Black);
        DrawText(img, XLabel, (Left + Right - TextWidth(XLabel)) / 2, Bottom + 8 + CharH + 10, Rgb.Black);
        DrawTextVertical(img, YLabel, 10, (Top + Bottom + TextWidth(YLabel)) / 2, Rgb.Black);
        return img;
    }

    /// <summary>The chart as PNG bytes.</summary>
    public byte[] ToPng() => Png.Encode(Render(), Width, Height);

    /// <summary>Writes the chart as a PNG file (creating its folder).</summary>
    public void Save(string path)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        File.WriteAllBytes(path, ToPng());
    }

    private void Set(byte[] img, int x, int y, Rgb c)
    {
        if ((uint)x >= (uint)Width || (uint)y >= (uint)Height) return;
        int o = (y * Width + x) * 3;
        img[o] = c.R; img[o + 1] = c.G; img[o + 2] = c.B;
    }

    private void SetClipped(byte[] img, int x, int y, Rgb c)
    {
        if (x >= Left && x < Right && y >= Top && y < Bottom) Set(img, x, y, c);
    }

    // A filled square of half-size r (r = 0: 2x2 pen for lines).
    private void Dot(byte[] img, int x, int y, int r, Rgb c, bool clip = true)
    {
        if (!clip)
        {
            for (int dy = -r; dy <= r; dy++)
                for (int dx = -r; dx <= r; dx++)
                    if (dx * dx + dy * dy <= r * r + 1) Set(img, x + dx, y + dy, c);
            return;
        }
        if (r == 0) { SetClipped(img, x, y, c); SetClipped(img, x + 1, y, c); SetClipped(img, x, y + 1, c); SetClipped(img, x + 1, y + 1, c); return; }
        for (int dy = -r; dy <= r; dy++)
            for (int dx = -r; dx <= r; dx++)
                if (dx * dx + dy * dy <= r * r + 1) SetClipped(img, x + dx, y + dy, c);
    }

    private void Line(byte[] img, int x0, int y0, int x1, int y1, Rgb c)
    {
        int dx = Math.Abs(x1 - x0), dy = -Math.Abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, err = dx + dy;
        while (true)
        {
            Dot(img, x0, y0, 0, c);
            if (x0 == x1 && y0 == y1) break;
            int e2 = 2 * err;
            if (e2 >= dy) { err += dy; x0 += sx; }
            if (e2 <= dx) { err += dx; y0 += sy; }
        }
    }

    private static string Normalize(string text) => text.Replace("^2", "²");
    private static int TextWidth(string text) => Normalize(text).Length * CharW;

    private void DrawText(byte[] img, string text, int x, int y, Rgb c)
    {
        foreach (char ch in Normalize(text))
        {
            var g = Font.Glyph(ch);
            for (int row = 0; row < 7; row++)
                for (int col = 0; col < 5; col++)
                    if ((g[row] >> (4 - col) & 1) != 0)
                        for (int s = 0; s < Scale * Scale; s++) Set(img, x + col * Scale + s % Scale, y + row * Scale + s / Scale, c);
            x += CharW;
        }
    }

    // Text rotated 90 degrees counter-clockwise, reading bottom to top from (x, y).
    private void DrawTextVertical(byte[] img, string text, int x, int y, Rgb c)
    {
        foreach (char ch in Normalize(text))
        {
            var g = Font.Glyph(ch);
            for (int row = 0; row < 7; row++)
                for (int col = 0; col < 5; col++)
                    if ((g[row] >> (4 - col) & 1) != 0)
                        for (int s = 0; s < Scale * Scale; s++) Set(img, x + row * Scale + s % Scale, y - col * Scale - s / Scale, c);
            y -= CharW;
        }
    }
}

/// <summary>A 5x7 bitmap font: rows top to bottom, bit 4 = leftmost column. Unknown characters draw as a box.</summary>
internal static class Font
{
    private static readonly Dictionary<char, byte[]> Glyphs = new()
    {
        [' '] = [0, 0, 0, 0, 0, 0, 0],
        ['0'] = [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E], ['1'] = [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        ['2'] = [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F], ['3'] = [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        ['4'] = [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02], ['5'] = [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        ['6'] = [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E], ['7'] = [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        ['8'] = [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E], ['9'] = [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        ['A'] = [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11], ['B'] = [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        ['C'] = [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E], ['D'] = [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C],
        ['E'] = [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F], ['F'] = [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        ['G'] = [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F], ['H'] = [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        ['I'] = [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E], ['J'] = [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        ['K'] = [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11], ['L'] = [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        ['M'] = [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11], ['N'] = [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        ['O'] = [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E], ['P'] = [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        ['Q'] = [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D], ['R'] = [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        ['S'] = [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E], ['T'] = [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        ['U'] = [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E], ['V'] = [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        ['W'] = [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A], ['X'] = [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        ['Y'] = [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04], ['Z'] = [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        ['a'] = [0, 0, 0x0E, 0x01, 0x0F, 0x11, 0x0F], ['b'] = [0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1E],
        ['c'] = [0, 0, 0x0E, 0x10, 0x10, 0x11, 0x0E], ['d'] = [0x01, 0x01, 0x0D, 0x13, 0x11, 0x11, 0x0F],
        ['e'] = [0, 0, 0x0E, 0x11, 0x1F, 0x10, 0x0E], ['f'] = [0x06, 0x09, 0x08, 0x1C, 0x08, 0x08, 0x08],
        ['g'] = [0, 0, 0x0F, 0x11, 0x0F, 0x01, 0x0E], ['h'] = [0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11],
        ['i'] = [0x04, 0, 0x0C, 0x04, 0x04, 0x04, 0x0E], ['j'] = [0x02, 0, 0x06, 0x02, 0x02, 0x12, 0x0C],
        ['k'] = [0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12], ['l'] = [0x0C, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        ['m'] = [0, 0, 0x1A, 0x15, 0x15, 0x11, 0x11], ['n'] = [0, 0, 0x16, 0x19, 0x11, 0x11, 0x11],
        ['o'] = [0, 0, 0x0E, 0x11, 0x11, 0x11, 0x0E], ['p'] = [0, 0, 0x1E, 0x11, 0x1E, 0x10, 0x10],
        ['q'] = [0, 0, 0x0D, 0x13, 0x0F, 0x01, 0x01], ['r'] = [0, 0, 0x16, 0x19, 0x10, 0x10, 0x10],
        ['s'] = [0, 0, 0x0E, 0x10, 0x0E, 0x01, 0x1E], ['t'] = [0x08, 0x08, 0x1C, 0x08, 0x08, 0x09, 0x06],
        ['u'] = [0, 0, 0x11, 0x11, 0x11, 0x13, 0x0D], ['v'] = [0, 0, 0x11, 0x11, 0x11, 0x0A, 0x04],
        ['w'] = [0, 0, 0x11, 0x11, 0x15, 0x15, 0x0A], ['x'] = [0, 0, 0x11, 0x0A, 0x04, 0x0A, 0x11],
        ['y'] = [0, 0, 0x11, 0x11, 0x0F, 0x01, 0x0E], ['z'] = [0, 0, 0x1F, 0x02, 0x04, 0x08, 0x1F],
        ['.'] = [0, 0, 0, 0, 0, 0x0C, 0x0C], [','] = [0, 0, 0, 0, 0x0C, 0x04, 0x08],
        ['-'] = [0, 0, 0, 0x1F, 0, 0, 0], ['+'] = [0, 0x04, 0x04, 0x1F, 0x04, 0x04, 0],
        ['='] = [0, 0, 0x1F, 0, 0x1F, 0, 0], [':'] = [0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0],
        ['('] = [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02], [')'] = [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08],
        ['/'] = [0, 0x01, 0x02, 0x04, 0x08, 0x10, 0], ['_'] = [0, 0, 0, 0, 0, 0, 0x1F],
        ['%'] = [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03], ['²'] = [0x0C, 0x12, 0x04, 0x08, 0x1E, 0, 0],
    };

    private static readonly byte[] Unknown = [0x1F, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1F];

    public static byte[] Glyph(char c) => Glyphs.TryGetValue(c, out var g) || Glyphs.TryGetValue(char.ToUpperInvariant(c), out g) ? g : Unknown;
}

/// <summary>Minimal PNG encoder: 8-bit RGB, one IDAT, filter 0 on every row.</summary>
internal static class Png
{
    public static ReadOnlySpan<byte> Signature => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    public static byte[] Encode(byte[] rgb, int width, int height)
    {
        if (rgb.Length != width * height * 3) throw new ArgumentException($"Png.Encode: {rgb.Length} bytes for a {width}x{height} RGB image (expected {width * height * 3}).");
        using var ms = new MemoryStream();
        ms.Write(Signature);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8; ihdr[9] = 2; // bit depth 8, colour type 2 (RGB); compression, filter, interlace 0
        WriteChunk(ms, "IHDR", ihdr);
        using (var raw = new MemoryStream())
        {
            using (var z = new ZLibStream(raw, CompressionLevel.Optimal, leaveOpen: true))
                for (int y = 0; y < height; y++)
                {
                    z.WriteByte(0);
                    z.Write(rgb, y * width * 3, width * 3);
                }
            WriteChunk(ms, "IDAT", raw.ToArray());
        }
        WriteChunk(ms, "IEND", []);
        return ms.ToArray();
    }

    private static void WriteChunk(Stream s, string type, byte[] data)
    {
        Span<byte> head = stackalloc byte[8];
        BinaryPrimitives.WriteInt32BigEndian(head, data.Length);
        for (int i = 0; i < 4; i++) head[4 + i] = (byte)type[i];
        s.Write(head);
        s.Write(data);
        uint crc = Crc32.Update(0xFFFFFFFFu, head[4..]);
        crc = Crc32.Update(crc, data) ^ 0xFFFFFFFFu;
        Span<byte> tail = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(tail, crc);
        s.Write(tail);
    }

    private static class Crc32
    {
        private static readonly uint[] Table = Build();

        private static uint[] Build()
        {
            var t = new uint[256];
            for (uint n = 0; n < 256; n++)
            {
                uint c = n;
                for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
                t[n] = c;
            }
            return t;
        }

        public static uint Update(uint crc, ReadOnlySpan<byte> bytes)
        {
            foreach (var b in bytes) crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
            return crc;
        }
    }
}
