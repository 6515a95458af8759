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
}
