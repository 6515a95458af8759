using SharpGrad.Kernels;
using SharpGrad.Layers;

namespace SharpGrad;

// Glue of compiled recurrent layers: the layer's weights as arrays for the shared kernels (Kernels/RecurrentStack.cs).
public static partial class CompiledSupport
{
    /// <summary>The weights of a recurrent layer (w_ih, w_hh, b_ih, b_hh per layer and direction), checked against the program's shape.</summary>
    private static float[][] RecurrentWeights(RNNBase module, in RecurrentShape shape)
    {
        var all = module.AllWeights;
        if (all.Count != shape.NumLayers * shape.Directions || module.HiddenSize != shape.HiddenSize || module.InputSize != shape.InputSize)
        {
            throw new InvalidOperationException(
                $"Compiled program: the {module.GetType().Name} has input_size {module.InputSize}, hidden_size {module.HiddenSize} and {all.Count} " +
                $"layer-directions, but the program was generated for {shape.InputSize}, {shape.HiddenSize} and {shape.NumLayers * shape.Directions}; rebuild the project.");
        }
        var weights = new float[all.Count * shape.WeightsPerDirection][];
        for (int i = 0; i < all.Count; i++)
        {
            for (int k = 0; k < shape.WeightsPerDirection; k++) weights[i * shape.WeightsPerDirection + k] = Dense(all[i][k]);
        }
        return weights;
    }

    /// <summary>
    /// A compiled RNN/LSTM/GRU's output sequence (<see cref="RecurrentStack.Forward"/>) from the initial states
    /// <paramref name="h0"/> and <paramref name="c0"/> ([L·D, N, H]; null: zeros); the workspace keeps the final states. In
    /// training the layer's <c>dropout</c> (read from the layer at each call) masks every layer's output but the last, the masks
    /// drawn from the layer's <see cref="RNNBase.Rng"/> as eager draws them; in evaluation nothing is drawn. With
    /// <paramref name="unbatched"/> (PyTorch's 2-d call: input [L, H_in], states [L·D, H]) the program's <paramref name="n"/> rows are
    /// one sequence of n steps. With <paramref name="lastStepOnly"/> (the program reads only the output's last step) only that
    /// step's rows of <paramref name="output"/> are written — all of them when the layer has a forward hook, which sees the whole output.
    /// <paramref name="embedding"/>: the input is that Embedding's lookup of <paramref name="tokens"/>; an LSTM whose tiles compute its
    /// projection then projects each distinct token's row once (the same elements, the same output bits).
    /// </summary>
    public static void RecurrentForward(RNNBase module, float[] input, float[] output, int n, RecurrentShape shape, RecurrentWorkspace workspace,
        float[]? h0 = null, float[]? c0 = null, bool unbatched = false, bool lastStepOnly = false, Module? embedding = null, Tensor? tokens = null)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(workspace);
        if (unbatched) (shape, n) = UnbatchedRecurrent(shape, n);
        var dropout = module.Training && module.Dropout > 0 ? new DropoutSite(module.Dropout, module.Rng) : default;
        // The input is embedding(tokens): an LSTM projects each distinct token's row once (RecurrentStack.Forward).
        var embedded = embedding is null ? (EmbeddedInput?)null : EmbeddedTokens(workspace, shape, n, embedding, tokens!, null);
        RecurrentStack.Forward(shape, input, output, n, RecurrentWeights(module, shape), workspace, h0, c0, dropout,
            lastStepOnly: lastStepOnly && !HasForwardHooks(module), embedded: embedded);
    }

    /// <summary>
    /// The tokens of each time-major row of <paramref name="shape"/>'s input into the workspace (checked), as an <see cref="EmbeddedInput"/>;
    /// with <paramref name="reuse"/> (a backward) not when the workspace holds its forward's grouping of them (an LSTM's:
    /// <see cref="RecurrentWorkspace.HoldsGrouping"/>), which the backward then reuses.
    /// </summary>
    private static EmbeddedInput EmbeddedTokens(RecurrentWorkspace workspace, in RecurrentShape shape, int n, Module embedding, Tensor tokens, float[]? tableGrad,
        bool reuse = false)
    {
        int rows = shape.Steps * n;
        var emb = AsEmbedding(embedding, tokens, rows, shape.InputSize);
        if (reuse && workspace.HoldsGrouping(rows)) return new EmbeddedInput(emb.NumEmbeddings, tableGrad, emb.PaddingIdx ?? -1);
        // The tokens copied: a grouping the workspace held is of others now (a forward's own grouping sets it again).
        workspace.GroupedRows = -1;
        var idx = new Indices(tokens);
        EmbeddingKernel.CheckRange(idx, emb.NumEmbeddings, emb.Weight._shape);
        workspace.EnsureEmbedded(rows, shape.Step(n, 0).GateWidth, shape.InputSize, emb.NumEmbeddings);
        int t = shape.Steps;
        for (int s = 0; s < t; s++)
        {
            for (int b = 0; b < n; b++) workspace.Tokens[s * n + b] = (int)idx[shape.BatchFirst ? b * t + s : s * n + b];
        }
        return new EmbeddedInput(emb.NumEmbeddings, tableGrad, emb.PaddingIdx ?? -1);
    }

    /// <summary>
    /// Its backward: the input's gradient added into <paramref name="gradInput"/>, each weight's into <paramref name="weightGrads"/>,
    /// the initial states' into <paramref name="gradH0"/>/<paramref name="gradC0"/> (when not null). <paramref name="unbatched"/>: as the forward's.
    /// <paramref name="lastStepOnly"/>: the program reads only the output's last step, so only that step of <paramref name="gradOutput"/> is read (the rest is zero).
    /// <paramref name="overwriteInput"/>: <paramref name="gradInput"/> is written, not added to (the generated program's first writer of that gradient, which it does not clear);
    /// <paramref name="overwriteWeights"/>[j]: weight j's gradient likewise (a fresh one, <see cref="CompiledParameterGroup.Fresh"/>).
    /// <paramref name="embedding"/>: the input is that Embedding's lookup of <paramref name="tokens"/>, read by nothing else; unless
    /// <see cref="EmbeddingAfterRecurrent"/>, the table's gradient is added into <paramref name="embeddingGrad"/> (null: not wanted)
    /// from the projection's gradient summed per distinct token, and <paramref name="gradInput"/> is not written.
    /// </summary>
    public static void RecurrentBackward(RNNBase module, float[] gradOutput, float[]? gradInput, float[]?[] weightGrads, int n, RecurrentShape shape,
        RecurrentWorkspace workspace, float[]? gradH0 = null, float[]? gradC0 = null, bool unbatched = false, bool lastStepOnly = false, bool overwriteInput = false,
        bool[]? overwriteWeights = null, Module? embedding = null, Tensor? tokens = null, float[]? embeddingGrad = null)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(workspace);
        if (unbatched) (shape, n) = UnbatchedRecurrent(shape, n);
        EmbeddedInput? embedded = null;
        if (embedding is not null && !EmbeddingAfterRecurrent(module, embedding))
        {
            // The input is embedding(tokens), read by nothing else: layer 0's rows grouped by token, the table's gradient added
            // for the distinct tokens (RecurrentStack.Backward); the input's gradient is not written.
            embedded = EmbeddedTokens(workspace, shape, n, embedding, tokens!, embeddingGrad, reuse: true);
            gradInput = null;
        }
        RecurrentStack.Backward(shape, gradOutput, gradInput, n, RecurrentWeights(module, shape), weightGrads, workspace, gradH0, gradC0, lastStepOnly, overwriteInput,
            overwriteWeights, embedded);
    }

    /// <summary>
    /// Whether a compiled Embedding → recurrent layer (the lookup read by the layer alone) runs the embedding's backward after
    /// the layer's, from the input gradient the layer writes (<see cref="EmbeddingBackward"/>): when the layer or the
    /// <paramref name="embedding"/> has backward hooks, which see that gradient (the layer's as its grad_input, the
    /// embedding's as its grad_output). Else the layer's backward adds the table's gradient itself (<see cref="RecurrentBackward"/>'s
    /// <c>embedding</c>) and writes no input gradient. Read at each backward: hooks are registered at run time.
    /// </summary>
    public static bool EmbeddingAfterRecurrent(Module recurrent, Module embedding) => HasBackwardHooks(recurrent) || HasBackwardHooks(embedding);

    /// <summary>A final state of the layer's last forward (<paramref name="item"/> 1: h_n, 2: c_n), [L·D, N, H].</summary>
    public static void RecurrentState(int item, float[] state, int n, RecurrentShape shape, RecurrentWorkspace workspace, bool unbatched = false)
    {
        if (unbatched) (shape, n) = UnbatchedRecurrent(shape, n);
        RecurrentStack.FinalState(shape, item, state, n, workspace);
    }

    /// <summary>The gradient of a final state, kept in the workspace for the layer's backward (which runs after it).</summary>
    public static void RecurrentStateBackward(int item, float[] grad, int n, RecurrentShape shape, RecurrentWorkspace workspace, bool unbatched = false)
    {
        if (unbatched) (shape, n) = UnbatchedRecurrent(shape, n);
        RecurrentStack.FinalStateGrad(shape, item, grad, n, workspace);
    }

    /// <summary>
    /// An unbatched call (PyTorch: input [L, H_in], h_0/c_0 and h_n/c_n [L·D, H]) as the kernels run it: the program's
    /// <paramref name="rows"/> (its batch count, the input's L) one sequence — steps L, batch 1 (the data of [L, H_in] is that of
    /// [1, L, H_in], of [L·D, H] that of [L·D, 1, H]).
    /// </summary>
    private static (RecurrentShape Shape, int N) UnbatchedRecurrent(in RecurrentShape shape, int rows) => (shape with { Steps = rows, BatchFirst = true }, 1);
}
