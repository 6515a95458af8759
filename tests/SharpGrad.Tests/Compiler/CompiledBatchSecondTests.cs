using SharpGrad.Tests.Docs;

namespace SharpGrad.Tests.Compiler;

/// <summary>
/// Layers built with <c>batch_first=False</c> inside a generated program (issue 13): a TransformerEncoderLayer, MultiheadAttention
/// (self-attention, key ≠ value with kdim/vdim, key = value ≠ query) and LSTM/GRU
/// taking [T, N, E] values (the batch in dim 1) from a <c>Transpose(0, 1)</c>/<c>Permute</c> of the
/// batch-first input and giving them back. Each model compiles with no graph break, and compiled equals eager (output,
/// input gradient, every parameter gradient) at batch 1, 3 and 64 and two sequence lengths (CompiledBatchSecondModels.cs).
/// </summary>
public class CompiledBatchSecondTests
{
    public static TheoryData<string, int> Cases()
    {
        var data = new TheoryData<string, int>();
        foreach (var model in new[] { "encoder", "prenorm", "lstm", "gru", "self-attention", "cross-attention" })
        {
            foreach (int batch in new[] { 1, 3, 64 }) data.Add(model, batch);
        }
        return data;
    }

    private static (Module Model, Func<Tensor, Tensor> Eager, Func<Tensor, Tensor> Compiled, GraphExplanation Explanation, int Width) Build(string name)
    {
        switch (name)
        {
            case "encoder":
            {
                var m = new BatchSecondEncoderLayer();
                var c = m.Compile();
                return (m, m.Forward, c.Forward, c.Explanation, 6);
            }
            case "prenorm":
            {
                var m = new BatchSecondPreNormEncoder();
                var c = m.Compile();
                return (m, m.Forward, c.Forward, c.Explanation, 8);
            }
            case "lstm":
            {
                var m = new BatchSecondLstm();
                var c = m.Compile();
                return (m, m.Forward, c.Forward, c.Explanation, 5);
            }
            case "self-attention":
            {
                var m = new BatchSecondSelfAttention();
                var c = m.Compile();
                return (m, m.Forward, c.Forward, c.Explanation, 8);
            }
            case "cross-attention":
            {
                var m = new BatchSecondCrossAttention();
                var c = m.Compile();
                return (m, m.Forward, c.Forward, c.Explanation, 6);
            }
            default:
            {
                var m = new BatchSecondGruPair();
                var c = m.Compile();
                return (m, m.Forward, c.Forward, c.Explanation, 4);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void BatchSecondLayersCompileWholeAndEqualEager(string name, int batch)
    {
        Rng.ManualSeed(1301);
        var (model, eager, compiled, explanation, width) = Build(name);
        Assert.True(explanation.IsFullyCompiled, explanation.ToString());
        foreach (int t in new[] { 5, 9, 5 })
        {
            CompiledLayerTests.Compare(model, model, eager, compiled, [batch, t, width], seed: 1302 + t);
        }
    }

    // An input declared batch second ([Shape("T", "N", 8)], BatchSecondDeclaredInput) compiles since session 11: CompiledRegionBoundaryTests.
}
