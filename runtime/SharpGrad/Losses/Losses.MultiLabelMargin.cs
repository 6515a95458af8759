namespace SharpGrad;

public static partial class Losses
{
    /// <summary>
    /// Multi-label hinge loss (PyTorch: <c>F.multilabel_margin_loss</c>): for each sample,
    /// Σ_j Σ_{i ∉ targets} max(0, 1 − (x[y_j] − x[i])) / C, where the targets y_j are the leading entries of the target row
    /// up to the first −1. <paramref name="input"/> is [N, C] or [C]; <paramref name="target"/> has the same shape (Int64).
    /// </summary>
    public static Tensor MultiLabelMargin(Tensor input, Tensor target, Reduction reduction = Reduction.Mean)
    {
        SameShape("MultiLabelMargin", input, target);
        RequireFloat("MultiLabelMargin", input, "input");
        if (input.Rank is not (1 or 2))
        {
            throw new ArgumentException($"MultiLabelMargin: expected a 1-d or 2-d input, but got shape {ShapeUtil.Format(input._shape)}.");
        }
        if (target.DType is not (DType.Int64 or DType.Int32))
        {
            throw new ArgumentException($"MultiLabelMargin: targets must be class indices (Int64, -1 ends a row's list), but got {target.DType}.");
        }
        bool single = input.Rank == 1;
        int n = single ? 1 : input._shape[0], c = input._shape[^1];
        var y = target.ToLongArray();
        for (int i = 0; i < y.Length; i++)
        {
            if (y[i] < -1 || y[i] >= c)
            {
                throw new ArgumentException($"MultiLabelMargin: target {y[i]} (at flat position {i}) is out of bounds: there are {c} classes, so targets must be in [0, {c - 1}], or -1 to end a row's list.");
            }
        }
        var x = input.ToDoubleArray();
        // (row, target class, other class) triples whose hinge is active.
        var active = new List<(int Row, int J, int I)>();
        var perRow = new double[n];
        var isTarget = new bool[c];
        for (int r = 0; r < n; r++)
        {
            Array.Clear(isTarget);
            int count = 0;
            while (count < c && y[r * c + count] >= 0) isTarget[y[r * c + count++]] = true;
            double sum = 0;
            for (int jj = 0; jj < count; jj++)
            {
                int j = (int)y[r * c + jj];
                for (int i = 0; i < c; i++)
                {
                    if (isTarget[i]) continue;
                    double z = 1 - (x[r * c + j] - x[r * c + i]);
                    if (z > 0)
                    {
                        sum += z;
                        active.Add((r, j, i));
                    }
                }
            }
            perRow[r] = sum / c;
        }
        Tensor result = reduction switch
        {
            Reduction.None => Tensor.FromArray(perRow, n).To(input.DType).Reshape(single ? [] : [n]),
            Reduction.Sum => Tensor.Full([], perRow.Sum(), input.DType),
            _ => Tensor.Full([], perRow.Sum() / n, input.DType),
        };
        if (!ShouldRecordInput(input)) return result;
        var shape = input._shape;
        return Record(result, "MultilabelMarginLossBackward", input, [], (g, node) =>
        {
            var gv = g.ToDoubleArray();
            var grad = new double[n * c];
            foreach (var (r, j, i) in active)
            {
                double gr = (reduction == Reduction.None ? gv[r] : reduction == Reduction.Mean ? gv[0] / n : gv[0]) / c;
                grad[r * c + j] -= gr;
                grad[r * c + i] += gr;
            }
            return [Tensor.FromArray(grad, shape).To(input.DType)];
        });
    }
}
