using SharpGrad.Kernels;
using SharpGrad.Layers;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Nn;

/// <summary>
/// A compiled recurrent stack whose input is an Embedding's lookup (<c>CompiledSupport.RecurrentBackward</c>'s
/// <c>embedding</c>): layer 0's projection gradient summed per distinct token, W_ih's gradient and the table's from the
/// distinct tokens. Against the per-position path (the stack's input gradient, then the embedding's scatter) and a naive
/// double reference; every other gradient bit for bit; the same bits at 1 and 2 threads; overwriting fresh gradients equals
/// adding into zeros. Odd sizes, repeated and unrepeated tokens, padding_idx, batch first and second, LSTM/GRU/RNN, two
/// layers and two directions.
/// </summary>
[Collection(ThreadCountCollection.Name)]
public class EmbeddedRecurrentTests
{
    public static TheoryData<string, bool, bool, int, bool, int?> Cases => new()
    {
        // mode, batchFirst, bidirectional, layers, repeated tokens, padding_idx
        { "Lstm", true, false, 1, true, 2 },
        { "Lstm", true, false, 1, false, null },
        { "Lstm", false, false, 1, true, 0 },
        { "Lstm", true, true, 2, true, 3 },
        { "Lstm", false, true, 1, false, 5 },
        { "Gru", true, false, 1, true, 1 },
        { "Gru", false, true, 2, true, null },
        { "RnnTanh", true, false, 2, true, 4 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesThePerPositionPathAndANaiveReference(string mode, bool batchFirst, bool bidirectional, int layers, bool repeated, int? padding)
    {
        const int n = 5, t = 7, inF = 9, hidden = 11;
        int rows = n * t, vocab = repeated ? 13 : rows + 4;
        var rng = new Rng(4401 + (repeated ? 1 : 0) + layers * 7 + (bidirectional ? 3 : 0) + (batchFirst ? 11 : 0));
        var emb = new Embedding(vocab, inF, paddingIdx: padding, rng: rng);
        RNNBase module = mode switch
        {
            "Lstm" => new LSTM(inF, hidden, numLayers: layers, batchFirst: batchFirst, bidirectional: bidirectional, rng: rng),
            "Gru" => new GRU(inF, hidden, numLayers: layers, batchFirst: batchFirst, bidirectional: bidirectional, rng: rng),
            _ => new RNN(inF, hidden, numLayers: layers, batchFirst: batchFirst, bidirectional: bidirectional, rng: rng),
        };
        var shape = new RecurrentShape(Enum.Parse<RecurrentMode>(mode), inF, hidden, layers, bidirectional, batchFirst, true, t);
        // Tokens in the layer's layout ([N, T] or [T, N]); repeated: 13 tokens over 35 positions, padding among them; else a permutation.
        var ids = new long[rows];
        var perm = Enumerable.Range(0, vocab).OrderBy(_ => rng.NextDouble()).ToArray();
        for (int r = 0; r < rows; r++) ids[r] = repeated ? (long)(rng.NextDouble() * vocab) % vocab : perm[r];
        if (padding is int p) ids[3] = ids[rows - 2] = p;
        var tokens = Tensor.FromArray(ids, batchFirst ? [n, t] : [t, n]);
        var x = new float[rows * inF];
        CompiledSupport.EmbeddingForward(emb, tokens, x, rows, inF);
        int d = bidirectional ? 2 : 1;
        var gy = Enumerable.Range(0, rows * d * hidden).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        int weightCount = module.AllWeights.Count * 4;
        float[]?[] Grads(float fill) => module.AllWeights.SelectMany(w => w).Select(w => Enumerable.Repeat(fill, (int)w.NumElements).ToArray()).ToArray<float[]?>();

        // The per-position path: the stack's input gradient, then the embedding's scatter.
        var wsA = new RecurrentWorkspace();
        var outA = new float[rows * d * hidden];
        CompiledSupport.RecurrentForward(module, x, outA, n, shape, wsA);
        var gradsA = Grads(0f);
        var gx = new float[rows * inF];
        var tableA = new float[vocab * inF];
        CompiledSupport.RecurrentBackward(module, gy, gx, gradsA, n, shape, wsA, overwriteInput: true);
        CompiledSupport.EmbeddingBackward(emb, tokens, gx, tableA, rows, inF);

        // The embedded path, at 1 and 2 threads, adding into zeros and overwriting NaN-filled fresh gradients.
        float[]?[] Embedded(int threads, bool overwrite, out float[] table)
        {
            var ws = new RecurrentWorkspace();
            var grads = Grads(overwrite ? float.NaN : 0f);
            var tab = new float[vocab * inF];
            var gIn = Enumerable.Repeat(float.NaN, rows * inF).ToArray();
            int before = Parallelism.MaxThreads;
            Parallelism.MaxThreads = threads;
            try
            {
                var output = new float[rows * d * hidden];
                CompiledSupport.RecurrentForward(module, x, output, n, shape, ws, embedding: emb, tokens: tokens);
                Assert.Equal(outA, output);   // each distinct token's projection once: the same bits
                CompiledSupport.RecurrentBackward(module, gy, gIn, grads, n, shape, ws, overwriteInput: true,
                    overwriteWeights: overwrite ? Enumerable.Repeat(true, weightCount).ToArray() : null, embedding: emb, tokens: tokens, embeddingGrad: tab);
            }
            finally { Parallelism.MaxThreads = before; }
            Assert.All(gIn, v => Assert.True(float.IsNaN(v)));   // the input's gradient is not written
            table = tab;
            return grads;
        }
        var gradsB = Embedded(1, false, out var tableB);
        var gradsC = Embedded(2, false, out var tableC);
        var gradsD = Embedded(1, true, out var tableD);
        for (int j = 0; j < gradsA.Length; j++)
        {
            Assert.Equal(gradsB[j], gradsC[j]);   // bits at 1 and 2 threads
            Assert.Equal(gradsB[j], gradsD[j]);   // overwrite = add into zeros
            // Layer 0's W_ih (index 0 of each of its directions) is summed in a new order; the rest is the same computation.
            bool wih0 = j % 4 == 0 && j / 4 < d;
            if (wih0) TensorAssert.Close(gradsA[j]!, gradsB[j]!, 1e-4, 1e-5, $"weight {j}");
            else Assert.Equal(gradsA[j], gradsB[j]);
        }
        Assert.Equal(tableB, tableC);
        Assert.Equal(tableB, tableD);
        TensorAssert.Close(tableA, tableB, 1e-4, 1e-5, "table");
        if (padding is int pad) Assert.All(tableB.AsSpan(pad * inF, inF).ToArray(), v => Assert.Equal(0f, v));

        // The naive reference (one layer, one direction): from the projection's gradient the backward left, per position, in double.
        if (layers == 1 && d == 1)
        {
            int g = shape.Step(n, 0).GateWidth;
            var dG = wsA.ProjectionGrad;
            var wIh = module.AllWeights[0][0].Data<float>();
            var dW = new double[g * inF];
            var dE = new double[vocab * inF];
            for (int tt = 0; tt < t; tt++)
            {
                for (int b = 0; b < n; b++)
                {
                    int r = tt * n + b;   // time-major row
                    long tok = ids[batchFirst ? b * t + tt : tt * n + b];
                    for (int j = 0; j < g; j++)
                    {
                        for (int i = 0; i < inF; i++)
                        {
                            dW[j * inF + i] += (double)dG[r * g + j] * x[(batchFirst ? b * t + tt : tt * n + b) * inF + i];
                            if (tok != padding) dE[tok * inF + i] += (double)dG[r * g + j] * wIh[j * inF + i];
                        }
                    }
                }
            }
            TensorAssert.Close(dW.Select(v => (float)v).ToArray(), gradsB[0]!, 1e-4, 1e-5, "W_ih against the naive reference");
            TensorAssert.Close(dE.Select(v => (float)v).ToArray(), tableB, 1e-4, 1e-5, "table against the naive reference");
        }
    }

    /// <summary>
    /// The forward of an LSTM over an embedding lookup whose tiles compute the projection: each distinct token's row projected
    /// once by the GEMM and read by the tiles through the row → token map gives the per-position path's output bit for bit, at
    /// both widths (forced), one and two batch blocks, one and two directions, repeated tokens and a permutation.
    /// </summary>
    [Theory]
    [InlineData(512, 1, false, true)]
    [InlineData(512, 2, true, true)]
    [InlineData(256, 1, true, false)]
    [InlineData(256, 2, false, true)]
    public void TheDistinctProjectionGivesThePerPositionBits(int width, int parts, bool bidirectional, bool repeated)
    {
        // The GEMM takes its packed path (> 2^24 multiply-adds) for the positions and for the ~600 distinct tokens alike.
        const int n = 13, t = 71, inF = 64, hidden = 128;
        int rows = n * t, vocab = repeated ? 1000 : rows + 3;
        var rng = new Rng(4481 + width + parts);
        var emb = new Embedding(vocab, inF, paddingIdx: 5, rng: rng);
        var lstm = new LSTM(inF, hidden, batchFirst: true, bidirectional: bidirectional, rng: rng);
        var shape = new RecurrentShape(RecurrentMode.Lstm, inF, hidden, 1, bidirectional, true, true, t);
        var perm = Enumerable.Range(0, vocab).OrderBy(_ => rng.NextDouble()).ToArray();
        var ids = Enumerable.Range(0, rows).Select(r => repeated ? (long)rng.NextInt(vocab) : perm[r]).ToArray();
        var tokens = Tensor.FromArray(ids, [n, t]);
        var x = new float[rows * inF];
        CompiledSupport.EmbeddingForward(emb, tokens, x, rows, inF);
        int d = bidirectional ? 2 : 1;
        RecurrentKernel.t_forcedLstmWidth = width;
        RecurrentKernel.t_forcedBatchParts = parts;
        try
        {
            int distinct = ids.Distinct().Count();
            Assert.True(RecurrentKernel.CanProjectInTiles(shape.Step(n, 0), rows, inF));
            Assert.True(RecurrentKernel.CanProjectInTiles(shape.Step(n, 0), distinct, inF));
            var a = new float[rows * d * hidden];
            var b = new float[rows * d * hidden];
            CompiledSupport.RecurrentForward(lstm, x, a, n, shape, new RecurrentWorkspace());
            var ws = new RecurrentWorkspace();
            CompiledSupport.RecurrentForward(lstm, x, b, n, shape, ws, embedding: emb, tokens: tokens);
            Assert.Equal(a, b);
            Assert.Equal(distinct, Enumerable.Range(0, rows).Count(r => ws.FirstRow[ws.RowSlot[r]] == r));
        }
        finally
        {
            RecurrentKernel.t_forcedLstmWidth = 0;
            RecurrentKernel.t_forcedBatchParts = 0;
        }
    }

    /// <summary>A table gradient not wanted (a frozen embedding): W_ih's gradient still from the distinct tokens, nothing else written.</summary>
    [Fact]
    public void WithoutATableGradientOnlyTheWeightsAreWritten()
    {
        const int n = 3, t = 5, inF = 4, hidden = 6;
        var rng = new Rng(4451);
        var emb = new Embedding(4, inF, rng: rng);
        var lstm = new LSTM(inF, hidden, batchFirst: true, rng: rng);
        var shape = new RecurrentShape(RecurrentMode.Lstm, inF, hidden, 1, false, true, true, t);
        var tokens = Tensor.FromArray(Enumerable.Range(0, n * t).Select(i => (long)(i * 7 % 4)).ToArray(), [n, t]);
        var x = new float[n * t * inF];
        CompiledSupport.EmbeddingForward(emb, tokens, x, n * t, inF);
        var gy = Enumerable.Range(0, n * t * hidden).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        float[]?[] Grads() => lstm.AllWeights[0].Select(w => new float[w.NumElements]).ToArray<float[]?>();
        var wsA = new RecurrentWorkspace();
        CompiledSupport.RecurrentForward(lstm, x, new float[n * t * hidden], n, shape, wsA);
        var a = Grads();
        CompiledSupport.RecurrentBackward(lstm, gy, new float[n * t * inF], a, n, shape, wsA);
        var wsB = new RecurrentWorkspace();
        CompiledSupport.RecurrentForward(lstm, x, new float[n * t * hidden], n, shape, wsB, embedding: emb, tokens: tokens);
        var b = Grads();
        CompiledSupport.RecurrentBackward(lstm, gy, null, b, n, shape, wsB, embedding: emb, tokens: tokens, embeddingGrad: null);
        TensorAssert.Close(a[0]!, b[0]!, 1e-4, 1e-5, "W_ih");
        for (int j = 1; j < 4; j++) Assert.Equal(a[j], b[j]);
    }
}
