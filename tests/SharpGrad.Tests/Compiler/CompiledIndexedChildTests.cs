using SharpGrad.Layers;

namespace SharpGrad.Tests.Compiler;

/// <summary>Items of an array field of layers called by index (<c>layers[0].Forward(x)</c>, <c>layers[^1]</c>).</summary>
[Module]
public sealed partial class IndexedArrayNet
{
    private readonly Linear[] layers = [new(6, 8), new(8, 8), new(8, 4)];

    public Tensor Forward([Shape("N", 6)] Tensor x)
    {
        var h = Functional.Relu(layers[0].Forward(x));
        h = Functional.Tanh(layers[1].Forward(h)) + h;
        return layers[^1].Forward(h);
    }
}

/// <summary>The same with a ModuleList of layers.</summary>
[Module]
public sealed partial class IndexedListNet
{
    private readonly ModuleList<Linear> layers = new(new Linear(6, 8), new Linear(8, 8), new Linear(8, 4));

    public Tensor Forward([Shape("N", 6)] Tensor x)
    {
        var h = Functional.Relu(layers[0].Forward(x));
        h = Functional.Tanh(layers[1].Forward(h)) + h;
        return layers[^1].Forward(h);
    }
}

/// <summary>
/// A child called as an item of an array or a ModuleList by a constant index (GraphParser's one receiver lookup, ReceiverChild,
/// session 15; the array item's receiver has no symbol, and Invocation's own copy of the lookup missed it): compiled, no break,
/// equal to eager (output, input and parameter gradients).
/// </summary>
public class CompiledIndexedChildTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void AnItemOfAnArrayOfLayersCompiles(int batch)
    {
        Rng.ManualSeed(1541);
        var model = new IndexedArrayNet();
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        CompiledLayerTests.Compare(model, model, model.Forward, compiled.Forward, [batch, 6], seed: 1542);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void AnItemOfAModuleListCompiles(int batch)
    {
        Rng.ManualSeed(1551);
        var model = new IndexedListNet();
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        CompiledLayerTests.Compare(model, model, model.Forward, compiled.Forward, [batch, 6], seed: 1552);
    }
}
