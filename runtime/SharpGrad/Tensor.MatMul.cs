using SharpGrad.Kernels;

namespace SharpGrad;

public partial class Tensor
{
    /// <summary>
    /// Matrix product with PyTorch's <c>torch.matmul</c> semantics: 1-d·1-d is a dot product (0-d result); 2-d·2-d is a
    /// matrix product; a 1-d operand is promoted to a matrix (a row on the left, a column on the right) and that dimension
    /// removed afterwards; higher ranks are batched, with the batch dimensions broadcast.
    /// </summary>
    public Tensor MatMul(Tensor other)
    {
        ArgumentNullException.ThrowIfNull(other);
        var a = this;
        var b = other;
        if (a.Rank == 0 || b.Rank == 0)
        {
            throw new ArgumentException(
                $"MatMul: both arguments need at least 1 dimension, but got shapes {ShapeUtil.Format(a._shape)} and {ShapeUtil.Format(b._shape)}. Use '*' to multiply by a scalar.");
        }
        if (a.Rank == 1 && b.Rank == 1)
        {
            if (a._shape[0] != b._shape[0])
            {
                throw new ArgumentException(
                    $"MatMul: the dot product of 1-d tensors needs equal lengths, but got shapes {ShapeUtil.Format(a._shape)} and {ShapeUtil.Format(b._shape)}.");
            }
            return MatMulCore(a.Unsqueeze(0), b.Unsqueeze(1), "MatMul").Reshape([]);
        }
        if (a.Rank == 1) return MatMulCore(a.Unsqueeze(0), b, "MatMul", this, other).Squeeze(-2);
        if (b.Rank == 1) return MatMulCore(a, b.Unsqueeze(1), "MatMul", this, other).Squeeze(-1);
        return MatMulCore(a, b, "MatMul");
    }

    /// <summary>The product of two matrices (PyTorch: <c>torch.mm</c>); both must be 2-d.</summary>
    public Tensor Mm(Tensor other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (Rank != 2 || other.Rank != 2)
        {
            throw new ArgumentException(
                $"Mm: both arguments must be 2-d matrices, but got shapes {ShapeUtil.Format(_shape)} and {ShapeUtil.Format(other._shape)}. Use MatMul for batched or 1-d operands.");
        }
        return MatMulCore(this, other, "Mm");
    }

    /// <summary>The batched matrix product of [B, n, m] and [B, m, p] (PyTorch: <c>torch.bmm</c>); no broadcasting.</summary>
    public static Tensor Bmm(Tensor input, Tensor mat2)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(mat2);
        if (input.Rank != 3 || mat2.Rank != 3)
        {
            throw new ArgumentException(
                $"Bmm: both arguments must be 3-d batches of matrices, but got shapes {ShapeUtil.Format(input._shape)} and {ShapeUtil.Format(mat2._shape)}. Use MatMul to broadcast.");
        }
        if (input._shape[0] != mat2._shape[0])
        {
            throw new ArgumentException(
                $"Bmm: the batch sizes must match, but got shapes {ShapeUtil.Format(input._shape)} and {ShapeUtil.Format(mat2._shape)}. Use MatMul to broadcast a batch of 1.");
        }
        return MatMulCore(input, mat2, "Bmm");
    }

    /// <summary>Batched, broadcast matrix product of tensors of rank ≥ 2, with autograd.</summary>
    private static Tensor MatMulCore(Tensor a, Tensor b, string op, Tensor? origA = null, Tensor? origB = null)
    {
        int k = a._shape[^1];
        if (b._shape[^2] != k)
        {
            var sa = ShapeUtil.Format((origA ?? a)._shape);
            var sb = ShapeUtil.Format((origB ?? b)._shape);
            throw new ArgumentException(
                $"{op}: cannot multiply shapes {sa} and {sb}: the inner dimensions differ ({k} vs {b._shape[^2]}). " +
                $"The last dimension of the first must equal the second-to-last of the second; transpose one of them (e.g. .T() or .Transpose(-1, -2)) if that was intended.");
        }
        if (!a.DType.IsFloatingPoint() || !b.DType.IsFloatingPoint())
        {
            throw new NotSupportedException($"{op}: only Float32 and Float64 tensors can be multiplied, but got {a.DType} and {b.DType}. Convert with .To(DType.Float32).");
        }
        var dtype = DTypes.Promote(a.DType, b.DType);
        var ra = a.DType == dtype ? a : a.ToRaw(dtype);
        var rb = b.DType == dtype ? b : b.ToRaw(dtype);
        var result = MatMulRaw(ra, rb, op);
        if (!ShouldRecord(a, b)) return result;
        int[] shapeA = a._shape, shapeB = b._shape;
        var name = a.Rank == 2 && b.Rank == 2 ? "MmBackward" : op == "Bmm" ? "BmmBackward" : "MatMulBackward";
        return Record(result, name, [a, b], (g, n) =>
        {
            Tensor? ga = null, gb = null;
            if (n.NeedsInputGrad(0)) ga = g.MatMulCore2(b.Transpose(-1, -2)).SumTo(shapeA).To(a.DType);
            if (n.NeedsInputGrad(1))
            {
                if (shapeB.Length == 2 && a.Rank > 2)
                {
                    // Fold the batch: Σ_batch aᵀ·g = (a as [B·m, k])ᵀ · (g as [B·m, n]).
                    gb = a.Reshape(-1, k).T().MatMulCore2(g.Reshape(-1, g._shape[^1])).To(b.DType);
                }
                else gb = a.Transpose(-1, -2).MatMulCore2(g).SumTo(shapeB).To(b.DType);
            }
            return [ga, gb];
        }, a, b);
    }

    private Tensor MatMulCore2(Tensor other) => MatMulCore(this, other, "MatMul");

    /// <summary>How a matrix with the given row/col strides maps onto GEMM's (trans, ld); false if it needs a copy.</summary>
    private static bool GemmLayout(int rows, int cols, int rs, int cs, out bool trans, out int ld)
    {
        if ((cs == 1 || cols == 1) && (rows == 1 || rs >= cols))
        {
            trans = false;
            ld = rows == 1 ? Math.Max(cols, 1) : rs;
            return true;
        }
        if ((rs == 1 || rows == 1) && (cols == 1 || cs >= rows))
        {
            trans = true;
            ld = cols == 1 ? Math.Max(rows, 1) : cs;
            return true;
        }
        trans = false;
        ld = 0;
        return false;
    }

    /// <summary>The product of a[..., m, k] and b[..., k, n] (same float dtype, batch dims broadcast), without autograd.</summary>
    internal static Tensor MatMulRaw(Tensor a, Tensor b, string op = "MatMul")
    {
        int m = a._shape[^2], k = a._shape[^1], n = b._shape[^1];
        var batchA = a._shape[..^2];
        var batchB = b._shape[..^2];
        int[] batch;
        try
        {
            batch = ShapeUtil.Broadcast(batchA, batchB);
        }
        catch (ArgumentException)
        {
            throw new ArgumentException(
                $"{op}: the batch dimensions of shapes {ShapeUtil.Format(a._shape)} and {ShapeUtil.Format(b._shape)} cannot be broadcast " +
                $"({ShapeUtil.Format(batchA)} vs {ShapeUtil.Format(batchB)}): each must be equal or 1.");
        }
        var outShape = new int[batch.Length + 2];
        batch.CopyTo(outShape, 0);
        outShape[^2] = m;
        outShape[^1] = n;
        var result = Empty(outShape, a.DType);
        if (result.NumElements == 0) return result;

        // Fold a's batch into its rows when b is a single matrix.
        if (b.Rank == 2 && a.Rank > 2)
        {
            var rows = ShapeUtil.Count(a._shape) / Math.Max(k, 1);
            if (k > 0)
            {
                var folded = ComputeViewStrides(a._shape, a._strides, [rows, k]);
                var a2 = folded is null ? a.Contiguous() : a;
                var fs = folded ?? [k, 1];
                if (GemmLayout(rows, k, fs[0], fs[1], out _, out _))
                {
                    var aMat = new Tensor(a2.Storage, [rows, k], fs, a2.Offset);
                    GemmInto(aMat, b, result, 0, rows);
                    return result;
                }
            }
        }

        if (!GemmLayout(m, k, a._strides[^2], a._strides[^1], out _, out _)) a = a.Contiguous();
        if (!GemmLayout(k, n, b._strides[^2], b._strides[^1], out _, out _)) b = b.Contiguous();
        var sa = ShapeUtil.BroadcastStrides(batchA, a._strides[..^2], batch);
        var sb = ShapeUtil.BroadcastStrides(batchB, b._strides[..^2], batch);
        int count = ShapeUtil.Count(batch);
        var idx = new int[batch.Length];
        for (int bi = 0; bi < count; bi++)
        {
            int offA = a.Offset, offB = b.Offset;
            for (int d = 0; d < batch.Length; d++)
            {
                offA += idx[d] * sa[d];
                offB += idx[d] * sb[d];
            }
            var am = new Tensor(a.Storage, [m, k], [a._strides[^2], a._strides[^1]], offA);
            var bm = new Tensor(b.Storage, [k, n], [b._strides[^2], b._strides[^1]], offB);
            GemmInto(am, bm, result, bi * m * n, m);
            for (int d = batch.Length - 1; d >= 0; d--)
            {
                if (++idx[d] < batch[d]) break;
                idx[d] = 0;
            }
        }
        return result;
    }

    /// <summary>result[off..] = a[m, k] · b[k, n] for 2-d strided a and b that satisfy <see cref="GemmLayout"/>.</summary>
    private static void GemmInto(Tensor a, Tensor b, Tensor result, int cOffset, int m)
    {
        int k = a._shape[1], n = b._shape[1];
        if (!GemmLayout(m, k, a._strides[0], a._strides[1], out bool ta, out int lda)) { a = a.Contiguous(); GemmLayout(m, k, k, 1, out ta, out lda); }
        if (!GemmLayout(k, n, b._strides[0], b._strides[1], out bool tb, out int ldb)) { b = b.Contiguous(); GemmLayout(k, n, n, 1, out tb, out ldb); }
        if (k == 0)
        {
            return; // result is already zero
        }
        if (result.DType == DType.Float32)
        {
            Gemm.Run(ta, tb, m, n, k, 1f, a.Data<float>(), a.Offset, lda, b.Data<float>(), b.Offset, ldb, 0f, result.Data<float>(), cOffset, n, true);
        }
        else
        {
            Gemm.Run(ta, tb, m, n, k, 1.0, a.Data<double>(), a.Offset, lda, b.Data<double>(), b.Offset, ldb, 0.0, result.Data<double>(), cOffset, n, true);
        }
    }
}
