using System.ComponentModel;
using System.Numerics.Tensors;

namespace SharpGrad.Kernels;

/// <summary>
/// A stack of recurrent layers as generated code names it (PyTorch: <c>nn.LSTM/GRU/RNN(input_size, hidden_size, num_layers,
/// bias, batch_first, bidirectional)</c>) over sequences of <paramref name="Steps"/> steps; the batch size is passed at each call.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly record struct RecurrentShape(
    RecurrentMode Mode, int InputSize, int HiddenSize, int NumLayers, bool Bidirectional, bool BatchFirst, bool Bias, int Steps)
{
    /// <summary>1 or 2.</summary>
    public int Directions => Bidirectional ? 2 : 1;

    /// <summary>The weights of each layer and direction: w_ih, w_hh (and b_ih, b_hh).</summary>
    public int WeightsPerDirection => Bias ? 4 : 2;

    /// <summary>The input width of layer <paramref name="layer"/>.</summary>
    public int LayerInput(int layer) => layer == 0 ? InputSize : Directions * HiddenSize;

    /// <summary>The recurrence of one layer and direction for a batch of <paramref name="n"/>.</summary>
    public RecurrenceShape Step(int n, int direction) => new(Mode, Steps, n, HiddenSize, direction == 1);
}

/// <summary>
/// The arrays a compiled recurrent stack keeps between its forward and its backward (per layer its time-major input, per
/// layer and direction the input projection, the outputs and the <see cref="RecurrenceBuffers{T}"/>), reused across calls.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class RecurrentWorkspace
{
    internal float[][] LayerInputs = [];     // [L + 1][T·N·in_l]: time-major; the last is the stack's output
    internal float[][] Projections = [];     // [L·D][T·N·G]: W_ih·x + b_ih, sized at the first forward that runs the product (ProjectionFor)
    internal float[][] Outputs = [];         // [L·D][T·N·H]
    internal RecurrenceBuffers<float>[] Buffers = [];
    internal float[] Zeros = [];             // h_0 (and c_0) = 0
    internal float[][] InitialH = [];        // [L·D][N·H]: copies of the given h_0 (the backward reads them); empty: zeros
    internal float[][] InitialC = [];        // [L·D][N·H]: LSTM's given c_0
    internal float[][] FinalC = [];          // [L·D][N·H]: LSTM's c_T
    internal float[] FinalHGrad = [];        // [L·D·N·H]: the gradient of h_n, when a program reads h_n (HasFinalHGrad)
    internal float[] FinalCGrad = [];        // [L·D·N·H]: the gradient of c_n (HasFinalCGrad)
    internal float[] InitialGrad = [];       // [N·H]: one layer-direction's gradient of h_0 or c_0
    internal float[] LastGrad = [];          // [N·H]: one direction's output gradient at the last step (a backward given only that step's)
    internal bool HasInitialH, HasInitialC, HasFinalHGrad, HasFinalCGrad;
    internal float[][] InputGrads = [];      // [L + 1][T·N·in_l]
    internal float[] OutputGrad = [];        // [T·N·H]: one direction's share of the layer output's gradient
    internal float[] ProjectionGrad = [];    // [T·N·G]
    internal float[] CellBias = [];          // [G]: LSTM's b_ih + b_hh, added once in the cell instead of b_ih to every projected row
    internal float[] BiasGrad = [];          // [G]: Σ rows of the projection's gradient, b_ih's and b_hh's alike (LSTM, RNN)
    internal float[][] Masks = [];           // [L][T·N·D·H]: in training with dropout, the mask on layer l's input (l ≥ 1; [0] unused)
    internal float[][] Dropped = [];         // [L][T·N·D·H]: layer l's input after its mask (what layer l reads; l ≥ 1)
    internal bool Dropping;                  // the last forward drew masks (training, dropout > 0, more than one layer)
    internal int[] Tokens = [];              // [T·N]: an embedded input's token of each time-major row (EmbeddedInput)
    internal int[] RowSlot = [];             // [T·N]: each row's distinct token (its slot)
    internal int[] FirstRow = [];            // [U]: each distinct token's first row
    internal int[] SlotOf = [];              // [vocabulary]: a token's slot while grouping, else −1
    internal float[] TokenGrads = [];        // [U·G]: the projection's gradient summed per distinct token
    internal float[] TokenInputs = [];       // [U·I]: the distinct tokens' input rows
    internal float[] TokenInputGrads = [];   // [U·I]: their gradients (Σ dG)·W_ih, over the directions
    internal float[] TokenProjections = [];  // [U·G]: the distinct tokens' projections x_u·W_ihᵀ (the forward's, one direction at a time)
    internal int GroupedRows = -1;           // the last forward grouped its T·N rows by token (an LSTM's layer 0): Tokens, RowSlot,
    internal int GroupedDistinct;            // FirstRow and TokenInputs hold that grouping of U = GroupedDistinct tokens; −1: none
    private int _n = -1;
    private RecurrentShape _shape;

    /// <summary>Layer-direction <paramref name="idx"/>'s projection array of <paramref name="size"/> elements (allocated at its first use).</summary>
    internal float[] ProjectionFor(int idx, int size)
        => Projections[idx].Length == size ? Projections[idx] : Projections[idx] = new float[size];

    internal void Ensure(in RecurrentShape s, int n)
    {
        // Sized for the batch and the shape (its steps: a sequence length read at each call changes them).
        if (n == _n && s == _shape && Buffers.Length == s.NumLayers * s.Directions) return;
        int t = s.Steps, d = s.Directions, h = s.HiddenSize, g = s.Step(n, 0).GateWidth;
        LayerInputs = new float[s.NumLayers + 1][];
        InputGrads = new float[s.NumLayers + 1][];
        for (int l = 0; l <= s.NumLayers; l++)
        {
            int width = l < s.NumLayers ? s.LayerInput(l) : d * h;
            LayerInputs[l] = new float[t * n * width];
            InputGrads[l] = new float[t * n * width];
        }
        Projections = new float[s.NumLayers * d][];
        Outputs = new float[s.NumLayers * d][];
        Buffers = new RecurrenceBuffers<float>[s.NumLayers * d];
        for (int k = 0; k < Projections.Length; k++)
        {
            Projections[k] = [];
            // One direction: the layer's outputs are the next layer's time-major input as they are (no copy).
            Outputs[k] = d == 1 ? LayerInputs[k + 1] : new float[t * n * h];
            Buffers[k] = new RecurrenceBuffers<float>();
        }
        Zeros = new float[n * h];
        int states = s.NumLayers * d;
        InitialH = new float[states][];
        InitialC = new float[states][];
        FinalC = new float[states][];
        for (int k = 0; k < states; k++)
        {
            InitialH[k] = new float[n * h];
            InitialC[k] = s.Mode == RecurrentMode.Lstm ? new float[n * h] : [];
            FinalC[k] = s.Mode == RecurrentMode.Lstm ? new float[n * h] : [];
        }
        FinalHGrad = new float[states * n * h];
        FinalCGrad = s.Mode == RecurrentMode.Lstm ? new float[states * n * h] : [];
        InitialGrad = new float[n * h];
        LastGrad = new float[n * h];
        OutputGrad = d == 1 ? [] : new float[t * n * h];
        ProjectionGrad = new float[t * n * g];
        CellBias = new float[g];
        BiasGrad = new float[g];
        Masks = Dropped = [];
        _n = n;
        _shape = s;
    }

    /// <summary>The masks and the dropped layer inputs of a forward in training with dropout, sized once for the shape and batch.</summary>
    internal void EnsureDropout(in RecurrentShape s, int n)
    {
        if (Masks.Length == s.NumLayers) return;
        int size = s.Steps * n * s.Directions * s.HiddenSize;
        Masks = new float[s.NumLayers][];
        Dropped = new float[s.NumLayers][];
        Masks[0] = Dropped[0] = [];
        for (int l = 1; l < s.NumLayers; l++)
        {
            Masks[l] = new float[size];
            Dropped[l] = new float[size];
        }
    }

    /// <summary>The arrays of an embedded input's backward (<see cref="RecurrentStack.GroupTokens"/>), sized once.</summary>
    internal void EnsureEmbedded(int rows, int g, int inF, int vocabulary)
    {
        if (Tokens.Length < rows) Tokens = new int[rows];
        if (RowSlot.Length < rows) { RowSlot = new int[rows]; FirstRow = new int[rows]; }
        if (SlotOf.Length != vocabulary) { SlotOf = new int[vocabulary]; Array.Fill(SlotOf, -1); }
        if (TokenGrads.Length < rows * g) { TokenGrads = new float[rows * g]; TokenProjections = new float[rows * g]; }
        if (TokenInputs.Length < rows * inF) { TokenInputs = new float[rows * inF]; TokenInputGrads = new float[rows * inF]; }
    }

    /// <summary>
    /// Whether the workspace holds the grouping of <paramref name="rows"/> rows its last forward made (<see cref="GroupedRows"/>),
    /// which that forward's backward reuses instead of copying the tokens and grouping them again.
    /// </summary>
    internal bool HoldsGrouping(int rows) => GroupedRows == rows && rows > 0;

    /// <summary>What layer <paramref name="layer"/> reads: its time-major input, after the dropout mask when the forward drew one.</summary>
    internal float[] InputOf(int layer) => Dropping && layer > 0 && layer < Masks.Length ? Dropped[layer] : LayerInputs[layer];
}

/// <summary>
/// A stack's input that is an embedding lookup (a compiled Embedding → RNN/LSTM/GRU whose lookup nothing else reads): the
/// token of each time-major row is in the workspace (<see cref="RecurrentWorkspace.Tokens"/>); the backward then groups layer 0's
/// rows by token and adds the table's gradient (<paramref name="TableGrad"/>, [vocabulary, I]; null: not wanted) for the
/// distinct tokens instead of writing the input's gradient (<see cref="RecurrentStack.Backward"/>).
/// </summary>
/// <param name="Vocabulary">The table's rows (every token is in [0, Vocabulary)).</param>
/// <param name="TableGrad">The table's gradient [Vocabulary, I], added to; null: not wanted.</param>
/// <param name="PaddingIdx">The row that gets no gradient (PyTorch's padding_idx), or −1.</param>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly record struct EmbeddedInput(int Vocabulary, float[]? TableGrad, long PaddingIdx);

/// <summary>
/// A stack of recurrent layers over a batch of sequences for compiled programs: per layer and direction one GEMM for all
/// gates of the input sequence (W_ih·x + b_ih for every step at once) and the recurrence (<see cref="RecurrentKernel"/>,
/// eager's kernel: one GEMM per step, the gate arithmetic in one loop); the directions' outputs interleaved into the next
/// layer's input. Zero initial states; the output is the last layer's h_t for every step.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class RecurrentStack
{
    /// <summary>
    /// <paramref name="output"/> [N, T, D·H] (batch first) or [T, N, D·H] from <paramref name="input"/> [N, T, I] or [T, N, I];
    /// <paramref name="weights"/> are w_ih, w_hh (b_ih, b_hh) of each layer and direction in PyTorch's order; the initial states
    /// <paramref name="h0"/> and (LSTM) <paramref name="c0"/> are [L·D, N, H] (PyTorch's h_0, c_0; null: zeros), copied into the
    /// workspace, which keeps the final states for <see cref="FinalState"/>. With an active <paramref name="dropout"/> (training,
    /// p &gt; 0: PyTorch's <c>dropout</c> between layers) each layer's output but the last is multiplied by a mask drawn from its
    /// generator as eager draws it — one <see cref="DropoutKernel.Mask(Span{float}, double, Rng?)"/> per layer, in layer order,
    /// over the time-major [T, N, D·H] output (both directions') — kept for the backward; the final states are before the mask.
    /// With <paramref name="lastStepOnly"/> (a program that reads only the output's last step, <c>output.Select(1, T − 1)</c>)
    /// only that step's rows of <paramref name="output"/> are written (the rest is left as it was); the workspace keeps
    /// everything as without it.
    /// </summary>
    public static void Forward(in RecurrentShape s, float[] input, float[] output, int n, IReadOnlyList<float[]> weights, RecurrentWorkspace ws,
        float[]? h0 = null, float[]? c0 = null, DropoutSite dropout = default, bool lastStepOnly = false, EmbeddedInput? embedded = null)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(ws);
        ws.Ensure(s, n);
        int t = s.Steps, d = s.Directions, h = s.HiddenSize, rows = t * n, k = s.WeightsPerDirection, nh = n * h;
        ws.Dropping = dropout.IsActive && s.NumLayers > 1;
        if (ws.Dropping) ws.EnsureDropout(s, n);
        ws.HasInitialH = h0 is not null;
        ws.HasInitialC = c0 is not null && s.Mode == RecurrentMode.Lstm;
        ws.HasFinalHGrad = ws.HasFinalCGrad = false;
        ws.GroupedRows = -1;
        for (int idx = 0; idx < s.NumLayers * d; idx++)
        {
            if (h0 is not null) h0.AsSpan(idx * nh, nh).CopyTo(ws.InitialH[idx]);
            if (ws.HasInitialC) c0!.AsSpan(idx * nh, nh).CopyTo(ws.InitialC[idx]);
        }
        ToTimeMajor(s, input, ws.LayerInputs[0], n, s.InputSize, accumulate: false);
        for (int layer = 0; layer < s.NumLayers; layer++)
        {
            int inF = s.LayerInput(layer);
            var x = ws.InputOf(layer);
            var next = ws.LayerInputs[layer + 1];
            // Layer 0 of an LSTM over an embedding lookup: each distinct token's row projected once (below).
            bool byTokens = layer == 0 && embedded is not null && s.Mode == RecurrentMode.Lstm;
            int distinct = byTokens ? GroupTokens(ws, embedded!.Value, rows, s.Step(n, 0).GateWidth, inF) : 0;
            // Kept for this forward's backward (HoldsGrouping): the same tokens and input rows, grouped once per step.
            if (byTokens) (ws.GroupedRows, ws.GroupedDistinct) = (rows, distinct);
            for (int dir = 0; dir < d; dir++)
            {
                int idx = layer * d + dir;
                var step = s.Step(n, dir);
                int g = step.GateWidth;
                // LSTM: the projection in the recurrence's tiles when they give the GEMM's elements (RecurrentKernel.CanProjectInTiles);
                // then the workspace holds no [T·N·G] array for it (2.3 MB for lstm_train_step_b32's layer).
                bool inTiles = s.Mode == RecurrentMode.Lstm && RecurrentKernel.CanProjectInTiles(step, rows, inF);
                // Over an embedding lookup: the distinct tokens' projections by the GEMM (the same elements as the tiles' when it
                // takes the same path for U rows), which the tiles read by row (TileProjection.Rows): U instead of T·N rows.
                bool byToken = inTiles && distinct > 0 && RecurrentKernel.CanProjectInTiles(step, distinct, inF);
                if (byToken) Project(ws.TokenInputs, weights[idx * k], ws.TokenProjections, distinct, inF, g);
                float[] xw = byToken ? ws.TokenProjections : inTiles ? [] : ws.ProjectionFor(idx, rows * g);
                if (!inTiles) Project(x, weights[idx * k], xw, rows, inF, g);
                ReadOnlySpan<float> cellBias = default;
                if (s.Bias && s.Mode == RecurrentMode.Lstm)
                {
                    // The LSTM cell adds its bias to every pre-activation: b_ih + b_hh there, once, instead of b_ih to every row here.
                    TensorPrimitives.Add(weights[idx * k + 2].AsSpan(0, g), weights[idx * k + 3].AsSpan(0, g), ws.CellBias);
                    cellBias = ws.CellBias;
                }
                else if (s.Bias)
                {
                    var bIh = weights[idx * k + 2].AsSpan(0, g);
                    for (int r = 0; r < rows; r++) TensorPrimitives.Add(xw.AsSpan(r * g, g), bIh, xw.AsSpan(r * g, g));
                    cellBias = weights[idx * k + 3].AsSpan(0, g);
                }
                var o = ws.Outputs[idx];
                var projection = byToken ? new RecurrentKernel.TileProjection<float>(null, 0, null) { Rows = ws.RowSlot }
                    : inTiles ? new RecurrentKernel.TileProjection<float>(x, inF, weights[idx * k]) : default;
                RecurrentKernel.ForwardWithProjection(step, xw, projection,
                    ws.HasInitialH ? ws.InitialH[idx] : ws.Zeros, ws.HasInitialC ? ws.InitialC[idx] : default,
                    weights[idx * k + 1], 0, cellBias, o, s.Mode == RecurrentMode.Lstm ? ws.FinalC[idx] : default, ws.Buffers[idx]);
                if (!ReferenceEquals(o, next))
                {
                    for (int r = 0; r < rows; r++) o.AsSpan(r * h, h).CopyTo(next.AsSpan(r * d * h + dir * h, h));
                }
            }
            if (ws.Dropping && layer < s.NumLayers - 1)
            {
                // Eager: Functional.Dropout(layer output [T, N, D·H], p, training, rng) — the same draws, in the same order.
                int size = rows * d * h;
                var mask = ws.Masks[layer + 1];
                DropoutKernel.Mask(mask, size, dropout.P, dropout.Rng);
                TensorPrimitives.Multiply(next.AsSpan(0, size), mask.AsSpan(0, size), ws.Dropped[layer + 1].AsSpan(0, size));
            }
        }
        if (lastStepOnly) LastStep(s, ws.LayerInputs[s.NumLayers], output, n, d * h, toLayout: true);
        else FromTimeMajor(s, ws.LayerInputs[s.NumLayers], output, n, d * h, accumulate: false);
    }

    /// <summary>
    /// The last step's rows between a time-major [T, N, F] array's last block and the layer's layout ([N, T, F] batch first,
    /// or [T, N, F]): <paramref name="toLayout"/> copies the block into <paramref name="laid"/>, else <paramref name="laid"/>'s
    /// rows into the block. <paramref name="timeMajor"/> is either the whole [T, N, F] array or (<paramref name="block"/>) the
    /// last block alone.
    /// </summary>
    private static void LastStep(in RecurrentShape s, float[] timeMajor, float[] laid, int n, int f, bool toLayout, bool block = false)
    {
        int t = s.Steps;
        if (t <= 0) return;
        int at = block ? 0 : (t - 1) * n * f;
        for (int b = 0; b < n; b++)
        {
            var tm = timeMajor.AsSpan(at + b * f, f);
            var row = laid.AsSpan((s.BatchFirst ? b * t + t - 1 : (t - 1) * n + b) * f, f);
            if (toLayout) tm.CopyTo(row);
            else row.CopyTo(tm);
        }
    }

    /// <summary>
    /// The input projection x·W_ihᵀ [rows, G] of a whole sequence as one product (W_ih as stored, the GEMM's packed path).
    /// Session 9 stored W_ihᵀ and ran row blocks on the direct path, then the faster one; since the packed path's rework
    /// (session 16) the one product is: lstm_train_step_b32's 1120 × 64 · (512 × 64)ᵀ, `count lstm-gemm-xw` 838 µs against
    /// `lstm-gemm-xwt` (the blocks) 1000 µs at 1 thread, 513–554 against 536–662 µs at 2 (session 18). Each element is
    /// the same FMA chain over the inputs in order either way. Since session 19 an LSTM whose projection takes the packed
    /// path in one k-block runs it in the recurrence's tiles instead (<see cref="RecurrentKernel.CanProjectInTiles"/>).
    /// </summary>
    private static void Project(float[] x, float[] wIh, float[] xw, int rows, int inF, int g)
        => Gemm.Sgemm(false, true, rows, g, inF, 1f, x, 0, inF, wIh, 0, inF, 0f, xw, 0, g);

    /// <summary>
    /// Where a product's rows are cut in two for two cores: about half, a multiple of 24 (of every kernel's row tile: 4, 6,
    /// 8), so each half's tiles hold the whole product's rows (0: too few rows to cut).
    /// </summary>
    private static int SplitRows(int rows) => rows / 2 / 24 * 24;

    /// <summary>Where the weight gradients' columns are cut in two: about half, a multiple of 64 (of every kernel's column tile; 0: too few).</summary>
    private static int SplitColumns(int g) => g / 2 / 64 * 64;

    /// <summary>
    /// The final states of the last <see cref="Forward"/>: <paramref name="item"/> 1 is h_n, 2 is LSTM's c_n, written into
    /// <paramref name="state"/> [L·D, N, H] in PyTorch's order (layer by layer, forward direction then reverse).
    /// </summary>
    public static void FinalState(in RecurrentShape s, int item, float[] state, int n, RecurrentWorkspace ws)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(ws);
        int nh = n * s.HiddenSize;
        for (int idx = 0; idx < s.NumLayers * s.Directions; idx++)
        {
            var to = state.AsSpan(idx * nh, nh);
            if (item == 2 && s.Mode == RecurrentMode.Lstm)
            {
                if (s.Steps > 0) ws.FinalC[idx].CopyTo(to);
                else if (ws.HasInitialC) ws.InitialC[idx].CopyTo(to);
                else to.Clear();
            }
            else if (item == 1)
            {
                // h_n of a direction is its output at its last step (t = T − 1 forwards, t = 0 in reverse).
                if (s.Steps > 0) ws.Outputs[idx].AsSpan(s.Step(n, idx % s.Directions).TimeOf(s.Steps - 1) * nh, nh).CopyTo(to);
                else if (ws.HasInitialH) ws.InitialH[idx].CopyTo(to);
                else to.Clear();
            }
            else
            {
                throw new ArgumentOutOfRangeException(nameof(item), item, $"the final state {item} of a {s.Mode} (1: h_n, 2: LSTM's c_n)");
            }
        }
    }

    /// <summary>
    /// The gradient of the final state <paramref name="item"/> (1: h_n, 2: c_n; [L·D, N, H]) for the next <see cref="Backward"/>
    /// of the same workspace, which starts its time loops from it; a later <see cref="Forward"/> forgets it.
    /// </summary>
    public static void FinalStateGrad(in RecurrentShape s, int item, float[] grad, int n, RecurrentWorkspace ws)
    {
        ArgumentNullException.ThrowIfNull(grad);
        ArgumentNullException.ThrowIfNull(ws);
        int size = s.NumLayers * s.Directions * n * s.HiddenSize;
        if (item == 1)
        {
            grad.AsSpan(0, size).CopyTo(ws.FinalHGrad);
            ws.HasFinalHGrad = true;
        }
        else
        {
            grad.AsSpan(0, size).CopyTo(ws.FinalCGrad);
            ws.HasFinalCGrad = true;
        }
    }

    /// <summary>
    /// The backward of <see cref="Forward"/> (same workspace): adds the input's gradient into <paramref name="gradInput"/> (when
    /// not null) and each weight's into <paramref name="weightGrads"/> (same order as the weights; null entries are skipped); the
    /// final states' gradients given by <see cref="FinalStateGrad"/> join the time loops, and the initial states' are added into
    /// <paramref name="gradH0"/>/<paramref name="gradC0"/> [L·D, N, H] (when not null). With <paramref name="lastStepOnly"/> the
    /// output's gradient is read at the last step only (the program reads nothing else of the output, so the rest of
    /// <paramref name="gradOutput"/> is zero): one direction's top layer then runs its time loop from that step's rows alone
    /// (<see cref="RecurrentKernel"/>'s last-step backward: no [T, N, H] array of zeros copied and read; docs/performance.md,
    /// "LSTM step, session 20"), two directions' from a cleared array with that step filled in. The same elements either way.
    /// With <paramref name="overwriteInput"/> the input's gradient is written into <paramref name="gradInput"/> instead of added
    /// (its old contents are not read: the generated program does not clear a gradient whose first writer writes it whole),
    /// and each weight j with <paramref name="overwriteWeights"/>[j] its gradient (a fresh one the program did not clear).
    /// </summary>
    public static void Backward(in RecurrentShape s, float[] gradOutput, float[]? gradInput, int n, IReadOnlyList<float[]> weights,
        IReadOnlyList<float[]?> weightGrads, RecurrentWorkspace ws, float[]? gradH0 = null, float[]? gradC0 = null, bool lastStepOnly = false,
        bool overwriteInput = false, bool[]? overwriteWeights = null, EmbeddedInput? embedded = null)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(weightGrads);
        ArgumentNullException.ThrowIfNull(ws);
        if (embedded is not null && gradInput is not null) throw new ArgumentException("RecurrentStack.Backward: an embedded input has no input gradient (the table's is written instead).");
        int t = s.Steps, d = s.Directions, h = s.HiddenSize, rows = t * n, k = s.WeightsPerDirection, nh = n * h;
        bool lstm = s.Mode == RecurrentMode.Lstm;
        // One direction, given the last step's gradient only: the top layer's kernel reads that step's rows (LastGrad).
        bool lastRows = lastStepOnly && t > 0 && d == 1;
        if (lastRows) LastStep(s, ws.LastGrad, gradOutput, n, h, toLayout: false, block: true);
        else if (lastStepOnly && t > 0)
        {
            var top = ws.InputGrads[s.NumLayers];
            Array.Clear(top, 0, rows * d * h);
            LastStep(s, top, gradOutput, n, d * h, toLayout: false);
        }
        else ToTimeMajor(s, gradOutput, ws.InputGrads[s.NumLayers], n, d * h, accumulate: false);
        for (int layer = s.NumLayers - 1; layer >= 0; layer--)
        {
            int inF = s.LayerInput(layer);
            bool wantInput = layer > 0 || gradInput is not null;
            var dx = ws.InputGrads[layer];
            var dNext = ws.InputGrads[layer + 1];
            if (ws.Dropping && layer < s.NumLayers - 1)
            {
                // The gradient of the layer above's (dropped) input, through the mask the forward drew: the output's gradient.
                int size = rows * d * h;
                TensorPrimitives.Multiply(dNext.AsSpan(0, size), ws.Masks[layer + 1].AsSpan(0, size), dNext.AsSpan(0, size));
            }
            // Layer 0 over an embedding lookup: its rows grouped by token once for both directions — by the forward when the
            // workspace still holds its grouping (an LSTM's: HoldsGrouping), else here from the tokens the caller copied.
            bool grouped = layer == 0 && embedded is not null;
            int distinct = !grouped ? 0 : ws.HoldsGrouping(rows) ? ws.GroupedDistinct : GroupTokens(ws, embedded!.Value, rows, s.Step(n, 0).GateWidth, inF);
            for (int dir = 0; dir < d; dir++)
            {
                int idx = layer * d + dir;
                var step = s.Step(n, dir);
                int g = step.GateWidth;
                // One direction: the output's gradient is the layer above's input gradient as it is (a scratch array: h_n's
                // gradient may be added into it).
                bool lastOnly = lastRows && layer == s.NumLayers - 1;
                var dOut = lastOnly ? ws.LastGrad : d == 1 ? dNext : ws.OutputGrad;
                if (d > 1)
                {
                    for (int r = 0; r < rows; r++) dNext.AsSpan(r * d * h + dir * h, h).CopyTo(dOut.AsSpan(r * h, h));
                }
                if (ws.HasFinalHGrad && t > 0)
                {
                    // h_n is the direction's output at its last step: its gradient joins that step's.
                    var last = dOut.AsSpan(lastOnly ? 0 : step.TimeOf(t - 1) * nh, nh);
                    TensorPrimitives.Add(last, ws.FinalHGrad.AsSpan(idx * nh, nh), last);
                }
                var dXw = ws.ProjectionGrad;
                var h0 = ws.HasInitialH ? ws.InitialH[idx] : ws.Zeros;
                var gbHh = s.Bias ? weightGrads[idx * k + 3] : null;
                var gbIh = s.Bias ? weightGrads[idx * k + 2] : null;
                // Outside GRU, b_ih and b_hh reach the same pre-activations: their gradients are one sum over the rows, made once
                // (into BiasGrad by the kernel) and added to both.
                bool sharedBiasGrad = s.Mode != RecurrentMode.Gru && gbHh is not null && gbIh is not null;
                if (sharedBiasGrad) Array.Clear(ws.BiasGrad);
                else
                {
                    // Added to below (the kernel's row sums, AddColumnSums): a gradient to overwrite starts from zeros.
                    if (gbHh is not null && Overwrites(overwriteWeights, idx * k + 3)) Array.Clear(gbHh, 0, g);
                    if (gbIh is not null && Overwrites(overwriteWeights, idx * k + 2)) Array.Clear(gbIh, 0, g);
                }
                // W_hh's gradient not in the kernel: with W_ih's and the input's below (BackwardProducts).
                RecurrentKernel.Backward(step, dOut, lstm && ws.HasFinalCGrad ? ws.FinalCGrad.AsSpan(idx * nh, nh) : default, ws.Outputs[idx], h0,
                    ws.HasInitialC ? ws.InitialC[idx] : default, weights[idx * k + 1], 0, dXw, gradH0 is null ? default : ws.InitialGrad, default,
                    null, sharedBiasGrad ? ws.BiasGrad.AsSpan(0, g) : gbHh is not null ? gbHh.AsSpan(0, g) : default, ws.Buffers[idx], lastOnly);
                if (sharedBiasGrad)
                {
                    if (Overwrites(overwriteWeights, idx * k + 3)) ws.BiasGrad.AsSpan(0, g).CopyTo(gbHh);
                    else TensorPrimitives.Add(gbHh.AsSpan(0, g), ws.BiasGrad, gbHh.AsSpan(0, g));
                    if (Overwrites(overwriteWeights, idx * k + 2)) ws.BiasGrad.AsSpan(0, g).CopyTo(gbIh);
                    else TensorPrimitives.Add(gbIh.AsSpan(0, g), ws.BiasGrad, gbIh.AsSpan(0, g));
                }
                if (gradH0 is not null) AddState(gradH0, idx, ws, n, s, t == 0 && ws.HasFinalHGrad ? ws.FinalHGrad : null);
                if (gradC0 is not null && lstm)
                {
                    // The kernel leaves dc_0 in its cell-gradient buffer (with no step, c_0 is c_n).
                    if (t > 0) ws.Buffers[idx].Dc.AsSpan(0, nh).CopyTo(ws.InitialGrad);
                    else if (ws.HasFinalCGrad) ws.FinalCGrad.AsSpan(idx * nh, nh).CopyTo(ws.InitialGrad);
                    else Array.Clear(ws.InitialGrad);
                    var to = gradC0.AsSpan(idx * nh, nh);
                    TensorPrimitives.Add(to, ws.InitialGrad, to);
                }
                if (grouped)
                {
                    EmbeddedProducts(step, ws, h0, dXw, weightGrads[idx * k + 1], weightGrads[idx * k], weights[idx * k], inF, distinct, dir,
                        Overwrites(overwriteWeights, idx * k + 1), Overwrites(overwriteWeights, idx * k), embedded!.Value.TableGrad is not null);
                    if (gbIh is not null && !sharedBiasGrad) ReduceKernel.AddColumnSums(dXw, 0, g, rows, gbIh.AsSpan(0, g));
                    continue;
                }
                // dW_hh, dW_ih (as dWᵀ = Hᵀ·dXw, xᵀ·dXw added transposed: the faster orientation) and the input's gradient
                // dXw·W_ih, in one parallel loop with several threads.
                new BackwardProducts
                {
                    Shape = step, Output = ws.Outputs[idx], H0 = h0, DHw = s.Mode == RecurrentMode.Gru ? ws.Buffers[idx].GradHw : dXw,
                    DWhh = weightGrads[idx * k + 1], X = ws.InputOf(layer), DXw = dXw, Rows = rows, InF = inF, DWih = weightGrads[idx * k],
                    WIh = weights[idx * k], Dx = wantInput ? dx : null, DxBeta = dir == 0 ? 0f : 1f,
                    OverwriteWhh = Overwrites(overwriteWeights, idx * k + 1), OverwriteWih = Overwrites(overwriteWeights, idx * k),
                }.Run();
                if (gbIh is not null && !sharedBiasGrad) ReduceKernel.AddColumnSums(dXw, 0, g, rows, gbIh.AsSpan(0, g));
            }
            if (grouped && embedded!.Value.TableGrad is { } table)
            {
                // The table's gradient: each distinct token's row (Σ_dir (Σ_rows dG)·W_ih) added once, the padding row left out.
                for (int u = 0; u < distinct; u++)
                {
                    int token = ws.Tokens[ws.FirstRow[u]];
                    if (token == embedded.Value.PaddingIdx) continue;
                    var to = table.AsSpan(token * inF, inF);
                    TensorPrimitives.Add(to, ws.TokenInputGrads.AsSpan(u * inF, inF), to);
                }
            }
        }
        if (gradInput is not null) FromTimeMajor(s, ws.InputGrads[0], gradInput, n, s.InputSize, accumulate: !overwriteInput);
        ws.HasFinalHGrad = ws.HasFinalCGrad = false;
    }

    /// <summary>
    /// Groups layer 0's time-major rows by token (<see cref="RecurrentWorkspace.Tokens"/>, filled by the caller): each row's slot,
    /// each slot's first row (slots in order of first rows) and its input row (the forward's copy of that row); returns the
    /// number of distinct tokens.
    /// </summary>
    internal static int GroupTokens(RecurrentWorkspace ws, EmbeddedInput embedded, int rows, int g, int inF)
    {
        ws.EnsureEmbedded(rows, g, inF, embedded.Vocabulary);
        var x = ws.InputOf(0);
        int distinct = 0;
        for (int r = 0; r < rows; r++)
        {
            int token = ws.Tokens[r], slot = ws.SlotOf[token];
            if (slot < 0)
            {
                slot = ws.SlotOf[token] = distinct++;
                ws.FirstRow[slot] = r;
                x.AsSpan(r * inF, inF).CopyTo(ws.TokenInputs.AsSpan(slot * inF, inF));
            }
            ws.RowSlot[r] = slot;
        }
        for (int u = 0; u < distinct; u++) ws.SlotOf[ws.Tokens[ws.FirstRow[u]]] = -1;
        return distinct;
    }

    /// <summary>
    /// The products of layer 0 over an embedding lookup, for one direction: dW_hh over every row as without it; the
    /// projection's gradient dG summed per distinct token (rows in order: the first copied, the next added, so the same bits
    /// at any thread count), then dW_ih (+)= Σ_u dGsum_uᵀ·x_u and the distinct tokens' input gradients dGsum·W_ih (written by
    /// direction 0, added by 1) — over the U distinct tokens instead of the T·N rows, and no dx per row. The sums differ from
    /// the per-row products' in their order (the last bits).
    /// </summary>
    private static void EmbeddedProducts(in RecurrenceShape step, RecurrentWorkspace ws, float[] h0, float[] dXw, float[]? dWhh, float[]? dWih, float[] wIh,
        int inF, int distinct, int dir, bool overwriteWhh, bool overwriteWih, bool wantTable)
    {
        int g = step.GateWidth, rows = step.Steps * step.Batch;
        if (dWhh is not null) RecurrentKernel.HiddenWeightGrad(step, ws.Outputs[dir], h0, step.Mode == RecurrentMode.Gru ? ws.Buffers[dir].GradHw : dXw, dWhh, 0, g, allowParallel: true, overwriteWhh);
        var sums = ws.TokenGrads;
        for (int r = 0; r < rows; r++)
        {
            int u = ws.RowSlot[r];
            var src = dXw.AsSpan(r * g, g);
            var to = sums.AsSpan(u * g, g);
            if (ws.FirstRow[u] == r) src.CopyTo(to);
            else TensorPrimitives.Add(to, src, to);
        }
        if (dWih is not null) RecurrentKernel.WeightGradTransposed(ws.TokenInputs, 0, sums, 0, distinct, null, 0, 0, inF, g, dWih, 0, g, allowParallel: true, overwriteWih);
        if (wantTable && distinct > 0) Gemm.Run(false, false, distinct, inF, g, 1f, sums, 0, g, wIh, 0, inF, dir == 0 ? 0f : 1f, ws.TokenInputGrads, 0, inF, allowParallel: true);
    }

    /// <summary>Whether weight <paramref name="j"/>'s gradient is written, not added to (<paramref name="overwrite"/>[j]: the program's fresh gradient, not cleared).</summary>
    private static bool Overwrites(bool[]? overwrite, int j) => overwrite is not null && j < overwrite.Length && overwrite[j];

    /// <summary>
    /// The products after one layer-direction's backward time loops: W_hh's gradient (<see cref="RecurrentKernel.HiddenWeightGrad"/>),
    /// W_ih's (dW_ihᵀ = xᵀ·dXw, added transposed) and the input's (dx = dXw·W_ih, written or added: <see cref="DxBeta"/>).
    /// With two or more threads one parallel loop of four items — the weight gradients' two column halves (each packs its
    /// half of dXw's columns on its own core), then the input gradient's two row halves — instead of each GEMM split on its
    /// own, with a hand-off per k-block and both cores reading all of the 2.3 MB dXw (lstm_train_step_b32: `count
    /// lstm-gemm-dwih-t` 914 µs with 1 thread, 710 with 2; `-dx` 863 and 604–800; docs/performance.md, "LSTM step,
    /// session 19"). Tile-aligned halves of the whole products' kernel paths, so every element is the same FMA chain.
    /// </summary>
    private struct BackwardProducts : IParallelBody
    {
        public RecurrenceShape Shape;
        public float[] Output, H0, DHw, X, DXw, WIh;
        public float[]? DWhh, DWih, Dx;
        public int Rows, InF;
        public float DxBeta;
        /// <summary>W_hh's and W_ih's gradients written, not added to (fresh gradients the program did not clear).</summary>
        public bool OverwriteWhh, OverwriteWih;

        /// <summary>Below this many flops in all the products stay whole, each split by the GEMM itself.</summary>
        private const double SplitFlops = 8e6;

        public readonly void Run()
        {
            int g = Shape.GateWidth;
            double flops = 2.0 * Rows * g * ((DWhh is null ? 0 : Shape.Hidden) + (DWih is null ? 0 : InF) + (Dx is null ? 0 : InF));
            if (Parallelism.MaxThreads < 2 || WorkerPool.InsideItem || flops < SplitFlops || !Splits())
            {
                Columns(0, g, allowParallel: true);
                DxRows(0, Rows, allowParallel: true);
                return;
            }
            Parallelism.For(Dx is null ? 2 : 4, this);
        }

        /// <summary>Whether the halves take the whole products' kernel paths (then their elements are the whole's).</summary>
        private readonly bool Splits()
        {
            int g = Shape.GateWidth, cut = SplitColumns(g), half = SplitRows(Rows), h = Shape.Hidden, n = Shape.Batch;
            if (cut == 0 || half == 0) return false;
            // W_hh's product has (T − 1)·N rows, and N more against h_0; W_ih's all of them.
            foreach (var (m, k) in (ReadOnlySpan<(int, int)>)[(h, (Shape.Steps - 1) * n), (h, n), (InF, Rows)])
            {
                int whole = Gemm.PathOf<float>(true, false, m, g, k);
                if (whole != Gemm.PathOf<float>(true, false, m, cut, k) || whole != Gemm.PathOf<float>(true, false, m, g - cut, k)) return false;
            }
            int dx = Gemm.PathOf<float>(false, false, Rows, InF, g);
            return dx == Gemm.PathOf<float>(false, false, half, InF, g) && dx == Gemm.PathOf<float>(false, false, Rows - half, InF, g);
        }

        public readonly void Invoke(int index)
        {
            int g = Shape.GateWidth, cut = SplitColumns(g), half = SplitRows(Rows);
            switch (index)
            {
                case 0: Columns(0, cut, allowParallel: false); break;
                case 1: Columns(cut, g - cut, allowParallel: false); break;
                case 2: DxRows(0, half, allowParallel: false); break;
                default: DxRows(half, Rows - half, allowParallel: false); break;
            }
        }

        /// <summary>Rows [j0, j0 + jw) of dW_hh and dW_ih.</summary>
        private readonly void Columns(int j0, int jw, bool allowParallel)
        {
            // On one thread (or one column half): dG packed once for both weight gradients, when both take the packed path.
            if (DWhh is not null && DWih is not null && ReferenceEquals(DHw, DXw) && (!allowParallel || Parallelism.MaxThreads < 2)
                && RecurrentKernel.CanShareDG(Shape, InF, jw))
            {
                RecurrentKernel.WeightGradsSharingDG(Shape, Output, H0, X, InF, DXw, DWhh, DWih, j0, jw, OverwriteWhh, OverwriteWih);
                return;
            }
            if (DWhh is not null) RecurrentKernel.HiddenWeightGrad(Shape, Output, H0, DHw, DWhh, j0, jw, allowParallel, OverwriteWhh);
            if (DWih is not null) RecurrentKernel.WeightGradTransposed(X, 0, DXw, 0, Rows, null, 0, 0, InF, Shape.GateWidth, DWih, j0, jw, allowParallel, OverwriteWih);
        }

        /// <summary>Rows [r0, r0 + count) of the input's gradient.</summary>
        private readonly void DxRows(int r0, int count, bool allowParallel)
        {
            if (Dx is null || count <= 0) return;
            int g = Shape.GateWidth;
            Gemm.Run(false, false, count, InF, g, 1f, DXw, r0 * g, g, WIh, 0, InF, DxBeta, Dx, r0 * InF, InF, allowParallel);
        }
    }

    /// <summary>Adds layer-direction <paramref name="idx"/>'s h_0 gradient (the kernel's, or with no step h_n's) into <paramref name="grad"/>.</summary>
    private static void AddState(float[] grad, int idx, RecurrentWorkspace ws, int n, in RecurrentShape s, float[]? passThrough)
    {
        int nh = n * s.HiddenSize;
        var to = grad.AsSpan(idx * nh, nh);
        if (s.Steps > 0) TensorPrimitives.Add(to, ws.InitialGrad.AsSpan(0, nh), to);
        else if (passThrough is not null) TensorPrimitives.Add(to, passThrough.AsSpan(idx * nh, nh), to);
    }

    /// <summary>[N, T, F] (batch first) or [T, N, F] → time-major [T, N, F], written or added.</summary>
    private static void ToTimeMajor(in RecurrentShape s, float[] src, float[] dst, int n, int f, bool accumulate)
    {
        if (s.BatchFirst) AxisCopyKernel.SwapLeading(src, dst, n, s.Steps, f, accumulate);
        else CopyOrAdd(src, dst, s.Steps * n * f, accumulate);
    }

    /// <summary>Time-major [T, N, F] → [N, T, F] (batch first) or [T, N, F], written or added.</summary>
    private static void FromTimeMajor(in RecurrentShape s, float[] src, float[] dst, int n, int f, bool accumulate)
    {
        if (s.BatchFirst) AxisCopyKernel.SwapLeading(src, dst, s.Steps, n, f, accumulate);
        else CopyOrAdd(src, dst, s.Steps * n * f, accumulate);
    }

    private static void CopyOrAdd(float[] src, float[] dst, int count, bool accumulate)
    {
        if (accumulate) TensorPrimitives.Add(dst.AsSpan(0, count), src.AsSpan(0, count), dst.AsSpan(0, count));
        else src.AsSpan(0, count).CopyTo(dst);
    }
}
