using SharpGrad.Samples.Plotting;

namespace SharpGrad.Tests.Samples;

public class LinePlotTests
{
    private static LinePlot TwoSeries(int w, int h) =>
        new LinePlot(w, h) { Title = "Test plot", XLabel = "x", YLabel = "y^2" }
            // A horizontal red line at y = 1 and green points; the y range comes out as [0, 10].
            .Add("line", [0.0, 10.0], [1.0, 1.0], new Rgb(200, 0, 0))
            .Add("points", [2.0, 8.0], [3.0, 10.0], new Rgb(0, 150, 0), points: true);

    [Fact]
    public void PngHasSignatureValidChunksAndRequestedSize()
    {
        var (w, h, chunks, raw) = PngCheck.Read(TwoSeries(321, 203).ToPng());
        Assert.Equal(321, w);
        Assert.Equal(203, h);
        Assert.Equal(["IHDR", "IDAT", "IEND"], chunks);
        Assert.Equal(h * (1 + 3 * w), raw.Length);
        for (int y = 0; y < h; y++) Assert.Equal(0, raw[y * (1 + 3 * w)]);
    }

    [Fact]
    public void SeriesPixelsHaveTheirColourWhereTheDataSays()
    {
        var plot = TwoSeries(400, 300);
        var (w, _, _, raw) = PngCheck.Read(plot.ToPng());
        (byte, byte, byte) Pixel(int x, int y) { int o = y * (1 + 3 * w) + 1 + 3 * x; return (raw[o], raw[o + 1], raw[o + 2]); }

        // Independently of the plot's mapping: the line y = 1 lies 1/10 of the way up the plot area, at every x inside it.
        var (left, right, top, bottom) = (plot.Left, plot.Right, plot.Top, plot.Bottom);
        int rowOfLine = bottom - 1 - (int)Math.Round(0.1 * (bottom - 1 - top));
        for (int x = left + 5; x < right - 5; x += 7)
            Assert.Equal(((byte)200, (byte)0, (byte)0), Pixel(x, rowOfLine));
        Assert.Equal(rowOfLine, plot.PixelOf(5, 1).Y);

        // The point (2, 3): 1/5 across, 3/10 up.
        int px = left + (int)Math.Round(0.2 * (right - 1 - left)), py = bottom - 1 - (int)Math.Round(0.3 * (bottom - 1 - top));
        Assert.Equal(((byte)0, (byte)150, (byte)0), Pixel(px, py));

        // Far from any series, inside the plot area, the background is white or grid grey (never a series colour).
        var bg = Pixel(left + 3, top + (bottom - top) / 2 + 3);
        Assert.True(bg == (255, 255, 255) || bg == (225, 225, 225), $"background pixel {bg}");
        // The axis frame is black.
        Assert.Equal(((byte)0, (byte)0, (byte)0), Pixel(left, (top + bottom) / 2));
    }

    [Fact]
    public void AxisLabelsAndTitleAreDrawnInBlack()
    {
        var plot = TwoSeries(400, 300);
        var (w, h, _, raw) = PngCheck.Read(plot.ToPng());
        int Dark(int x0, int x1, int y0, int y1)
        {
            int n = 0;
            for (int y = y0; y < y1; y++)
                for (int x = x0; x < x1; x++)
                    if (raw[y * (1 + 3 * w) + 1 + 3 * x] == 0) n++;
            return n;
        }
        Assert.True(Dark(0, w, 0, plot.Top - 2) > 50, "title pixels above the plot");
        Assert.True(Dark(plot.Left, plot.Right, plot.Bottom + 6, h) > 50, "tick labels and x label below the plot");
        Assert.True(Dark(0, plot.Left - 6, plot.Top, plot.Bottom) > 50, "tick labels and y label left of the plot");
    }

    [Fact]
    public void AxesRoundOutToNiceStepsAndIntegerXStepsAreWhole()
    {
        var plot = new LinePlot().Add("loss", [1.0, 2.0, 3.0], [0.46, 0.12, 0.07]);
        var a = plot.Axes();
        Assert.Equal(0.5, a.XStep, 12);        // 2 / 5 = 0.4 rounds up to 0.5
        Assert.Equal((1.0, 3.0), (a.XMin, a.XMax));
        Assert.Equal(0.1, a.YStep, 12);
        Assert.Equal(0.0, a.YMin, 12);
        Assert.Equal(0.5, a.YMax, 12);
        plot.IntegerX = true;
        Assert.Equal(1.0, plot.Axes().XStep);
    }
}
