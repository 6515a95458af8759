// Shared source (runtime, generator, analyzers): see Dim.cs.
using System;
using System.Collections.Generic;
using System.Text;

namespace SharpGrad.Ops;

/// <summary>
/// A symbolic shape: its dims, outermost first; an empty shape is a scalar. Immutable, with structural equality (the
/// generator caches it). The one shape model of SharpGrad: the generator's shape inference, the analyzers and the
/// runtime's checks all compute with it through <see cref="ShapeRules"/>.
/// </summary>
internal sealed class TensorShape : IEquatable<TensorShape>
{
    private readonly Dim[] _dims;

    public TensorShape(params Dim[] dims) => _dims = (Dim[])dims.Clone();

    public TensorShape(IEnumerable<Dim> dims) => _dims = new List<Dim>(dims).ToArray();

    public static TensorShape Scalar { get; } = new(Array.Empty<Dim>());

    /// <summary>A shape of fixed sizes (a concrete run-time shape).</summary>
    public static TensorShape Of(IReadOnlyList<int> sizes)
    {
        var dims = new Dim[sizes.Count];
        for (int i = 0; i < dims.Length; i++) dims[i] = Dim.Of(sizes[i]);
        return new TensorShape(dims);
    }

    public IReadOnlyList<Dim> Dims => _dims;

    public int Rank => _dims.Length;

    public Dim this[int index] => _dims[index];

    /// <summary>The last dim (rank ≥ 1).</summary>
    public Dim Last => _dims[_dims.Length - 1];

    /// <summary>True when every dim is a fixed size or a symbol (none unknown).</summary>
    public bool IsFullyKnown
    {
        get
        {
            foreach (var d in _dims) if (d.IsUnknown) return false;
            return true;
        }
    }

    /// <summary>True when every dim is a fixed size.</summary>
    public bool AllFixed
    {
        get
        {
            foreach (var d in _dims) if (!d.IsFixed) return false;
            return true;
        }
    }

    /// <summary>The product of the fixed dims.</summary>
    public long FixedProduct
    {
        get
        {
            long product = 1;
            foreach (var d in _dims) if (d.IsFixed) product *= d.Size;
            return product;
        }
    }

    /// <summary>True when the tensor certainly has more than one element: a fixed dim &gt; 1 and no fixed dim 0.</summary>
    public bool CertainlyNotScalar
    {
        get
        {
            bool big = false;
            foreach (var d in _dims)
            {
                if (d.IsFixed && d.Size == 0) return false;
                if (d.IsFixed && d.Size > 1) big = true;
            }
            return big;
        }
    }

    /// <summary>The fixed sizes (every dim must be fixed).</summary>
    public int[] Sizes()
    {
        var sizes = new int[_dims.Length];
        for (int i = 0; i < sizes.Length; i++) sizes[i] = _dims[i].Size;
        return sizes;
    }

    /// <summary>This shape with dim <paramref name="index"/> replaced.</summary>
    public TensorShape With(int index, Dim dim)
    {
        var dims = (Dim[])_dims.Clone();
        dims[index] = dim;
        return new TensorShape(dims);
    }

    public bool Equals(TensorShape? other)
    {
        if (other is null || other._dims.Length != _dims.Length) return false;
        for (int i = 0; i < _dims.Length; i++) if (!_dims[i].Equals(other._dims[i])) return false;
        return true;
    }

    public override bool Equals(object? obj) => Equals(obj as TensorShape);

    public override int GetHashCode()
    {
        unchecked
        {
            int hash = 17;
            foreach (var d in _dims) hash = (hash * 31) + d.GetHashCode();
            return hash;
        }
    }

    /// <summary>Like PyTorch's <c>torch.Size</c> text: <c>[N, 3, 8, 8]</c>.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder("[");
        for (int i = 0; i < _dims.Length; i++)
        {
            if (i > 0) sb.Append(", ");
            sb.Append(_dims[i].ToString());
        }
        return sb.Append(']').ToString();
    }
}
