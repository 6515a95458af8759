using System;
using System.Globalization;

namespace SharpGrad;

// Sizes bound when a module is built (docs/static-subset.md, "Constructor-sized modules"): a program generated for
// `new Linear(4, hidden)` binds the symbol `hidden` from the built layer when Compile() is called, and checks once
// there every other size the build could not prove.
public static partial class CompiledSupport
{
    /// <summary>
    /// Binds a size symbol from a built layer's size: <paramref name="actual"/> is <paramref name="coefficient"/> times the
    /// symbol (<c>2*hidden</c>). Throws when it is not a positive multiple.
    /// </summary>
    /// <param name="actual">The layer's size (<c>fc1.OutFeatures</c>).</param>
    /// <param name="coefficient">The constant the symbol is multiplied by in the layer's construction.</param>
    /// <param name="symbol">The symbol as written (<c>2*hidden</c>), for the message.</param>
    /// <param name="what">The size's name (<c>fc1.out_features</c>), for the message.</param>
    /// <param name="where">The compiled class (<c>Net.Compile()</c>), for the message.</param>
    public static int BindSize(int actual, int coefficient, string symbol, string what, string where)
    {
        if (coefficient <= 0 || actual <= 0 || actual % coefficient != 0)
        {
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                $"{where}: {what} is {actual}, but the program generated at build time reads it as {symbol}, which needs a positive multiple of {coefficient}. Build the module with sizes that fit the expression it was written with."));
        }
        return actual / coefficient;
    }

    /// <summary>
    /// Checks once, when the program is created, a size the build could not prove equal to the symbols it was
    /// generated for (<c>fc2.in_features</c> must equal <c>hidden</c>, bound from <c>fc1.out_features</c>).
    /// </summary>
    public static void CheckSize(int actual, int expected, string symbol, string what, string where)
    {
        if (actual != expected)
        {
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                $"{where}: {what} is {actual}, but the program generated at build time needs it to be {symbol} = {expected} (the sizes of this module's layers do not fit together). Build the layers with sizes that match, as Forward passes one layer's output to the next."));
        }
    }

    /// <summary>
    /// Reads a size a compiled program takes from its inputs at each call, like the batch (a sequence length <c>T</c> of an
    /// input declared <c>[N, T, 8]</c>): dim <paramref name="dim"/> of <paramref name="x"/>, which must have
    /// <paramref name="rank"/> dims and a size of at least 1 there. The program's buffers are sized from it, and every other
    /// input with the same symbol is checked against it.
    /// </summary>
    /// <param name="x">The input.</param>
    /// <param name="name">The input's parameter name, for the message.</param>
    /// <param name="dim">The dim the size is read from.</param>
    /// <param name="rank">The input's rank the program was generated for.</param>
    /// <param name="shape">The input's shape as the build inferred it (<c>[N, T, 8]</c>), for the message.</param>
    /// <param name="symbol">The size's symbol (<c>T</c>), for the message.</param>
    /// <param name="where">The compiled method (<c>Net.Compiled.Forward</c>), for the message.</param>
    public static int SizeAt(Tensor x, string name, int dim, int rank, string shape, string symbol, string where)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank != rank || x.Size(dim) < 1)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"{where}: expected {name} of shape {shape}, with {symbol} (dim {dim}) at least 1, but got {ShapeUtil.Format(x._shape)}. Pass a tensor of that shape or run the eager {where.Replace(".Compiled.", ".", StringComparison.Ordinal)}."), name);
        }
        return x.Size(dim);
    }
}
