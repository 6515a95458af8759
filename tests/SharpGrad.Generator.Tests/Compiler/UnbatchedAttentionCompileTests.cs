using Microsoft.CodeAnalysis;
using SharpGrad.Generator.Tests.Support;

namespace SharpGrad.Generator.Tests.Compiler;

/// <summary>
/// PyTorch's unbatched MultiheadAttention call (query [L, E], key and value [S, ·]; masks [S] and [L, S] or [heads, L, S]; weights
/// [L, S] or [heads, L, S], also [T, T] of a self-attention; S a symbol of its own) and unbatched RNN/LSTM/GRU call compile with no graph break (SG1019): the query's rows are the program's batch, and the support calls
/// run them as one sequence (<c>unbatched: true</c>). CompiledUnbatchedAttentionTests runs such programs against eager.
/// </summary>
public class UnbatchedAttentionCompileTests
{
    private static string Module(string forward) => """
        using SharpGrad;
        using SharpGrad.Layers;

        namespace Demo.Compiled;

        [Module]
        public sealed partial class U
        {
            private readonly MultiheadAttention attn = new(16, 2);
            private readonly MultiheadAttention cross = new(16, 4, batchFirst: true);
            private readonly MultiheadAttention kdim = new(16, 2, bias: false, kdim: 5, vdim: 7);

            FORWARD
        }
        """.Replace("FORWARD", forward, StringComparison.Ordinal);

    public static TheoryData<string, string> Compiled => new()
    {
        { "self-attention", """public Tensor Forward([Shape("T", 16)] Tensor x) => attn.Forward(x, x, x).Output * 2f;""" },
        {
            "masks named around needWeights",
            """public Tensor Forward([Shape("T", 16)] Tensor x, [Shape("T")] Tensor padding, [Shape("T", "T")] Tensor causal, [Shape(2, "T", "T")] Tensor bias) { var h = cross.Forward(x, x, x, keyPaddingMask: padding, attnMask: causal, needWeights: false).Output + x; return attn.Forward(h, h, h, attnMask: bias, needWeights: false).Output; }"""
        },
        { "averaged weights over a fixed memory", """public Tensor Forward([Shape("T", 16)] Tensor x, [Shape(6, 16)] Tensor m) { var (y, w) = cross.Forward(x, m, m); return y + w!.MatMul(m); }""" },
        { "per-head weights, kdim/vdim", """public Tensor Forward([Shape("T", 16)] Tensor x, [Shape(6, 5)] Tensor k, [Shape(6, 7)] Tensor v) => kdim.Forward(x, k, v, averageAttnWeights: false).Weights!;""" },
        { "key and value of the query's rows", """public Tensor Forward([Shape("T", 16)] Tensor x, [Shape("T", 16)] Tensor k, [Shape("T", 16)] Tensor v) => attn.Forward(x, k, v).Output;""" },
        // Session 13: the weights of a self-attention, [T, T] and [heads, T, T] (the second T read from the query at each call).
        { "self-attention weights [T, T]", """public Tensor Forward([Shape("T", 16)] Tensor x) { var (_, w) = attn.Forward(x, x, x); return w! * 2f; }""" },
        { "self-attention weights per head [heads, T, T]", """public Tensor Forward([Shape("T", 16)] Tensor x) => attn.Forward(x, x, x, averageAttnWeights: false).Weights!;""" },
        // Session 13: a key/value whose length S is a symbol of its own (read from the key at each call), masks [S] and [T, S].
        {
            "memory of its own length S",
            """public Tensor Forward([Shape("T", 16)] Tensor x, [Shape("S", 16)] Tensor m, [Shape("S")] Tensor padding, [Shape("T", "S")] Tensor mask) => cross.Forward(x, m, m, keyPaddingMask: padding, attnMask: mask, needWeights: false).Output;"""
        },
        { "key and value of their own length S, weights [heads, T, S]", """public Tensor Forward([Shape("T", 16)] Tensor x, [Shape("S", 5)] Tensor k, [Shape("S", 7)] Tensor v) => kdim.Forward(x, k, v, averageAttnWeights: false).Weights!;""" },
        // Session 13: unbatched recurrent layers ([T, H_in], states [L·D, H]) followed by other ops.
        { "LSTM into a Linear", "private readonly LSTM lstm = new(16, 8, numLayers: 2, bidirectional: true);\nprivate readonly Linear fc = new(16, 3);\n" + """public Tensor Forward([Shape("T", 16)] Tensor x, [Shape(4, 8)] Tensor h0, [Shape(4, 8)] Tensor c0) => fc.Forward(lstm.Forward(x, (h0, c0)).Output);""" },
        { "GRU's final state", "private readonly GRU gru = new(16, 8);\n" + """public Tensor Forward([Shape("T", 16)] Tensor x) { var (_, h) = gru.Forward(x); return h; }""" },
        // Session 14: the last step of an unbatched output (a row of the program's batch, no batch: [D·H]) and ops on the states [L·D, H].
        { "LSTM's last step into a Linear", "private readonly LSTM lstm = new(16, 8, numLayers: 2, bidirectional: true);\nprivate readonly Linear fc = new(16, 3);\n" + """public Tensor Forward([Shape("T", 16)] Tensor x) { var (y, _) = lstm.Forward(x); return Functional.Relu(fc.Forward(y.Select(0, -1))); }""" },
        { "GRU's first step into a Linear", "private readonly GRU gru = new(16, 8);\nprivate readonly Linear fc = new(8, 3);\n" + """public Tensor Forward([Shape("T", 16)] Tensor x) => fc.Forward(gru.Forward(x).Output.Select(0, 0)).Tanh();""" },
        { "states' last rows joined into a Linear", "private readonly LSTM lstm = new(16, 8, bidirectional: true);\nprivate readonly Linear fc = new(16, 3);\n" + """public Tensor Forward([Shape("T", 16)] Tensor x) { var (_, (h, _)) = lstm.Forward(x); return fc.Forward(Tensor.Cat([h.Select(0, -2), h.Select(0, -1)], 0)); }""" },
        { "a sum of the states, a Linear of each state", "private readonly GRU gru = new(16, 8, numLayers: 2);\nprivate readonly Linear fc = new(8, 3);\n" + """public Tensor Forward([Shape("T", 16)] Tensor x) { var (_, h) = gru.Forward(x); return fc.Forward(h).Sum(0) + fc.Forward(h.Sum(0)); }""" },
        // Session 13 (integration): an unbatched Transformer encoder layer ([T, E], batch_first ignored) between other ops, with its masks.
        { "encoder layer between Linears", "private readonly Linear proj = new(8, 16);\nprivate readonly TransformerEncoderLayer enc = new(16, 2, 32, dropout: 0.1);\nprivate readonly Linear head = new(16, 3);\n" + """public Tensor Forward([Shape("T", 8)] Tensor x) => head.Forward(enc.Forward(proj.Forward(x)));""" },
        { "pre-norm encoder layer with its masks, then LayerNorm", "private readonly TransformerEncoderLayer enc = new(16, 2, 32, normFirst: true, batchFirst: true);\nprivate readonly LayerNorm norm = new(16);\n" + """public Tensor Forward([Shape("T", 16)] Tensor x, [Shape("T", "T")] Tensor causal, [Shape("T")] Tensor padding) => norm.Forward(enc.Forward(x, srcMask: causal, srcKeyPaddingMask: padding) + x);""" },
    };

    [Theory]
    [MemberData(nameof(Compiled))]
    public void UnbatchedCallsCompileWithNoGraphBreak(string what, string forward)
    {
        var (result, output) = GeneratorHarness.Run(Module(forward));
        Assert.True(result.Diagnostics.IsEmpty, what + ": " + string.Join("\n", result.Diagnostics));
        var program = result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.U.Compiled.g.cs").SourceText.ToString();
        Assert.Contains("\"Forward: the whole method\"", program);
        Assert.Contains("unbatched: true", program);
        Assert.DoesNotContain(GeneratorHarness.Problems(output), p => p.Severity == DiagnosticSeverity.Error);
    }

    /// <summary>
    /// The weights of an unbatched self-attention [T, T] used by an op that has no rule for a size read at each call in its contracted
    /// dim (<c>w.MatMul(x)</c>, [T, T]·[T, 16]): a break naming the op, never a silent program.
    /// </summary>
    [Fact]
    public void SelfAttentionWeightsIntoAMatMulAreANamedBreak()
    {
        var (result, _) = GeneratorHarness.Run(Module("""public Tensor Forward([Shape("T", 16)] Tensor x) { var (y, w) = attn.Forward(x, x, x); return y + w!.MatMul(x); }"""));
        var d = Assert.Single(result.Diagnostics);
        Assert.Equal("SG1019", d.Id);
        Assert.Contains("MatMul", d.GetMessage(), StringComparison.Ordinal);
    }

    /// <summary>
    /// A loss inside the module of a value without the batch (an unbatched GRU's last step through a Linear): a break in session 14,
    /// compiled since session 15 (LossPlan takes it against a target of its shape; equality with eager: CompiledUnbatchedLossTests).
    /// </summary>
    [Fact]
    public void ALossOfTheLastStepInsideTheModuleCompiles()
    {
        var (result, _) = GeneratorHarness.Run(Module("private readonly GRU gru = new(16, 8);\nprivate readonly Linear fc = new(8, 3);\n"
            + """public Tensor Forward([Shape("T", 16)] Tensor x, [Shape(3)] Tensor target) => Losses.Mse(fc.Forward(gru.Forward(x).Output.Select(0, -1)), target);"""));
        Assert.Empty(result.Diagnostics);
        Assert.Contains(result.GeneratedSources, s => s.SourceText.ToString().Contains("ElementwiseLoss.Forward", StringComparison.Ordinal));
    }

    /// <summary>A batched call with its masks named around <c>needWeights</c>: the masks are read as data by name, not by position (no break).</summary>
    [Fact]
    public void BatchedMasksNamedAroundNeedWeightsAreData()
    {
        var (result, _) = GeneratorHarness.Run(Module(
            """public Tensor Forward([Shape("N", "T", 16)] Tensor x, [Shape("N", "T")] Tensor padding, [Shape("T", "T")] Tensor causal) => cross.Forward(x, x, x, keyPaddingMask: padding, attnMask: causal, needWeights: false).Output;"""));
        Assert.True(result.Diagnostics.IsEmpty, string.Join("\n", result.Diagnostics));
    }
}
