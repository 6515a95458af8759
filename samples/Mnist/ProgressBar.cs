using System.Globalization;
using System.Text;

namespace SharpGrad.Samples.Mnist;

/// <summary>The per-epoch progress bar. On a terminal it is redrawn in place with <c>\r</c> after each batch
/// (at most every 100 ms, and always at the end of the epoch) and the epoch's summary line replaces it; when the output is
/// redirected (a CI log, a test) nothing is drawn per batch and each epoch gives one summary line.</summary>
public sealed class ProgressBar(TextWriter output, bool interactive, int width = 30)
{
    private long? lastDraw;
    private int lastLength;

    /// <summary>Whether the bar is drawn per batch (the output is a terminal).</summary>
    public bool Interactive => interactive;

    /// <summary>Draws the bar for <paramref name="p"/> (a no-op when not interactive).</summary>
    public void Update(BatchProgress p)
    {
        if (!interactive) return;
        long now = Environment.TickCount64;
        if (p.Seen < p.Total && now - lastDraw < 100) return; // null (nothing drawn yet) compares false
        lastDraw = now;
        Draw(Render(p, width));
    }

    /// <summary>Ends the epoch with its summary line (replacing the bar on a terminal).</summary>
    public void Finish(string summary)
    {
        if (interactive) Draw(summary);
        output.WriteLine(interactive ? "" : summary);
        lastLength = 0;
        lastDraw = null;
    }

    /// <summary>The bar's text, e.g. <c>epoch 1/5 [=========>          ] 2688/8000  loss 0.4321  accuracy 86.12%  2650 images/s</c>.</summary>
    public static string Render(BatchProgress p, int width = 30)
    {
        int filled = p.Total == 0 ? width : (int)(width * Math.Min(p.Seen, p.Total) / p.Total);
        var bar = new StringBuilder(width + 2).Append('[').Append('=', filled);
        if (filled < width) bar.Append('>').Append(' ', width - filled - 1);
        bar.Append(']');
        return string.Create(CultureInfo.InvariantCulture,
            $"epoch {p.Epoch}/{p.Epochs} {bar} {p.Seen}/{p.Total}  loss {p.Loss:F4}  accuracy {p.Accuracy:P2}  {p.ImagesPerSecond:F0} images/s");
    }

    private void Draw(string text)
    {
        // \r back to the line's start, the text, and blanks over what a longer previous text left.
        output.Write('\r');
        output.Write(text);
        if (text.Length < lastLength) output.Write(new string(' ', lastLength - text.Length));
        lastLength = text.Length;
        output.Flush();
    }
}
