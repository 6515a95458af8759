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
}
