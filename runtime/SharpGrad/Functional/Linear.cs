namespace SharpGrad;

public static partial class Functional
{
    /// <summary>
    /// Applies an affine map <c>y = x·Wᵀ + b</c> (PyTorch: <c>torch.nn.functional.linear</c>).
    /// <paramref name="input"/> is [..., in_features], <paramref name="weight"/> is [out_features, in_features],
    /// <paramref name="bias"/> (optional) is [out_features]; the result is [..., out_features].
    /// </summary>
    public static Tensor Linear(Tensor input, Tensor weight, Tensor? bias = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(weight);
        if (weight.Rank != 2)
        {
            throw new ArgumentException(
                $"Linear: weight must be 2-d [out_features, in_features], but got shape {ShapeUtil.Format(weight._shape)}.");
        }
        if (input.Rank == 0 || input._shape[^1] != weight._shape[1])
        {
            throw new ArgumentException(
                $"Linear: input of shape {ShapeUtil.Format(input._shape)} does not match weight of shape {ShapeUtil.Format(weight._shape)}: " +
                $"the last dimension of the input must equal in_features = {weight._shape[1]}. " +
                $"Reshape the input (e.g. x.View(-1, {weight._shape[1]})) or construct the layer with in_features = {(input.Rank == 0 ? 0 : input._shape[^1])}.");
        }
        if (bias is not null && (bias.Rank != 1 || bias._shape[0] != weight._shape[0]))
        {
            throw new ArgumentException(
                $"Linear: bias must have shape [{weight._shape[0]}] (out_features of weight {ShapeUtil.Format(weight._shape)}), but got {ShapeUtil.Format(bias._shape)}.");
        }
        if (input.DType == weight.DType && (bias is null || bias.DType == weight.DType) && weight.DType is DType.Float32 or DType.Float64)
        {
            return weight.DType == DType.Float32 ? LinearFused<float>(input, weight, bias) : LinearFused<double>(input, weight, bias);
        }
        var y = input.MatMul(weight.T());
        return bias is null ? y : y + bias;
    }

    /// <summary>
    /// relu(x·Wᵀ + b) as one GEMM with the bias and the ReLU in its epilogue, recording nothing: for callers that know no
    /// gradient is recorded (a Sequential's Linear and ReLU children under <c>no_grad</c>). Null when the operands are not
    /// float32/float64 of one dtype or do not fit (the caller then runs the layers one by one, which reports the error).
    /// </summary>
    internal static Tensor? LinearReluNoRecord(Tensor input, Tensor weight, Tensor? bias)
    {
        if (weight.Rank != 2 || input.Rank == 0 || input._shape[^1] != weight._shape[1]) return null;
        if (bias is not null && (bias.Rank != 1 || bias._shape[0] != weight._shape[0] || bias.DType != weight.DType)) return null;
        if (input.DType != weight.DType) return null;
        return weight.DType switch
        {
            DType.Float32 => LinearFused<float>(input, weight, bias, relu: true),
            DType.Float64 => LinearFused<double>(input, weight, bias, relu: true),
            _ => null,
        };
    }

    /// <summary>
    /// y = x·Wᵀ + b as one GEMM with the bias in its epilogue (PyTorch: <c>addmm</c>), and a backward that computes
    /// dX = g·W and dW = gᵀ·x directly in W's layout (no transposed views, no copies) and db by column sums.
    /// </summary>
    private static Tensor LinearFused<T>(Tensor input, Tensor weight, Tensor? bias, bool relu = false) where T : unmanaged, System.Numerics.INumber<T>
    {
        int inF = weight._shape[1], outF = weight._shape[0];
        int rows = inF == 0 ? 0 : input.NumElements / inF;
        var x = input.Contiguous();
        var w = weight.Contiguous();
        var b = bias?.Contiguous();
        var outShape = (int[])input._shape.Clone();
        outShape[^1] = outF;
        var y = Tensor.Empty(outShape, weight.DType);
        var epi = new Kernels.Epi<T>(b?.Data<T>(), b?.Offset ?? 0, null, 0, 0, relu);
        // One float32 sample (batch-1 inference): W's packed copy while its version is unchanged (Gemm.Gemv.Packed.cs).
        bool done = rows == 1 && typeof(T) == typeof(float) && Kernels.Gemm.TryLinearRowPacked(
            w, x.Data<float>(), x.Offset, y.Data<float>(), 0, new Kernels.Epi<float>(b?.Data<float>(), b?.Offset ?? 0, null, 0, 0, relu), allowParallel: true);
        // An input of mostly exact zeros (MNIST's pixels): only its nonzeros' terms (Gemm.ZeroSkip.cs).
        if (!done && typeof(T) == typeof(float))
        {
            done = Kernels.Gemm.TryLinearSkipZeros(x.Data<float>(), x.Offset, w.Data<float>(), w.Offset, y.Data<float>(), 0, rows, inF, outF,
                new Kernels.Epi<float>(b?.Data<float>(), b?.Offset ?? 0, null, 0, 0, relu), allowParallel: true);
        }
        if (!done)
        {
            Kernels.Gemm.Run(false, true, rows, outF, inF, T.One, x.Data<T>(), x.Offset, inF, w.Data<T>(), w.Offset, inF, T.Zero, y.Data<T>(), 0, outF,
                allowParallel: true, epi);
        }
        if (relu || !Tensor.ShouldRecord([input, weight, bias])) return y;
        return Tensor.Record(y, bias is null ? "MmBackward" : "AddmmBackward", [input, weight, bias], (g, node) =>
        {
            if (Autograd.IsGradEnabled)
            {
                // create_graph: the backward itself must be recorded, so use the differentiable ops
                var g2 = g.Reshape(rows, outF);
                return [
                    node.NeedsInputGrad(0) ? g2.MatMul(weight).Reshape(input._shape) : null,
                    node.NeedsInputGrad(1) ? g2.T().MatMul(x.Reshape(rows, inF)) : null,
                    bias is not null && node.NeedsInputGrad(2) ? g2.Sum(0) : null,
                ];
            }
            var gc = g.Contiguous();
            T[] gd = gc.Data<T>();
            Tensor? dx = null, dw = null, db = null;
            // float32: exact zeros of g (after a ReLU) or of x (MNIST's pixels) are skipped when they pay (Gemm.ZeroSkip.cs).
            float[]? gf = (object)gd as float[];
            if (node.NeedsInputGrad(0))
            {
                dx = Tensor.Empty(input._shape, weight.DType);
                if (gf is null || !Kernels.Gemm.TryLinearInputGradSkipZeros(gf, gc.Offset, w.Data<float>(), w.Offset, dx.Data<float>(), 0, rows, inF, outF,
                        accumulate: false, allowParallel: true))
                {
                    Kernels.Gemm.Run(false, false, rows, inF, outF, T.One, gd, gc.Offset, outF, w.Data<T>(), w.Offset, inF, T.Zero, dx.Data<T>(), 0, inF, true);
                }
            }
            if (node.NeedsInputGrad(1))
            {
                dw = Tensor.Empty(weight._shape, weight.DType);
                if (gf is null || !Kernels.Gemm.TryLinearWeightGradSkipZeros(gf, gc.Offset, x.Data<float>(), x.Offset, dw.Data<float>(), rows, inF, outF,
                        accumulate: false, allowParallel: true)
                    && !Kernels.Gemm.TryLinearWeightGradSkipDeadUnits(gf, gc.Offset, x.Data<float>(), x.Offset, dw.Data<float>(), rows, inF, outF))
                {
                    Kernels.Gemm.Run(true, false, outF, inF, rows, T.One, gd, gc.Offset, outF, x.Data<T>(), x.Offset, inF, T.Zero, dw.Data<T>(), 0, inF, true);
                }
            }
            if (bias is not null && node.NeedsInputGrad(2))
            {
                db = Tensor.Empty([outF], weight.DType);
                var dbd = db.Data<T>();
                for (int r = 0; r < rows; r++) Kernels.Gemm.AddRow<T>(gd.AsSpan(gc.Offset + r * outF, outF), dbd.AsSpan(0, outF));
            }
            return [dx, dw, db];
        }, x, w);
    }
}
