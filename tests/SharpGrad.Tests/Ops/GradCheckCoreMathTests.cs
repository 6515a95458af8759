using SharpGrad;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Ops;

/// <summary>Finite-difference checks of the core (lead-owned) arithmetic, reductions and views.</summary>
public class GradCheckCoreMathTests
{
    private static Tensor R(params int[] shape) => Tensor.Randn(shape, DType.Float64);

    [Fact] public void AddBroadcast() => GradCheck.Check(xs => xs[0] + xs[1], R(3, 1, 5), R(4, 1));
    [Fact] public void SubBroadcast() => GradCheck.Check(xs => xs[0] - xs[1], R(3, 4), R(4));
    [Fact] public void MulBroadcast() => GradCheck.Check(xs => xs[0] * xs[1], R(2, 3, 1), R(3, 4));
    [Fact] public void DivBroadcast() => GradCheck.Check(xs => xs[0] / (xs[1].Abs() + 0.5f), R(3, 4), R(3, 1));
    [Fact] public void ScalarOps() => GradCheck.Check(xs => 2f * xs[0] - 1f + xs[0] / 3f - (1f / (xs[0].Abs() + 1f)), R(3, 4));
    [Fact] public void Neg() => GradCheck.Check(xs => -xs[0], R(3, 4));
    [Fact] public void Maximum() => GradCheck.Check(xs => xs[0].Maximum(xs[1]), R(3, 4), R(4));
    [Fact] public void Minimum() => GradCheck.Check(xs => xs[0].Minimum(xs[1]), R(3, 4), R(3, 1));
    [Fact] public void SumDimsNoKeep() => GradCheck.Check(xs => xs[0].Sum([0, 2]), R(3, 4, 5));
    [Fact] public void MeanDimKeep() => GradCheck.Check(xs => xs[0].Mean(1, keepDim: true), R(3, 4, 5));
    [Fact] public void View() => GradCheck.Check(xs => xs[0].View(4, 3) * xs[1], R(3, 4), R(4, 3));
    [Fact] public void Cat() => GradCheck.Check(xs => Tensor.Cat([xs[0], xs[1], xs[0]], 1), R(2, 3), R(2, 1));
    [Fact] public void Stack() => GradCheck.Check(xs => Tensor.Stack([xs[0], xs[1]], 1), R(2, 3), R(2, 3));
    [Fact] public void Expand() => GradCheck.Check(xs => xs[0].Expand(3, 4, 5), R(4, 1));
    [Fact] public void Narrow() => GradCheck.Check(xs => xs[0].Narrow(1, 1, 2), R(3, 4));
    [Fact] public void SliceStep2() => GradCheck.Check(xs => xs[0].Slice(1, 0, 5, 2), R(3, 5));
    [Fact] public void Select() => GradCheck.Check(xs => xs[0].Select(0, 1), R(3, 4));
    [Fact] public void Permute() => GradCheck.Check(xs => xs[0].Permute(2, 0, 1), R(2, 3, 4));
    [Fact] public void ReshapeOfTransposed() => GradCheck.Check(xs => xs[0].Transpose(0, 1).Reshape(12) * xs[1], R(3, 4), R(12));
    [Fact] public void SqueezeUnsqueezeFlatten() => GradCheck.Check(xs => xs[0].Unsqueeze(1).Squeeze(2).Flatten(), R(3, 1, 4));
    [Fact] public void ComposedChain() => GradCheck.Check(xs => (xs[0].MatMulFree(xs[1]).Tanh() * xs[0].Sigmoid()).Softmax(1), R(3, 4), R(4));
}

internal static class MatMulFreeExtensions
{
    /// <summary>A broadcast product summed over the last dim — a stand-in for MatMul in a composed chain.</summary>
    public static Tensor MatMulFree(this Tensor a, Tensor b) => (a * b).Sum(1, keepDim: true) + a;
}
