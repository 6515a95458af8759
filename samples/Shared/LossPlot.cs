namespace SharpGrad.Samples.Shared;

/// <summary>One line of a loss plot: its legend and its points.</summary>
public sealed record PlotSeries(string Legend, IReadOnlyList<double> X, IReadOnlyList<double> Y);

/// <summary>The samples' loss plots, drawn with ScottPlot: one line per series, a legend, a title.</summary>
public static class LossPlot
{
    /// <summary>Writes a <paramref name="width"/>×<paramref name="height"/> PNG to <paramref name="path"/>: one line per
    /// series, with <paramref name="wholeNumberTicks"/> ticks on the x axis at whole numbers only (epochs).</summary>
    public static void Save(string path, string title, string xLabel, string yLabel, IReadOnlyList<PlotSeries> series,
        bool wholeNumberTicks = false, int width = 640, int height = 480)
    {
        ArgumentNullException.ThrowIfNull(series);
        var plot = new ScottPlot.Plot();
        foreach (var s in series)
        {
            if (s.X.Count != s.Y.Count) throw new ArgumentException($"LossPlot: series '{s.Legend}' has {s.X.Count} x values but {s.Y.Count} y values.");
            plot.Add.Scatter(s.X.ToArray(), s.Y.ToArray()).LegendText = s.Legend;
        }
        if (wholeNumberTicks) plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericFixedInterval(1);
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        plot.ShowLegend();
        plot.SavePng(path, width, height);
    }
}
