using System.Runtime.CompilerServices;

namespace SharpGrad.Kernels;

/// <summary>Up to <see cref="Length"/> ints inline (no allocation): the dims and strides of a loop nest.</summary>
[InlineArray(Length)]
internal struct LoopDims
{
    public const int Length = 32;

    private int _element;
}

/// <summary>
/// Walks an n-dimensional index space row by row for up to three strided operands. Dimensions that are
/// contiguous for every operand are merged first, so the inner rows are as long as possible. Allocates nothing
/// (the loop nest lives inline), so compiled programs share these kernels with eager code.
/// </summary>
internal struct RowIterator
{
    private LoopDims _shape, _sa, _sb, _sc, _index;
    private readonly int _outerRank;
    private int _remainingRows;
    private bool _started;

    public int OffsetA, OffsetB, OffsetC;
    public readonly int InnerCount;
    public readonly int InnerStrideA, InnerStrideB, InnerStrideC;

    public RowIterator(ReadOnlySpan<int> shape, int offA, ReadOnlySpan<int> stridesA, int offB, ReadOnlySpan<int> stridesB, int offC = 0, ReadOnlySpan<int> stridesC = default)
    {
        int rank = shape.Length;
        if (rank > LoopDims.Length)
        {
            throw new NotSupportedException($"Tensors of more than {LoopDims.Length} dimensions are not supported (got {rank}).");
        }
        bool hasC = stridesC.Length == rank && rank > 0;
        // Drop size-1 dims, then merge neighbours that are contiguous for every operand.
        int m = 0;
        int total = 1;
        for (int d = 0; d < rank; d++)
        {
            total *= shape[d];
            if (shape[d] == 1) continue;
            int sbv = stridesB.Length == rank ? stridesB[d] : 0;
            int scv = hasC ? stridesC[d] : 0;
            if (m > 0)
            {
                int last = m - 1;
                if (_sa[last] == stridesA[d] * shape[d] && _sb[last] == sbv * shape[d] && _sc[last] == scv * shape[d])
                {
                    _shape[last] *= shape[d];
                    _sa[last] = stridesA[d];
                    _sb[last] = sbv;
                    _sc[last] = scv;
                    continue;
                }
            }
            _shape[m] = shape[d];
            _sa[m] = stridesA[d];
            _sb[m] = sbv;
            _sc[m] = scv;
            m++;
        }
        if (m == 0)
        {
            _shape[0] = 1;
            _sa[0] = 0;
            _sb[0] = 0;
            _sc[0] = 0;
            m = 1;
        }
        _outerRank = m - 1;
        InnerCount = _shape[m - 1];
        InnerStrideA = _sa[m - 1];
        InnerStrideB = _sb[m - 1];
        InnerStrideC = _sc[m - 1];
        _remainingRows = total == 0 ? 0 : total / InnerCount;
        OffsetA = offA;
        OffsetB = offB;
        OffsetC = offC;
        _started = false;
    }

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
