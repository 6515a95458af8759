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

            public CharNet(int vocabulary, int embedding, int hidden, int layers)
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

    [Fact]
    public void DropoutBetweenConstructorSizedLayersIsANamedBreak()
    {
        // The count may be more than 1, so the dropout between the layers (not compiled) is a break that names it.
        var (result, _) = GeneratorHarness.Run(Net("new LSTM(embedding, hidden, numLayers: layers, batchFirst: true, dropout: 0.2)"));
        var d = Assert.Single(result.Diagnostics);
        Assert.Equal("SG1019", d.Id);
        Assert.Contains("a recurrent layer with dropout between its layers", d.GetMessage());
    }
}
