using SharpGrad.Generator.Tests.Support;

namespace SharpGrad.Generator.Tests.Compiler;

/// <summary>
/// A recurrent layer whose num_layers comes from the constructor (issue 13, session 11): no graph break (SG1019); the
/// program binds the count in <c>Compile()</c> and differentiates the layer's parameters as one group read when the module
/// is built (<c>CompiledParameterGroup</c>), spread into the tape's inputs.
/// </summary>
public class RecurrentLayerCountTests
{
    private static string Net(string layer, string forward = "head.Forward(lstm.Forward(embed.Forward(tokens)).Output)") => $$"""
        using SharpGrad;
        using SharpGrad.Layers;

        namespace Demo.Compiled;

        [Module]
        public sealed partial class CharNet
        {
            private readonly Embedding embed;
            private readonly LSTM lstm;
            private readonly Linear head;

            public CharNet(int vocabulary, int embedding, int hidden, int layers, double dropout)
            {
                embed = new Embedding(vocabulary, embedding);
                lstm = {{layer}};
                head = new Linear(hidden, vocabulary);
            }

            public Tensor Forward([Shape("N", "T")] Tensor tokens) => {{forward}};
        }
        """;

    [Fact]
    public void ConstructorSizedNumLayersCompilesWithNoBreak()
    {
        var (result, output) = GeneratorHarness.Run(Net("new LSTM(embedding, hidden, numLayers: layers, batchFirst: true)"));
        Assert.Empty(result.Diagnostics);   // no SG1019
        var text = result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.CharNet.Compiled.g.cs").SourceText.ToString();
        Assert.Contains("_sym_layers = global::SharpGrad.CompiledSupport.BindSize(", text);
        Assert.Contains("NumLayers: _sym_layers", text);
        Assert.Contains("_lstm_params = new(_lstm.AllWeights);", text);
        Assert.Contains(".. _lstm_params.Parameters", text);
        Assert.Contains("_lstm_params.Grads", text);
        Assert.DoesNotContain("AllWeights[", text);   // no parameter enumerated at build time
        Assert.DoesNotContain("=> _m.Forward(tokens)", text);   // not an eager stand-in
        Snapshot.Verify("Compiler.Demo.Compiled.CharNet.Compiled", text);
        Assert.Empty(GeneratorHarness.Problems(output));
    }

    [Fact]
    public void AConstantNumLayersTakesTheSameGroupPath()
    {
        // One mechanism: a constant count is the geometry's constant, the parameters the same group.
        var (result, output) = GeneratorHarness.Run(Net("new LSTM(embedding, hidden, numLayers: 2, batchFirst: true)"));
        Assert.Empty(result.Diagnostics);
        var text = result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.CharNet.Compiled.g.cs").SourceText.ToString();
        Assert.Contains("NumLayers: 2", text);
        Assert.Contains("_lstm_params = new(_lstm.AllWeights);", text);
        Assert.DoesNotContain("AllWeights[", text);
        Assert.Empty(GeneratorHarness.Problems(output));
    }

    /// <summary>
    /// Dropout between the layers (session 12; it was a named break, SG1019 "a recurrent layer with dropout between its layers"):
    /// a constant or the constructor's <c>dropout</c>, with a constant or constructor-sized layer count, compiles whole — the
    /// support call reads p and the mode from the layer at each call. Compiled equals eager: SharpGrad.Tests'
    /// CompiledRecurrentDropoutTests.
    /// </summary>
    [Theory]
    [InlineData("new LSTM(embedding, hidden, numLayers: layers, batchFirst: true, dropout: 0.2)")]
    [InlineData("new LSTM(embedding, hidden, numLayers: 2, batchFirst: true, dropout: 0.5)")]
    [InlineData("new LSTM(embedding, hidden, numLayers: layers, batchFirst: true, dropout: dropout)")]
    [InlineData("new LSTM(embedding, hidden, layers, true, true, dropout)")]
    public void DropoutBetweenTheLayersCompilesWithNoBreak(string layer)
    {
        var (result, output) = GeneratorHarness.Run(Net(layer));
        Assert.True(result.Diagnostics.IsEmpty, layer + ":\n" + GeneratorHarness.Format(result.Diagnostics));   // no SG1019
        var text = result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.CharNet.Compiled.g.cs").SourceText.ToString();
        Assert.Contains("global::SharpGrad.CompiledSupport.RecurrentForward(", text);
        Assert.Contains("_lstm, embed_out, lstm_out, n, ", text);
        Assert.Contains("global::SharpGrad.CompiledSupport.RecurrentBackward(", text);
        Assert.DoesNotContain("=> _m.Forward(tokens)", text);   // not an eager stand-in
        Assert.DoesNotContain("new(\"Forward\"", text);        // no break listed
        Assert.Empty(GeneratorHarness.Problems(output));
    }
}
