using System.Collections.Generic;

namespace SharpGrad;

/// <summary>
/// What the generator compiled of a module and where its graph breaks (PyTorch: the report of
/// <c>torch._dynamo.explain</c>, decided here at build time). Read it from <c>model.Compile().Explanation</c>.
/// </summary>
/// <param name="Regions">The compiled regions, one per entry (<c>Forward</c>: the method, or the part of it that is compiled).</param>
/// <param name="Breaks">The graph breaks, in source order: each construct the compiler does not take, which runs eagerly.</param>
public sealed record GraphExplanation(IReadOnlyList<string> Regions, IReadOnlyList<GraphBreak> Breaks)
{
    /// <summary>True when nothing breaks the graph (PyTorch: <c>graph_break_count == 0</c>).</summary>
    public bool IsFullyCompiled => Breaks.Count == 0;

    /// <summary>One line per region and per break, as <c>torch._dynamo.explain</c> prints them.</summary>
    public override string ToString()
    {
        var lines = new List<string> { $"{Regions.Count} compiled region(s), {Breaks.Count} graph break(s)" };
        foreach (var region in Regions) lines.Add("  compiled: " + region);
        foreach (var b in Breaks) lines.Add("  break: " + b);
        return string.Join(System.Environment.NewLine, lines);
    }
}

/// <summary>
/// One graph break (PyTorch: an entry of <c>torch._dynamo.explain(...).break_reasons</c>): the method, the source location
/// (<c>Net.cs(12,9)</c>), the construct and what would make it compile. Its build diagnostic is SG1019.
/// </summary>
/// <param name="Method">The method the break is in (<c>Forward</c>), or the class for a child declaration.</param>
/// <param name="Location">File name and line and column, 1-based.</param>
/// <param name="Construct">The construct and why it breaks the graph.</param>
/// <param name="Fix">What to write instead for it to compile.</param>
public sealed record GraphBreak(string Method, string Location, string Construct, string Fix)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Location} in {Method}: {Construct} (to compile it: {Fix})";
}
