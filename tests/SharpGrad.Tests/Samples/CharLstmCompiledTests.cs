using SharpGrad.Samples.CharLM;
using SharpGrad.Tests.Compiler;

namespace SharpGrad.Tests.Samples;

/// <summary>
/// samples/CharLM's <see cref="CharLstm"/> compiled whole (session 11): its LSTM's num_layers, embedding and hidden sizes come
/// from the constructor, and one generated program gives eager's logits and every parameter's gradient for 1, 2 and 3
/// layers at batch 1, 3 and 64 and two sequence lengths.
/// </summary>
public class CharLstmCompiledTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(1, 64)]
    [InlineData(2, 3)]
    [InlineData(3, 1)]
    [InlineData(3, 3)]
    [InlineData(3, 64)]
    public void CharLstmCompilesWholeAndEqualsEager(int layers, int batch)
    {
        var model = new CharLstm(20, 6 + layers, 8 + 2 * layers, layers, new Rng(17));
        var (compiled, explanation) = model.CompileForward();
        Assert.True(explanation.IsFullyCompiled, explanation.ToString());
        foreach (int t in new[] { 5, 11 })
        {
            var tokens = Tensor.RandInt(0, 20, [batch, t], new Rng(18 + t));
            CompiledLengthReadTests.CompareTokens(model, model.Forward, compiled, tokens, seed: 19 + t);
        }
    }
}
