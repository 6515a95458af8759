using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Globalization;
using System.Linq;

namespace SharpGrad.Analyzers;

/// <summary>One dimension of a static shape: a fixed size, or a symbol (a batch dim such as "N").</summary>
internal readonly struct Dim : IEquatable<Dim>
{
    private Dim(int size, string? symbol)
    {
        Size = size;
        Symbol = symbol;
    }

    public int Size { get; }

    public string? Symbol { get; }

    public bool IsFixed => Symbol is null;

    public static Dim Fixed(int size) => new(size, null);

    public static Dim Symbolic(string symbol) => new(-1, symbol);

    public bool Equals(Dim other) => Size == other.Size && Symbol == other.Symbol;

    public override bool Equals(object? obj) => obj is Dim d && Equals(d);

    public override int GetHashCode() => Symbol is null ? Size : Symbol.GetHashCode();

    public override string ToString() => Symbol ?? Size.ToString(CultureInfo.InvariantCulture);
}

/// <summary>A shape known at compile time (DESIGN.md §4 "Shapes"): fixed sizes and symbolic batch dims.</summary>
internal sealed class TensorShape
{
    public static readonly TensorShape Scalar = new(ImmutableArray<Dim>.Empty);

    public TensorShape(ImmutableArray<Dim> dims) => Dims = dims;

    public ImmutableArray<Dim> Dims { get; }

    public int Rank => Dims.Length;

    public bool AllFixed => Dims.All(d => d.IsFixed);

    /// <summary>The product of the fixed dims: a lower bound on the element count when no symbol is 0.</summary>
    public long FixedProduct
    {
        get
        {
            long product = 1;
            foreach (var d in Dims)
            {
                if (d.IsFixed) product *= d.Size;
            }
            return product;
        }
    }

    /// <summary>True when the tensor certainly has more than one element: a fixed dim &gt; 1 and no fixed dim 0.</summary>
    public bool CertainlyNotScalar => Dims.Any(d => d.IsFixed && d.Size > 1) && !Dims.Any(d => d.IsFixed && d.Size == 0);

    public int[] FixedSizes() => Dims.Select(d => d.Size).ToArray();

    public static TensorShape FromFixed(IEnumerable<int> sizes) => new(sizes.Select(Dim.Fixed).ToImmutableArray());

    /// <summary>NumPy/PyTorch broadcasting, or null when the result is not known statically.</summary>
    public static TensorShape? Broadcast(TensorShape a, TensorShape b)
    {
        int rank = Math.Max(a.Rank, b.Rank);
        var dims = new Dim[rank];
        for (int i = 0; i < rank; i++)
        {
            int ia = a.Rank - rank + i;
            int ib = b.Rank - rank + i;
            Dim? da = ia >= 0 ? a.Dims[ia] : null;
            Dim? db = ib >= 0 ? b.Dims[ib] : null;
            if (da is null) dims[i] = db!.Value;
            else if (db is null) dims[i] = da.Value;
            else if (da.Value.Equals(db.Value)) dims[i] = da.Value;
            else if (da.Value.IsFixed && da.Value.Size == 1) dims[i] = db.Value;
            else if (db.Value.IsFixed && db.Value.Size == 1) dims[i] = da.Value;
            else return null;
        }
        return new TensorShape(dims.ToImmutableArray());
    }

    public override string ToString() => "[" + string.Join(", ", Dims) + "]";
}
