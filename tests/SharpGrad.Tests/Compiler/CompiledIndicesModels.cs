using SharpGrad.Layers;

namespace SharpGrad.Tests.Compiler;

// int64 values in compiled programs (issue 12 item 3): the indices of Max(dim)/Min(dim) and ArgMax/ArgMin, a result of the
// program (eager's Int64 tensor); CompiledIndicesTests compares each method with its eager run.

/// <summary>Each way a PyTorch user takes the positions of the extremes, one [Compiled] method each.</summary>
[Module]
public sealed partial class CompiledIndicesNet
{
    private readonly Linear fc = new(6, 12);

    /// <summary>The values of <c>var (v, i) = h.Max(2)</c> keep their gradient (to the argmax position); the indices are unused.</summary>
    public Tensor Forward([Shape("N", 6)] Tensor x)
    {
        var (v, i) = fc.Forward(x).View(-1, 3, 4).Max(2);
        return v * 2f;
    }

    /// <summary><c>h.Max(dim).Indices</c>.</summary>
    [Compiled]
    public Tensor MaxIndices([Shape("N", 6)] Tensor x) => fc.Forward(x).View(-1, 3, 4).Max(2).Indices;

    /// <summary>The second element of the deconstruction, keepDim.</summary>
    [Compiled]
    public Tensor MinIndicesKept([Shape("N", 6)] Tensor x)
    {
        var (_, i) = fc.Forward(x).View(-1, 3, 4).Min(1, keepDim: true);
        return i;
    }

    [Compiled]
    public Tensor ArgMaxDim([Shape("N", 6)] Tensor x) => fc.Forward(x).ArgMax(1);

    [Compiled]
    public Tensor ArgMinLastKept([Shape("N", 6)] Tensor x) => fc.Forward(x).View(-1, 3, 4).ArgMin(-1, keepDim: true);

    /// <summary>Without a dim: the position in the flattened tensor (the batch's elements too), 0-d.</summary>
    [Compiled]
    public Tensor ArgMaxAll([Shape("N", 6)] Tensor x) => fc.Forward(x).ArgMax();

    /// <summary>Without a dim, keepDim: all dims kept as size 1.</summary>
    [Compiled]
    public Tensor ArgMinAllKept([Shape("N", 6)] Tensor x) => fc.Forward(x).View(-1, 3, 4).ArgMin(keepDim: true);
}

/// <summary>PyTorch's <c>values, indices = h.max(2)</c> returned together: a <c>Tensor[] Forward</c>, each element a compiled region.</summary>
[Module]
public sealed partial class CompiledValuesAndIndicesNet
{
    private readonly Linear fc = new(6, 12);

    public Tensor[] Forward([Shape("N", 6)] Tensor x)
    {
        var h = fc.Forward(x).View(-1, 3, 4);
        return [h.Max(2).Values * 2f, h.ArgMax(2)];
    }
}

/// <summary>A constructor-sized classifier's predictions (CompiledIndicesTests.IndicesOfAConstructorSizedValueCompileAndMatchEager).</summary>
[Module]
public sealed partial class CompiledSizedIndicesNet
{
    private readonly Linear fc;

    public CompiledSizedIndicesNet(int hidden) { fc = new Linear(6, hidden); }

    public Tensor Forward([Shape("N", 6)] Tensor x) => fc.Forward(x);

    /// <summary>The class a softmin of the logits ranks first, behind a guard (runs as written, no break).</summary>
    [Compiled]
    public Tensor Predict([Shape("N", 6)] Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        return Functional.Softmin(fc.Forward(x), 1).ArgMax(1);
    }

    /// <summary>The flat position of the smallest logit of the whole batch.</summary>
    [Compiled]
    public Tensor PredictAll([Shape("N", 6)] Tensor x) => fc.Forward(x).ArgMin();
}
