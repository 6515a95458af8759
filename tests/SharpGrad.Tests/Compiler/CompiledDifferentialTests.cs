using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Compiler;

/// <summary>
/// Issue 4's central check for the first compiled slice: the generated <c>Compiled</c> program of a real module gives
/// the same outputs, input gradient and every parameter gradient as the eager <c>Forward</c> on the same parameters.
/// The eager path is the reference (it is checked against PyTorch elsewhere). Tolerance 1e-4 relative: both sides
/// are float32 and sum in different orders (GEMM blocking vs the eager ops). Hooks on children are not honoured by
/// compiled code yet, so none are registered here.
/// </summary>
public class CompiledDifferentialTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void MlpMatchesEager(int batch)
    {
        var model = new CompiledMlp();
        var net = model.Compile();
        Compare(model, x => model.Forward(x), x => net.Forward(x), [batch, 40], seed: 1);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void ResidualMlpMatchesEager(int batch)
    {
        var model = new CompiledResidualMlp();
        var net = model.Compile();
        Compare(model, x => model.Forward(x), x => net.Forward(x), [batch, 12], seed: 2);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void ViewMlpMatchesEager(int batch)
    {
        var model = new CompiledViewMlp();
        var net = model.Compile();
        Compare(model, x => model.Forward(x), x => net.Forward(x), [batch, 3, 4], seed: 3);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void CnnMatchesEager(int batch)
    {
        var model = new CompiledCnn();
        var net = model.Compile();
        Compare(model, x => model.Forward(x), x => net.Forward(x), [batch, 3, 8, 8], seed: 4);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void StridedCnnMatchesEager(int batch)
    {
        var model = new CompiledStridedCnn();
        var net = model.Compile();
        Compare(model, x => model.Forward(x), x => net.Forward(x), [batch, 4, 11, 11], seed: 5);
    }

    [Fact]
    public void CnnBatchSizeMayGrowAndShrinkBetweenCalls()
    {
        var model = new CompiledCnn();
        var net = model.Compile();
        int seed = 20;
        foreach (int batch in new[] { 2, 7, 1, 7 })
            Compare(model, x => model.Forward(x), x => net.Forward(x), [batch, 3, 8, 8], seed++);
    }

    [Fact]
    public void BatchSizeMayGrowAndShrinkBetweenCalls()
    {
        var model = new CompiledResidualMlp();
        var net = model.Compile();
        int seed = 10;
        foreach (int batch in new[] { 3, 64, 1, 5, 64 })
            Compare(model, x => model.Forward(x), x => net.Forward(x), [batch, 12], seed++);
    }

    [Fact]
    public void CompiledOutputIsOneTapeNodeAndSharesParameters()
    {
        var model = new CompiledMlp();
        var net = model.Compile();
        var y = net.Forward(Tensor.Randn([2, 40]));
        Assert.Equal("CompiledMlpForwardCompiledBackward", y.GradFn!.Name);
        Assert.Equal([2, 10], y.Shape);

        // An in-place change of a parameter after Forward is caught by the tape's version check, as in eager mode.
        using (Autograd.NoGrad()) model.Parameters().First().Add_(1f);
        Assert.Throws<InvalidOperationException>(() => y.Sum().Backward());

        // Parameters are shared, not copied: the compiled output follows the change.
        var x = Tensor.Randn([2, 40]);
        using (Autograd.NoGrad()) TensorAssert.Close(model.Forward(x), net.Forward(x), 1e-4, 1e-5, "output after a parameter update");
    }

    [Fact]
    public void BackwardAfterALaterForwardIsAnError()
    {
        var net = new CompiledMlp().Compile();
        var first = net.Forward(Tensor.Randn([4, 40]));
        net.Forward(Tensor.Randn([4, 40]));
        var ex = Assert.Throws<InvalidOperationException>(() => first.Sum().Backward());
        Assert.Contains("call Backward before calling Forward again", ex.Message);
    }

    [Fact]
    public void WrongInputShapeNamesTheExpectedShape()
    {
        var net = new CompiledMlp().Compile();
        var ex = Assert.Throws<ArgumentException>(() => net.Forward(Tensor.Randn([4, 39])));
        Assert.Contains("[N, 40]", ex.Message);
        Assert.Contains("[4, 39]", ex.Message);
    }

    [Fact]
    public void NoGradRecordsNothing()
    {
        var net = new CompiledMlp().Compile();
        using (Autograd.NoGrad())
            Assert.Null(net.Forward(Tensor.Randn([2, 40]).RequiresGrad_()).GradFn);
    }

    private static void Compare(Module model, Func<Tensor, Tensor> eager, Func<Tensor, Tensor> compiled, int[] shape, int seed)
    {
        var rng = new Rng(seed);
        var input = Tensor.Randn(shape, rng: rng);
        var outShape = eager(input.Detach()).Shape;
        var seedGrad = Tensor.Randn(outShape, rng: rng);
        var parameters = model.Parameters().ToList();
        Assert.NotEmpty(parameters);

        var (outE, gxE, gpE) = Run(eager, input, seedGrad, parameters);
        var (outC, gxC, gpC) = Run(compiled, input, seedGrad, parameters);

        TensorAssert.Close(outE, outC, 1e-4, 1e-5, "output");
        TensorAssert.Close(gxE, gxC, 1e-4, 1e-5, "input gradient");
        for (int i = 0; i < parameters.Count; i++)
            TensorAssert.Close(gpE[i], gpC[i], 1e-4, 1e-5, $"gradient of parameter {i}");
    }

    private static (Tensor Out, Tensor InputGrad, List<Tensor> ParamGrads) Run(
        Func<Tensor, Tensor> forward, Tensor input, Tensor seedGrad, List<Tensor> parameters)
    {
        foreach (var p in parameters) p.Grad = null;
        var x = input.Detach().Clone().RequiresGrad_();
        var y = forward(x);
        y.Backward(seedGrad);
        return (y.Detach(), x.Grad!, parameters.Select(p => p.Grad!).ToList());
    }
}
