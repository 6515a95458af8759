namespace SharpGrad.Kernels;

/// <summary>
/// Walks an n-dimensional index space row by row for up to three strided operands. Dimensions that are
/// contiguous for every operand are merged first, so the inner rows are as long as possible.
/// </summary>
internal struct RowIterator
{
    private readonly int[] _shape;
    private readonly int[] _sa, _sb, _sc;
    private readonly int[] _index;
    private readonly int _outerRank;
    private int _remainingRows;

    public int OffsetA, OffsetB, OffsetC;
    public readonly int InnerCount;
    public readonly int InnerStrideA, InnerStrideB, InnerStrideC;

    public RowIterator(ReadOnlySpan<int> shape, int offA, ReadOnlySpan<int> stridesA, int offB, ReadOnlySpan<int> stridesB, int offC = 0, ReadOnlySpan<int> stridesC = default)
    {
        int rank = shape.Length;
        bool hasC = stridesC.Length == rank && rank > 0;
        // Drop size-1 dims, then merge neighbours that are contiguous for every operand.
        var sh = new List<int>(rank);
        var a = new List<int>(rank);
        var b = new List<int>(rank);
        var c = new List<int>(rank);
        int total = 1;
        for (int d = 0; d < rank; d++)
        {
            total *= shape[d];
            if (shape[d] == 1) continue;
            int sbv = stridesB.Length == rank ? stridesB[d] : 0;
            int scv = hasC ? stridesC[d] : 0;
            if (sh.Count > 0)
            {
                int last = sh.Count - 1;
                if (a[last] == stridesA[d] * shape[d] && b[last] == sbv * shape[d] && c[last] == scv * shape[d])
                {
                    sh[last] *= shape[d];
                    a[last] = stridesA[d];
                    b[last] = sbv;
                    c[last] = scv;
                    continue;
                }
            }
            sh.Add(shape[d]);
            a.Add(stridesA[d]);
            b.Add(sbv);
            c.Add(scv);
        }
        if (sh.Count == 0)
        {
            sh.Add(1); a.Add(0); b.Add(0); c.Add(0);
        }
        _shape = sh.ToArray();
        _sa = a.ToArray();
        _sb = b.ToArray();
        _sc = c.ToArray();
        _outerRank = _shape.Length - 1;
        _index = new int[Math.Max(_outerRank, 1)];
        InnerCount = _shape[^1];
        InnerStrideA = _sa[^1];
        InnerStrideB = _sb[^1];
        InnerStrideC = _sc[^1];
        _remainingRows = total == 0 ? 0 : total / InnerCount;
        OffsetA = offA;
        OffsetB = offB;
        OffsetC = offC;
        _started = false;
    }

    private bool _started;

    /// <summary>Moves to the next row; false when done. The first call positions on the first row.</summary>
    public bool MoveNext()
    {
        if (_remainingRows == 0) return false;
        if (!_started)
        {
            _started = true;
            _remainingRows--;
            return true;
        }
        _remainingRows--;
        for (int d = _outerRank - 1; d >= 0; d--)
        {
            _index[d]++;
            OffsetA += _sa[d];
            OffsetB += _sb[d];
            OffsetC += _sc[d];
            if (_index[d] < _shape[d]) return true;
            OffsetA -= _sa[d] * _shape[d];
            OffsetB -= _sb[d] * _shape[d];
            OffsetC -= _sc[d] * _shape[d];
            _index[d] = 0;
        }
        return true;
    }
}
