using System.ComponentModel;

namespace SharpGrad;

/// <summary>
/// The compiled programs of the elements of a list of children whose count only the constructor's arguments know
/// (<c>for (int i = 0; i &lt; layers; i++) blocks.Append(new GptBlock(d, heads));</c>). The parent's generated program runs
/// its loop over the list at run time, and each element's <c>Forward</c> is a call of that element's own compiled program
/// (made on its first use by this parent program, then reused): forward in order, and backward in reverse through the tape,
/// where each element's call is one node. One instance per parent program, so the per-thread rule of a compiled program
/// (docs/threading.md) holds for the elements too. Generated code holds one and calls <see cref="Of"/>:
/// <code>
/// foreach (var block in blocks) x = __compiled.__elements.Of(block, static e => e.Compile()).Forward(x, causal);
/// </code>
/// See docs/compiler.md, "Loops over a list the constructor sizes".
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class ElementPrograms
{
    private readonly Dictionary<object, object> _programs = new(ReferenceEqualityComparer.Instance);

    /// <summary>The compiled program of <paramref name="element"/>, made with <paramref name="compile"/> on its first use.</summary>
    public TProgram Of<TModule, TProgram>(TModule element, Func<TModule, TProgram> compile)
        where TModule : class
        where TProgram : class
    {
        ArgumentNullException.ThrowIfNull(element);
        ArgumentNullException.ThrowIfNull(compile);
        if (_programs.TryGetValue(element, out var program)) return (TProgram)program;
        var made = compile(element);
        _programs[element] = made;
        return made;
    }

    /// <summary>
    /// <paramref name="own"/> (the parent's explanation, the loop not counted as a break) with the loop over
    /// <paramref name="elements"/> added: each element's compiled regions (<c>Forward, Net.cs line 12: blocks.0: Forward: the
    /// whole method</c>) and its graph breaks (its <see cref="GraphBreak.Method"/> prefixed with its path, <c>blocks.0.Forward</c>).
    /// The parent is fully compiled when every element's program is (PyTorch: <c>torch._dynamo.explain</c> of a loop over
    /// <c>nn.ModuleList</c>, traced through each block).
    /// </summary>
    /// <param name="own">The parent's explanation so far.</param>
    /// <param name="loop">The parent's method and where the loop is (<c>Forward, Net.cs line 12</c>).</param>
    /// <param name="list">The list's state-dict name (<c>blocks</c>).</param>
    /// <param name="elements">The list's elements, in order.</param>
    /// <param name="compile">Makes an element's program (<c>static e =&gt; e.Compile()</c>), as the loop does.</param>
    /// <param name="explanation">Reads a program's explanation.</param>
    public GraphExplanation Explain<TModule, TProgram>(GraphExplanation own, string loop, string list, IEnumerable<TModule> elements,
        Func<TModule, TProgram> compile, Func<TProgram, GraphExplanation> explanation)
        where TModule : class
        where TProgram : class
    {
        ArgumentNullException.ThrowIfNull(own);
        ArgumentNullException.ThrowIfNull(elements);
        ArgumentNullException.ThrowIfNull(explanation);
        var regions = new List<string>(own.Regions);
        var breaks = new List<GraphBreak>(own.Breaks);
        int index = 0;
        foreach (var element in elements)
        {
            string path = list + "." + index.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var of = explanation(Of(element, compile));
            foreach (var region in of.Regions) regions.Add(loop + ": " + path + ": " + region);
            foreach (var b in of.Breaks) breaks.Add(b with { Method = path + "." + b.Method });
            index++;
        }
        return new GraphExplanation(regions, breaks);
    }

    /// <summary>
    /// <paramref name="own"/> with one child that runs its own compiled program added (<c>var h = encoder.Forward(…)</c> over a
    /// <c>TransformerEncoder</c>, whose count of layers the constructor's arguments set): its compiled regions (<c>Forward, Net.cs
    /// line 12: encoder: Forward</c>) and its breaks (<see cref="GraphBreak.Method"/> prefixed with its path, <c>encoder.Forward</c>).
    /// </summary>
    /// <param name="own">The parent's explanation so far.</param>
    /// <param name="call">The parent's method and where the call is (<c>Forward, Net.cs line 12</c>).</param>
    /// <param name="path">The child's state-dict name (<c>encoder</c>).</param>
    /// <param name="child">The child.</param>
    /// <param name="compile">Makes its program (<c>static e =&gt; e.Compile()</c>), as the call does.</param>
    /// <param name="explanation">Reads a program's explanation.</param>
    public GraphExplanation ExplainChild<TModule, TProgram>(GraphExplanation own, string call, string path, TModule child,
        Func<TModule, TProgram> compile, Func<TProgram, GraphExplanation> explanation)
        where TModule : class
        where TProgram : class
    {
        ArgumentNullException.ThrowIfNull(own);
        ArgumentNullException.ThrowIfNull(explanation);
        var of = explanation(Of(child, compile));
        var regions = new List<string>(own.Regions);
        var breaks = new List<GraphBreak>(own.Breaks);
        foreach (var region in of.Regions) regions.Add(call + ": " + path + ": " + region);
        foreach (var b in of.Breaks) breaks.Add(b with { Method = path + "." + b.Method });
        return new GraphExplanation(regions, breaks);
    }
}
