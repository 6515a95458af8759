using SharpGrad.Layers;

namespace SharpGrad.Tests.Compiler;

/// <summary>F.pad with a mode (no compiled rule): the region before and after it compiles, the pad is a named break.</summary>
[Module]
public sealed partial class ReflectPadNet
{
    private readonly Linear fc = new(6, 4);

    public Tensor Forward([Shape("N", 3, 4)] Tensor x) => fc.Forward(Functional.Pad(Functional.Tanh(x), [1, 1], mode: "reflect"));
}

/// <summary>
/// What pytorch-guide.md ("Resampling, padding, normalisation and pooling layers") says runs eagerly in a compiled model:
/// <c>Functional.Pad</c> is a named graph break, and the program still equals eager (output, input and parameter gradients).
/// The layers that compile are checked in CompiledPrimitiveLayerTests.
/// </summary>
public class CompiledEagerPrimitiveTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void FunctionalPadIsANamedBreakAndEqualsEager(int batch)
    {
        Rng.ManualSeed(1321);
        var model = new ReflectPadNet();
        var compiled = model.Compile();
        var b = Assert.Single(compiled.Explanation.Breaks);
        Assert.Contains("Pad", b.Construct, StringComparison.Ordinal);
        CompiledLayerTests.Compare(model, model, model.Forward, compiled.Forward, [batch, 3, 4], seed: 1322);
    }
}
