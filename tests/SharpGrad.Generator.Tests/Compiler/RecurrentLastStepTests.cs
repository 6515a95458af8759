using SharpGrad.Generator.Tests.Support;

namespace SharpGrad.Generator.Tests.Compiler;

/// <summary>
/// A one-layer, one-direction LSTM whose output the program reads only at its last step (session 20,
/// <c>RecurrentRule.MarkLastStep</c>): its forward and backward support calls pass <c>lastStepOnly: true</c>; every other use
/// of the output, more layers, both directions, a GRU or an RNN keep the whole output (no flag). Compiled equals eager:
/// SharpGrad.Tests' CompiledRecurrentLastStepTests; the kernels' bits: RecurrentLastStepTests.
/// </summary>
public class RecurrentLastStepTests
{
    private static string Net(string layer, string forward, string shape = "[Shape(\"N\", 9, 4)]") => $$"""
        using SharpGrad;
        using SharpGrad.Layers;

        namespace Demo.Compiled;

        [Module]
        public sealed partial class LastNet
        {
            private readonly {{layer.Split(' ')[1].Split('(')[0]}} rnn = {{layer}};
            private readonly Linear head = new(16, 3);

            public Tensor Forward({{shape}} Tensor x)
            {
                var y = rnn.Forward(x).Output;
                return {{forward}};
            }
        }
        """;

    private static string Generated(string source)
    {
        var (result, output) = GeneratorHarness.Run(source);
        Assert.True(result.Diagnostics.IsEmpty, GeneratorHarness.Format(result.Diagnostics));
        Assert.Empty(GeneratorHarness.Problems(output));
        return result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.LastNet.Compiled.g.cs").SourceText.ToString();
    }

    private static int Count(string text, string what) => (text.Length - text.Replace(what, "", StringComparison.Ordinal).Length) / what.Length;

    [Theory]
    [InlineData("new LSTM(4, 16, batchFirst: true)", "head.Forward(y.Select(1, 8))", "[Shape(\"N\", 9, 4)]")]
    [InlineData("new LSTM(4, 16, batchFirst: true)", "head.Forward(y.Select(1, -1))", "[Shape(\"N\", 9, 4)]")]
    [InlineData("new LSTM(4, 16, batchFirst: true)", "head.Forward(y.Select(1, -1))", "[Shape(\"N\", \"T\", 4)]")]
    [InlineData("new LSTM(4, 16)", "head.Forward(y.Select(0, -1))", "[Shape(\"T\", \"N\", 4)]")]
    public void TheLastStepAloneIsPassedAsLastStepOnly(string layer, string forward, string shape)
    {
        var text = Generated(Net(layer, forward, shape));
        Assert.Equal(2, Count(text, "lastStepOnly: true"));   // the forward's call and the backward's
    }

    [Theory]
    [InlineData("new LSTM(4, 16, batchFirst: true)", "head.Forward(y.Select(1, 7))")]                               // not the last step
    [InlineData("new LSTM(4, 16, batchFirst: true)", "head.Forward(y.Select(1, -1) + y.Select(1, 0))")]             // another step too
    [InlineData("new LSTM(4, 16, batchFirst: true)", "head.Forward(y.Mean(1))")]                                    // every step
    [InlineData("new LSTM(4, 16, batchFirst: true)", "head.Forward(y.Narrow(1, 7, 2).Sum(1))")]                      // two steps
    [InlineData("new LSTM(4, 8, batchFirst: true, bidirectional: true)", "head.Forward(y.Select(1, -1))")]
    [InlineData("new LSTM(4, 16, numLayers: 2, batchFirst: true)", "head.Forward(y.Select(1, -1))")]
    [InlineData("new GRU(4, 16, batchFirst: true)", "head.Forward(y.Select(1, -1))")]
    [InlineData("new RNN(4, 16, batchFirst: true)", "head.Forward(y.Select(1, -1))")]
    public void AnyOtherUseKeepsTheWholeOutput(string layer, string forward)
    {
        var text = Generated(Net(layer, forward));
        Assert.Contains("RecurrentForward(", text);
        Assert.DoesNotContain("lastStepOnly", text);
    }
}
