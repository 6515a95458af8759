using SharpGrad.Kernels;

namespace SharpGrad.Layers;

// Eager fusion of a Sequential's Linear and ReLU children when nothing is recorded (no_grad, or no operand requires a
// gradient) and no hook must see the outputs: the ReLU in the Linear's GEMM epilogue (no second pass, no second tensor),
// and on one sample a following Linear (and its ReLU) in the same pass (Kernels/Gemm.Gemv.Pair.cs), as the compiled
// program does. The results are those of the children run one by one (the same kernels and epilogues).
public partial class Sequential
{
    /// <summary>The h of the Linear → ReLU → Linear pairs run on this thread (never seen outside the pass).</summary>
    [ThreadStatic] private static float[]? t_pairHidden;

    /// <summary>
    /// Runs children i, i + 1, … fused when they are an own Linear and ReLU without hooks and nothing records; returns how
    /// many children ran (0: none, the caller runs child i as usual) and their output in <paramref name="y"/>.
    /// </summary>
    private int RunFused(int i, Tensor x, out Tensor? y)
    {
        y = null;
        if (_children[i].Module is not Linear { HasHooks: false } l1 || !IsReluAt(i + 1) || Records(x, l1)) return 0;
        if (_children.Count > i + 2 && _children[i + 2].Module is Linear { HasHooks: false } l2 && !Records(x, l2)
            && TryPair(x, l1, l2, IsReluAt(i + 3), out y))
        {
            return IsReluAt(i + 3) ? 4 : 3;
        }
        y = Functional.LinearReluNoRecord(x, l1.Weight, l1.Bias);
        return y is null ? 0 : 2;
    }

    private bool IsReluAt(int i) => i < _children.Count && _children[i].Module is ReLU { HasHooks: false };

    /// <summary>Whether running <paramref name="layer"/> on <paramref name="x"/> would record a tape node.</summary>
    private static bool Records(Tensor x, Linear layer)
        => Tensor.ShouldRecord([x, layer.Weight, layer.Bias]);

    /// <summary>One float32 sample through Linear → ReLU → Linear (→ ReLU) in one pass, when both weights are packed.</summary>
    private static bool TryPair(Tensor x, Linear l1, Linear l2, bool relu2, out Tensor? y)
    {
        y = null;
        if (x.DType != DType.Float32 || x.Rank == 0 || x.NumElements != l1.InFeatures || x._shape[^1] != l1.InFeatures || l2.InFeatures != l1.OutFeatures)
            return false;
        if (l1.Weight.DType != DType.Float32 || l2.Weight.DType != DType.Float32 || l1.Bias is { DType: not DType.Float32 } || l2.Bias is { DType: not DType.Float32 })
            return false;
        var xc = x.Contiguous();
        var (b1, b2) = (l1.Bias?.Contiguous(), l2.Bias?.Contiguous());
        var h = t_pairHidden;
        if (h is null || h.Length < l1.OutFeatures) t_pairHidden = h = new float[l1.OutFeatures];
        var shape = (int[])x._shape.Clone();
        shape[^1] = l2.OutFeatures;
        var result = Tensor.Empty(shape, DType.Float32);
        var epi1 = new Epi<float>(b1?.Data<float>(), b1?.Offset ?? 0, null, 0, 0, relu: true);
        var epi2 = new Epi<float>(b2?.Data<float>(), b2?.Offset ?? 0, null, 0, 0, relu2);
        if (!Gemm.TryLinearReluLinearRowPacked(l1.Weight, xc.Data<float>(), xc.Offset, h, 0, epi1, l2.Weight, result.Data<float>(), 0, epi2, allowParallel: true))
            return false;
        y = result;
        return true;
    }
}
