using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Compiler;

/// <summary>
/// int64 values in compiled programs: <c>Max(dim).Indices</c>, <c>var (v, i) = x.Max(dim)</c>, <c>ArgMax</c>/<c>ArgMin</c> with
/// and without a dim and keepDim, compiled with no graph break and equal to eager at batch 1, 3 and 64 (the indices
/// exactly, as Int64 of eager's shape; the values and their gradients through <see cref="CompiledLayerTests.Compare"/>).
/// </summary>
public class CompiledIndicesTests
{
    public static TheoryData<string, int> Methods()
    {
        var data = new TheoryData<string, int>();
        foreach (var name in new[] { "MaxIndices", "MinIndicesKept", "ArgMaxDim", "ArgMinLastKept", "ArgMaxAll", "ArgMinAllKept" })
        {
            foreach (int batch in new[] { 1, 3, 64 }) data.Add(name, batch);
        }
        return data;
    }

    private static Tensor Run(CompiledIndicesNet model, string name, Tensor x) => name switch
    {
        "MaxIndices" => model.MaxIndices(x),
        "MinIndicesKept" => model.MinIndicesKept(x),
        "ArgMaxDim" => model.ArgMaxDim(x),
        "ArgMinLastKept" => model.ArgMinLastKept(x),
        "ArgMaxAll" => model.ArgMaxAll(x),
        "ArgMinAllKept" => model.ArgMinAllKept(x),
        _ => throw new ArgumentException(name),
    };

    private static Tensor RunCompiled(CompiledIndicesNet.Compiled net, string name, Tensor x) => name switch
    {
        "MaxIndices" => net.MaxIndices(x),
        "MinIndicesKept" => net.MinIndicesKept(x),
        "ArgMaxDim" => net.ArgMaxDim(x),
        "ArgMinLastKept" => net.ArgMinLastKept(x),
        "ArgMaxAll" => net.ArgMaxAll(x),
        "ArgMinAllKept" => net.ArgMinAllKept(x),
        _ => throw new ArgumentException(name),
    };

    [Fact]
    public void EveryMethodCompilesWithNoGraphBreak()
    {
        var explanation = new CompiledIndicesNet().Compile().Explanation;
        Assert.True(explanation.IsFullyCompiled, explanation.ToString());
    }

    [Theory]
    [MemberData(nameof(Methods))]
    public void IndicesMatchEager(string name, int batch)
    {
        var model = new CompiledIndicesNet();
        var net = model.Compile();
        var x = Tensor.Randn([batch, 6], rng: new Rng(900 + batch)).RequiresGrad_();
        var eager = Run(model, name, x);
        var compiled = RunCompiled(net, name, x);
        Assert.Equal(DType.Int64, eager.DType);
        Assert.Equal(DType.Int64, compiled.DType);
        Assert.Equal(eager.Shape, compiled.Shape);
        Assert.False(compiled.RequiresGrad);
        Assert.Equal(eager.ToLongArray(), compiled.ToLongArray());
        // A second call of another batch reuses the program's buffers: still eager's indices.
        var again = Tensor.Randn([batch + 1, 6], rng: new Rng(950 + batch));
        Assert.Equal(Run(model, name, again).ToLongArray(), RunCompiled(net, name, again).ToLongArray());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void ValuesOfADeconstructedMaxKeepTheirGradient(int batch)
    {
        var model = new CompiledIndicesNet();
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => model.Compile().Forward(x), [batch, 6], seed: 960);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void ValuesAndIndicesReturnedTogetherMatchEager(int batch)
    {
        var model = new CompiledValuesAndIndicesNet();
        var net = model.Compile();
        Assert.True(net.Explanation.IsFullyCompiled, net.Explanation.ToString());
        var input = Tensor.Randn([batch, 6], rng: new Rng(980 + batch));
        var seed = Tensor.Randn([batch, 3], rng: new Rng(990 + batch));
        foreach (var p in model.Parameters()) p.Grad = null;
        var xe = input.Clone().RequiresGrad_();
        var eager = model.Forward(xe);
        eager[0].Backward(seed);
        var eagerGrads = model.Parameters().Select(p => p.Grad!.Clone()).ToList();
        foreach (var p in model.Parameters()) p.Grad = null;
        var xc = input.Clone().RequiresGrad_();
        var compiled = net.Forward(xc);
        compiled[0].Backward(seed);
        TensorAssert.Close(eager[0].Detach(), compiled[0].Detach(), 1e-5, 1e-6, "values");
        TensorAssert.Close(xe.Grad!, xc.Grad!, 1e-5, 1e-6, "input gradient");
        var grads = model.Parameters().Select(p => p.Grad!).ToList();
        for (int k = 0; k < grads.Count; k++) TensorAssert.Close(eagerGrads[k], grads[k], 1e-5, 1e-6, $"gradient of parameter {k}");
        Assert.Equal(DType.Int64, compiled[1].DType);
        Assert.Equal(eager[1].Shape, compiled[1].Shape);
        Assert.Equal(eager[1].ToLongArray(), compiled[1].ToLongArray());
    }

    /// <summary>
    /// Indices of a constructor-sized value (<c>new Linear(6, hidden)</c>), as a PyTorch user writes a classifier's
    /// prediction: found by the user check of session 9 (a named break "whose sizes are bound when the module is built"
    /// before the planner let the ArgExtreme rule take symbolic sizes). Compiled with no break, equal to eager.
    /// </summary>
    [Theory]
    [InlineData(1, 5)]
    [InlineData(3, 7)]
    [InlineData(64, 16)]
    public void IndicesOfAConstructorSizedValueCompileAndMatchEager(int batch, int hidden)
    {
        var model = new CompiledSizedIndicesNet(hidden);
        var net = model.Compile();
        Assert.True(net.Explanation.IsFullyCompiled, net.Explanation.ToString());
        foreach (int n in new[] { batch, batch + 2 })
        {
            var x = Tensor.Randn([n, 6], rng: new Rng(1000 + n + hidden));
            Assert.Equal(model.Predict(x).ToLongArray(), net.Predict(x).ToLongArray());
            Assert.Equal(model.PredictAll(x).ToLongArray(), net.PredictAll(x).ToLongArray());
        }
    }

    /// <summary>
    /// A wrong input to a method compiled as a region (its guard runs first) is reported under the user's method name, never
    /// the region's internal entry (the user check of session 9 read "…Compiled.PredictRegion1 … run the eager …PredictRegion1").
    /// </summary>
    [Fact]
    public void AWrongInputToARegionNamesTheUsersMethod()
    {
        var net = new CompiledSizedIndicesNet(5).Compile();
        var error = Assert.Throws<ArgumentException>(() => net.Predict(Tensor.Randn([4, 7], rng: new Rng(1))));
        Assert.Contains("CompiledSizedIndicesNet.Compiled.Predict: expected x of shape [N, 6], but got [4, 7]", error.Message);
        Assert.Contains("run the eager CompiledSizedIndicesNet.Predict.", error.Message);
        Assert.DoesNotContain("Region", error.Message);
    }
}
