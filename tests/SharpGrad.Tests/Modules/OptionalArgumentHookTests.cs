using SharpGrad;
using SharpGrad.Layers;

namespace SharpGrad.Tests.Modules;

/// <summary>
/// <c>child.Forward(x)</c> that leaves a layer's optional parameters to their defaults (the encoder layer's masks, a cell's
/// hidden state) runs the child's hooks like PyTorch's <c>child(x)</c>: the generator intercepts it too. Before session 26
/// only calls that passed every parameter were intercepted, so these hooks never ran in eager mode.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("SharpGrad.Autograd", "SG2008", Justification = "The tests check hooks with recording on, as in training.")]
public class OptionalArgumentHookTests
{
    /// <summary>An eager model (no [Module]: nothing is compiled) whose Forward calls its children without their optional arguments.</summary>
    private sealed class EagerNet(Rng rng) : Module
    {
        public TransformerEncoderLayer Encoder { get; } = new(8, 2, 16, 0.0, batchFirst: true, rng: rng);
        public GRUCell Cell { get; } = new(8, 8, rng: rng);

        public Tensor Forward(Tensor x) => Cell.Forward(Encoder.Forward(x).Reshape(-1, 8));

        public override IEnumerable<(string Name, Module Module)> NamedChildren() => [("encoder", Encoder), ("cell", Cell)];

        protected override Tensor ForwardDynamic(Tensor[] inputs) => Forward(inputs[0]);
    }

    [Fact]
    public void TheEncoderLayersAndTheCellsHooksRunWhenTheirOptionalArgumentsAreLeftOut()
    {
        var rng = new Rng(7);
        var net = new EagerNet(rng);
        var x = Tensor.Randn([2, 3, 8], rng: rng);
        Tensor? encoderOut = null, cellIn = null;
        int encoderBackward = 0;
        using var h1 = net.Encoder.RegisterForwardHook((m, xs, y) => { Assert.Same(x, xs[0]); encoderOut = y; });
        using var h2 = net.Cell.RegisterForwardPreHook((m, xs) => { cellIn = xs[0]; });
        using var h3 = net.Encoder.RegisterFullBackwardHook((m, gi, go) => { encoderBackward++; });

        var y = net.Forward(x);
        Assert.NotNull(encoderOut);
        Assert.NotNull(cellIn);
        Assert.Equal(new[] { 2, 3, 8 }, encoderOut!.Shape);
        Assert.Equal(encoderOut.Reshape(-1, 8).ToArray(), cellIn!.ToArray());

        y.Sum().Backward();
        Assert.Equal(1, encoderBackward);
    }

    [Fact]
    public void AForwardHookThatReplacesTheOutputChangesWhatTheCallerGets()
    {
        var rng = new Rng(7);
        var net = new EagerNet(rng);
        var x = Tensor.Randn([2, 3, 8], rng: rng);
        var plain = net.Forward(x).ToArray();
        using var h = net.Encoder.RegisterForwardHook((m, xs, y) => Tensor.ZerosLike(y));
        var hooked = net.Forward(x).ToArray();
        // The cell sees zeros from the encoder, as if h = GRUCell(0): a different result from the plain call.
        var fromZeros = net.Cell.Forward(Tensor.Zeros(6, 8)).ToArray();
        Assert.NotEqual(plain, hooked);
        Assert.Equal(fromZeros, hooked);
    }
}
