using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Compiler;

/// <summary>
/// Statements linearized in evaluation order (GraphParser.Linearize/HoistInOrder, session 14; models in
/// CompiledInOrderHoistModels.cs): compiled equals eager — output, every input gradient, every parameter gradient, and how far
/// the default generator was drawn — in training with dropout (eager and compiled reseeded alike: the same masks only when every
/// random draw happens in the order written, which is what this checks) and in evaluation, at batch 1 and 3.
/// </summary>
[Collection(GlobalRngCollection.Name)]
public class CompiledInOrderHoistTests
{
    public static TheoryData<int, bool> Cases() => new() { { 1, true }, { 3, true }, { 1, false }, { 3, false } };

    [Theory]
    [MemberData(nameof(Cases))]
    public void ADecoderAfterADroppedOperandMatchesEager(int batch, bool training)
    {
        Rng.ManualSeed(1401);
        var model = new DecoderAfterADroppedOperand();
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Assert.Contains(compiled.Explanation.Regions, r => r.Contains(": decoder: ", StringComparison.Ordinal));
        foreach (int t in new[] { 5, 3 })
        {
            Compare(model, i => model.Forward(i[0], i[1]), i => compiled.Forward(i[0], i[1]), [[batch, t, 8], [batch, 4, 8]], training, seed: 1402 + t);
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void OperandsAroundABreakMatchEager(int batch, bool training)
    {
        Rng.ManualSeed(1411);
        var model = new OperandsAroundABreak();
        var compiled = model.Compile();
        var b = Assert.Single(compiled.Explanation.Breaks);
        Assert.Contains("Noisy", b.Construct, StringComparison.Ordinal);
        // fc1's and fc2's operands are regions of their own, before and after the break.
        Assert.Equal(2, compiled.Explanation.Regions.Count);
        Compare(model, i => model.Forward(i[0]), i => compiled.Forward(i[0]), [[batch, 6]], training, seed: 1412);
    }

    /// <summary>
    /// Runs eager and compiled with the default generator reseeded alike, backward with the same output gradient; compares the
    /// outputs, the inputs' and every parameter's gradients, and the next number the generator gives (as many numbers drawn). In
    /// training the masks must drop (the output differs from evaluation's).
    /// </summary>
    internal static void Compare(Module model, Func<Tensor[], Tensor> eager, Func<Tensor[], Tensor> compiled, int[][] shapes, bool training, int seed)
    {
        var rng = new Rng(seed);
        var inputs = shapes.Select(s => Tensor.Randn(s, rng: rng)).ToArray();
        (Tensor Out, Tensor[] InputGrads, Tensor?[] Grads, float Next) Run(Func<Tensor[], Tensor> forward)
        {
            if (training) model.Train();
            else model.Eval();
            foreach (var p in model.Parameters()) p.Grad = null;
            var fresh = inputs.Select(i => i.Detach().Clone().RequiresGrad_()).ToArray();
            Rng.ManualSeed(seed + 1);
            var y = forward(fresh);
            float next = Rng.Default.NextFloat();
            y.Backward(Tensor.Randn(y.Shape, rng: new Rng(seed + 2)));
            return (y.Detach(), fresh.Select(f => f.Grad!).ToArray(), model.Parameters().Select(p => p.Grad?.Detach().Clone()).ToArray(), next);
        }
        var e = Run(eager);
        var c = Run(compiled);
        TensorAssert.Close(e.Out, c.Out, 1e-4, 1e-5, "output");
        for (int k = 0; k < inputs.Length; k++) TensorAssert.Close(e.InputGrads[k], c.InputGrads[k], 1e-4, 1e-5, $"gradient of input {k}");
        Assert.Equal(e.Grads.Length, c.Grads.Length);
        for (int k = 0; k < e.Grads.Length; k++)
        {
            Assert.Equal(e.Grads[k] is null, c.Grads[k] is null);
            if (e.Grads[k] is { } g) TensorAssert.Close(g, c.Grads[k]!, 1e-4, 1e-5, $"gradient of parameter {k}");
        }
        Assert.Equal(e.Next, c.Next);
        if (training)
        {
            model.Eval();
            var evaluated = eager(inputs.Select(i => i.Detach()).ToArray()).Detach();
            float differs = (evaluated - e.Out).Abs().Max().Item();
            Assert.True(differs > 1e-3f, "training's output equals evaluation's: the masks dropped nothing");
        }
    }
}
