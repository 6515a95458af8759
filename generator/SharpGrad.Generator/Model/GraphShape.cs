using System;
using System.Text;

namespace SharpGrad.Generator.Model;

/// <summary>
/// One dimension of a symbolic shape: a fixed size, a symbol such as <c>"N"</c> (the batch), or unknown
/// (<see cref="Unknown"/>, written <c>?</c>), which no check ever compares.
/// </summary>
internal readonly struct Dim : IEquatable<Dim>
{
    private Dim(int size, string? symbol)
    {
        Size = size;
        Symbol = symbol;
    }

    /// <summary>The fixed size; meaningful only when <see cref="Symbol"/> is null.</summary>
    public int Size { get; }

    /// <summary>The symbol (<c>"N"</c>), <c>"?"</c> for unknown, or null for a fixed size.</summary>
    public string? Symbol { get; }

    public static Dim Unknown => new(0, "?");

    public static Dim Of(int size) => new(size, null);

    public static Dim Sym(string symbol) => new(0, symbol);

    public bool IsFixed => Symbol is null;

    public bool IsUnknown => Symbol == "?";

    /// <summary>True when both are known and certainly differ (two different symbols may still be equal at run time, so they do not).</summary>
    public bool DefinitelyDiffers(Dim other) => IsFixed && other.IsFixed && Size != other.Size;

    public bool Equals(Dim other) => Size == other.Size && string.Equals(Symbol, other.Symbol, StringComparison.Ordinal);

    public override bool Equals(object? obj) => obj is Dim other && Equals(other);

    public override int GetHashCode() => Symbol is null ? Size : Symbol.GetHashCode();

    public override string ToString() => Symbol ?? Size.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>A symbolic shape: its dims, outermost first. An empty shape is a scalar.</summary>
internal sealed class GraphShape : IEquatable<GraphShape>
{
    public GraphShape(EquatableArray<Dim> dims) => Dims = dims;

    public GraphShape(params Dim[] dims) => Dims = new EquatableArray<Dim>(dims);

    public static GraphShape Scalar { get; } = new(Array.Empty<Dim>());

    public EquatableArray<Dim> Dims { get; }

    public int Rank => Dims.Count;

    public Dim this[int index] => Dims[index];

    /// <summary>True when every dim is a fixed size or a symbol (none unknown).</summary>
    public bool IsFullyKnown
    {
        get
        {
            foreach (var d in Dims) if (d.IsUnknown) return false;
            return true;
        }
    }

    public bool Equals(GraphShape? other) => other is not null && Dims.Equals(other.Dims);

    public override bool Equals(object? obj) => Equals(obj as GraphShape);

    public override int GetHashCode() => Dims.GetHashCode();

    /// <summary>Like PyTorch's <c>torch.Size</c> text: <c>[N, 3, 8, 8]</c>.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder("[");
        for (int i = 0; i < Dims.Count; i++)
        {
            if (i > 0) sb.Append(", ");
            sb.Append(Dims[i].ToString());
        }
        return sb.Append(']').ToString();
    }
}
