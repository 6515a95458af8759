using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Compiler;

/// <summary>
/// Compiled programs whose regions meet a stack's own program (issue 13, session 11; CompiledRegionBoundaryModels.cs): a
/// TransformerDecoder / TransformerDecoderLayer call inside an expression, an input declared batch second (<c>[Shape("T", "N", 8)]</c>)
/// and a region after a batch-second stack. Each compiles with no graph break, and compiled equals eager (output, input
/// gradients, every parameter gradient) at batch 1, 3 and 64 and two sequence lengths.
/// </summary>
[Collection(GlobalRngCollection.Name)]
public class CompiledRegionBoundaryTests
{
    public static TheoryData<string, int> Cases()
    {
        var data = new TheoryData<string, int>();
        foreach (var model in new[] { "decoder-in-head", "decoder-layer-in-norm", "declared-batch-second", "batch-second-stack" })
        {
            foreach (int batch in new[] { 1, 3, 64 }) data.Add(model, batch);
        }
        return data;
    }

    /// <summary>The model, its eager and compiled forwards over its inputs, the compiled Explanation, and the input shapes at (batch, length).</summary>
    private static (Module Model, Func<Tensor[], Tensor> Eager, Func<Tensor[], Tensor> Compiled, GraphExplanation Explanation, Func<int, int, int[][]> Shapes) Build(string name)
    {
        switch (name)
        {
            case "decoder-in-head":
            {
                var m = new DecoderInsideHead();
                var c = m.Compile();
                return (m, a => m.Forward(a[0], a[1]), a => c.Forward(a[0], a[1]), c.Explanation, (n, t) => [[n, t, 8], [n, t + 2, 8]]);
            }
            case "decoder-layer-in-norm":
            {
                var m = new DecoderLayerInsideNorm();
                var c = m.Compile();
                return (m, a => m.Forward(a[0], a[1]), a => c.Forward(a[0], a[1]), c.Explanation, (n, t) => [[n, t, 8], [n, 3, 8]]);
            }
            case "declared-batch-second":
            {
                var m = new BatchSecondDeclaredInput();
                var c = m.Compile();
                return (m, a => m.Forward(a[0]), a => c.Forward(a[0]), c.Explanation, (n, t) => [[t, n, 8]]);
            }
            default:
            {
                var m = new BatchSecondStackThenLayer();
                var c = m.Compile();
                return (m, a => m.Forward(a[0]), a => c.Forward(a[0]), c.Explanation, (n, t) => [[n, t, 8]]);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void CompilesWholeAndEqualsEager(string name, int batch)
    {
        Rng.ManualSeed(1331);
        var (model, eager, compiled, explanation, shapes) = Build(name);
        Assert.True(explanation.IsFullyCompiled, explanation.ToString());
        foreach (int t in new[] { 5, 9, 5 })
        {
            Compare(model, eager, compiled, shapes(batch, t), seed: 1332 + t);
        }
    }

    /// <summary>
    /// One model for both modes: eager's output and gradients (inputs, every parameter; copies, cleared before the compiled run)
    /// against the compiled program's, under the same output gradient.
    /// </summary>
    internal static void Compare(Module model, Func<Tensor[], Tensor> eager, Func<Tensor[], Tensor> compiled, int[][] shapes, int seed)
    {
        var rng = new Rng(seed);
        var inputs = shapes.Select(s => Tensor.Randn(s, rng: rng)).ToArray();
        var parameters = model.Parameters().ToList();
        Assert.NotEmpty(parameters);
        Tensor[] Fresh() => inputs.Select(x => x.Detach().Clone().RequiresGrad_()).ToArray();

        foreach (var p in parameters) p.Grad = null;
        var xe = Fresh();
        var ye = eager(xe);
        var seedGrad = Tensor.Randn(ye.Shape, rng: rng);
        ye.Backward(seedGrad);
        var eagerGrads = parameters.Select(p => p.Grad!.Detach().Clone()).ToList();
        foreach (var p in parameters) p.Grad = null;
        var xc = Fresh();
        var yc = compiled(xc);
        yc.Backward(seedGrad);

        TensorAssert.Close(ye.Detach(), yc.Detach(), 1e-4, 1e-5, "output");
        for (int k = 0; k < inputs.Length; k++) TensorAssert.Close(xe[k].Grad!, xc[k].Grad!, 1e-4, 1e-5, $"gradient of input {k}");
        for (int i = 0; i < parameters.Count; i++) TensorAssert.Close(eagerGrads[i], parameters[i].Grad!, 1e-4, 1e-5, $"gradient of parameter {i}");
    }
}
