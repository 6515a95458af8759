// Shared source: compiled into the runtime (net10.0), the generator and the analyzers (netstandard2.0), linked by their
// csproj files. Plain C# with no dependency beyond the base library: see docs/architecture.md.
using System;

namespace SharpGrad.Ops;

/// <summary>
/// One dimension of a symbolic shape: a fixed size, a symbol such as <c>"N"</c> (the batch, a sequence length, a size
/// bound when a module is built), or unknown (<see cref="Unknown"/>, written <c>?</c>), which no check ever compares.
/// </summary>
internal readonly struct Dim : IEquatable<Dim>
{
    private const string UnknownSymbol = "?";

    private Dim(int size, string? symbol)
    {
        Size = size;
        Symbol = symbol;
    }

    /// <summary>The fixed size; meaningful only when <see cref="IsFixed"/>.</summary>
    public int Size { get; }

    /// <summary>The symbol (<c>"N"</c>), <c>"?"</c> for unknown, or null for a fixed size.</summary>
    public string? Symbol { get; }

    public static Dim Unknown => new(0, UnknownSymbol);

    public static Dim Of(int size) => new(size, null);

    public static Dim Sym(string symbol) => new(0, symbol);

    public bool IsFixed => Symbol is null;

    public bool IsUnknown => Symbol == UnknownSymbol;

    /// <summary>A named symbol (not a fixed size, not unknown).</summary>
    public bool IsSymbol => Symbol is not null && Symbol != UnknownSymbol;

    /// <summary>True for the fixed size 1 (the size that broadcasts).</summary>
    public bool IsOne => IsFixed && Size == 1;

    /// <summary>True when both are known and certainly differ (two different symbols may still be equal at run time, so they do not).</summary>
    public bool DefinitelyDiffers(Dim other)
    {
        if (IsFixed && other.IsFixed) return Size != other.Size;
        // Sizes bound when a module is built: 2*hidden and hidden differ (sizes are positive), hidden and width may not.
        return IsSymbol && other.IsSymbol && Term(Symbol!, out int a, out string x) && Term(other.Symbol!, out int b, out string y)
               && a != b && string.Equals(x, y, StringComparison.Ordinal);
    }

    /// <summary>
    /// A symbolic size as a coefficient times a product of named sizes: <c>2*hidden</c> is (2, <c>hidden</c>),
    /// <c>hidden</c> is (1, <c>hidden</c>), <c>heads*width</c> is (1, <c>heads*width</c>); false for a symbol that is not
    /// such a term.
    /// </summary>
    public static bool Term(string symbol, out int coefficient, out string product)
    {
        coefficient = 1;
        product = symbol;
        int star = symbol.IndexOf('*');
        if (star <= 0) return symbol.Length > 0 && symbol != UnknownSymbol;
        if (!int.TryParse(symbol.Substring(0, star), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int c)) return true;
        coefficient = c;
        product = symbol.Substring(star + 1);
        return product.Length > 0;
    }

    /// <summary>
    /// This size times a positive constant: a fixed size multiplied, a symbol's coefficient multiplied (<c>hidden</c> × 2 is
    /// <c>2*hidden</c>), unknown stays unknown.
    /// </summary>
    public Dim Times(int factor)
    {
        if (factor == 1 || IsUnknown) return this;
        if (IsFixed) return Of(Size * factor);
        if (!Term(Symbol!, out int coefficient, out string product)) return Unknown;
        return Sym((coefficient * factor).ToString(System.Globalization.CultureInfo.InvariantCulture) + "*" + product);
    }

    public bool Equals(Dim other) => Size == other.Size && string.Equals(Symbol, other.Symbol, StringComparison.Ordinal);

    public override bool Equals(object? obj) => obj is Dim other && Equals(other);

    public override int GetHashCode() => Symbol is null ? Size : Symbol.GetHashCode();

    public static bool operator ==(Dim left, Dim right) => left.Equals(right);

    public static bool operator !=(Dim left, Dim right) => !left.Equals(right);

    public override string ToString() => Symbol ?? Size.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
