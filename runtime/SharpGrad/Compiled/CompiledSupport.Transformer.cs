using System.Runtime.CompilerServices;
using SharpGrad.Kernels;
using SharpGrad.Layers;

namespace SharpGrad;

// Glue of compiled Transformer layers: the layer's weights as arrays for the shared kernels (Kernels/TransformerLayer.cs).
public static partial class CompiledSupport
{
    private static readonly ConditionalWeakTable<Module, Module[]> LayerSubmodules = new();

    /// <summary>
    /// Throws when a hook is registered on a submodule of a built-in attention layer a generated program runs as one fused
    /// kernel (<c>layer.Norm1</c>, <c>attn.OutProj</c>): the program cannot call it, and skipping it would differ from eager.
    /// Hooks on the layer itself are called by the program.
    /// </summary>
    private static void RefuseSubmoduleHooks(Module layer)
    {
        var submodules = LayerSubmodules.GetValue(layer, static l => l.NamedModules().Select(m => m.Module).Where(m => !ReferenceEquals(m, l)).ToArray());
        foreach (var m in submodules)
        {
            if (!m.HasHooks) continue;
            string name = layer.NamedModules().First(p => ReferenceEquals(p.Module, m)).Name;
            throw new InvalidOperationException(
                $"Compiled program: a hook is registered on '{name}' inside a {layer.GetType().Name}, which the generated program runs as one fused kernel, so " +
                "it cannot call the hook. Register the hook on the layer itself, call the layer's own Compile() (it runs the hooks), or run the model eagerly.");
        }
    }

    /// <summary>Per thread: the batch-first rows of a batch-second call's input (or output gradient) and its output (or input gradient).</summary>
    [ThreadStatic] private static float[]? t_rowsIn, t_rowsOut;

    /// <summary>Per thread: the batch-first rows of a batch-second attention's key and value (or their gradients).</summary>
    [ThreadStatic] private static float[]? t_rowsKey, t_rowsValue;

    /// <summary>A thread's scratch of at least <paramref name="count"/> floats (cleared when <paramref name="clear"/>).</summary>
    private static float[] Rows(ref float[]? buffer, int count, bool clear)
    {
        if (buffer is null || buffer.Length < count) buffer = new float[count];
        else if (clear) Array.Clear(buffer, 0, count);
        return buffer;
    }

    /// <summary>
    /// Throws when a program generated for a batch-second layer (<paramref name="batchFirst"/> false: [T, N, E] values) runs a
    /// batch-first one. A batch-first call passes [N, T, E] rows, which a batch-second layer's own <c>Compile()</c> program
    /// also passes after transposing (so that direction is not checked).
    /// </summary>
    private static void CheckLayout(Module layer, bool layerBatchFirst, bool batchFirst)
    {
        if (!batchFirst && layerBatchFirst)
        {
            throw new InvalidOperationException(
                $"Compiled program: the {layer.GetType().Name} has batch_first={(layerBatchFirst ? "True" : "False")}, but the program was generated for " +
                $"batch_first={(batchFirst ? "True" : "False")}; rebuild the project.");
        }
    }

    /// <summary>A TransformerEncoderLayer's 12 weights in PyTorch's order, checked against the program's shape.</summary>
    private static float[][] EncoderLayerWeights(TransformerEncoderLayer layer, in EncoderLayerShape shape)
    {
        ArgumentNullException.ThrowIfNull(layer);
        var attn = layer.SelfAttn;
        if (layer.DModel != shape.DModel || layer.Nhead != shape.Heads || layer.DimFeedforward != shape.FeedForward || layer.NormFirst != shape.NormFirst
            || attn.InProjWeight is null || attn.InProjBias is null || attn.OutProj.Bias is null || layer.Norm1.Weight is null || layer.Norm2.Weight is null)
        {
            throw new InvalidOperationException(
                $"Compiled program: the TransformerEncoderLayer (d_model {layer.DModel}, nhead {layer.Nhead}, dim_feedforward {layer.DimFeedforward}) is not the " +
                $"one the program was generated for (d_model {shape.DModel}, nhead {shape.Heads}, dim_feedforward {shape.FeedForward}, with biases); rebuild the project.");
        }
        return Array.ConvertAll(layer.KernelParameters(), Dense);
    }

    /// <summary>A dropout submodule as the kernels run it: its p in training, inactive in evaluation; its generator.</summary>
    private static DropoutSite Site(Dropout dropout) => dropout.Training && dropout.P > 0 ? new DropoutSite(dropout.P, dropout.Rng) : default;

    /// <summary>A MultiheadAttention's dropout on its weights as the kernels run it (eager: <c>Training ? Dropout : 0</c>, its <c>Rng</c>).</summary>
    private static DropoutSite Site(MultiheadAttention attn) => attn.Training && attn.Dropout > 0 ? new DropoutSite(attn.Dropout, attn.Rng) : default;

    /// <summary>
    /// An encoder layer's dropouts as eager runs them (each submodule's own mode, p and generator), in the layout of the
    /// layer's tensors.
    /// </summary>
    private static TransformerDropout DropoutOf(TransformerEncoderLayer layer)
        => new(Site(layer.SelfAttn), Site(layer.Dropout1), Site(layer.Dropout), Site(layer.Dropout2), BatchSecond: !layer.BatchFirst);

    /// <summary>A decoder layer's six dropouts as eager runs them.</summary>
    private static TransformerDropout DropoutOf(TransformerDecoderLayer layer)
        => new(Site(layer.SelfAttn), Site(layer.Dropout1), Site(layer.Dropout), Site(layer.Dropout3), Site(layer.MultiheadAttn), Site(layer.Dropout2),
            BatchSecond: !layer.BatchFirst);

    /// <summary>
    /// A compiled TransformerEncoderLayer's forward (<see cref="TransformerLayerKernel.Forward"/>; in training its dropouts draw
    /// their masks from their modules' generators in eager's order, so a seeded run equals eager's) with PyTorch's optional <paramref name="srcMask"/> ([T, T] or [N·nhead, T, T]) and <paramref name="srcKeyPaddingMask"/>
    /// ([N, T]): Bool true marks what may not be attended, a float mask is added to the scores. With <paramref name="batchFirst"/>
    /// false (a layer built with <c>batch_first=False</c>) <paramref name="x"/> and <paramref name="y"/> are [T, N, E], transposed
    /// to and from the kernel's [N, T, E] rows. With <paramref name="unbatched"/> (PyTorch's 2-d call, src [T, E]) the program's
    /// <paramref name="n"/> rows are one sequence — steps n, batch 1 — and a key padding mask [T] is read as [1, T].
    /// </summary>
    public static void EncoderLayerForward(TransformerEncoderLayer layer, float[] x, float[] y, int n, EncoderLayerShape shape, EncoderLayerWorkspace workspace,
        Tensor? srcMask = null, Tensor? srcKeyPaddingMask = null, bool batchFirst = true, bool unbatched = false)
    {
        RefuseSubmoduleHooks(layer);
        CheckLayout(layer, layer.BatchFirst, batchFirst);
        if (unbatched) (shape, n, srcKeyPaddingMask) = Unbatched(shape, n, srcKeyPaddingMask, "TransformerEncoderLayer call (src [T, E])");
        var masks = AttentionMasksOf(srcMask, srcKeyPaddingMask, n, shape.Heads, shape.Steps, shape.Steps);
        var dropout = DropoutOf(layer);
        if (batchFirst)
        {
            TransformerLayerKernel.Forward(shape, x, y, n, EncoderLayerWeights(layer, shape), workspace, masks, dropout);
            return;
        }
        int t = shape.Steps, e = shape.DModel, count = n * t * e;
        var rowsIn = Rows(ref t_rowsIn, count, clear: false);
        var rowsOut = Rows(ref t_rowsOut, count, clear: false);
        AxisCopyKernel.SwapLeading(x, rowsIn, t, n, e, accumulate: false);
        TransformerLayerKernel.Forward(shape, rowsIn, rowsOut, n, EncoderLayerWeights(layer, shape), workspace, masks, dropout);
        AxisCopyKernel.SwapLeading(rowsOut, y, n, t, e, accumulate: false);
    }

    /// <summary>A TransformerDecoderLayer's 18 weights in PyTorch's order, checked against the program's shape.</summary>
    private static float[][] DecoderLayerWeights(TransformerDecoderLayer layer, in EncoderLayerShape shape)
    {
        ArgumentNullException.ThrowIfNull(layer);
        if (layer.DModel != shape.DModel || layer.Nhead != shape.Heads || layer.DimFeedforward != shape.FeedForward || layer.NormFirst != shape.NormFirst
            || (layer.Activation == "gelu") != shape.Gelu)
        {
            throw new InvalidOperationException(
                $"Compiled program: the TransformerDecoderLayer (d_model {layer.DModel}, nhead {layer.Nhead}, dim_feedforward {layer.DimFeedforward}) is not the " +
                $"one the program was generated for (d_model {shape.DModel}, nhead {shape.Heads}, dim_feedforward {shape.FeedForward}); rebuild the project.");
        }
        return Array.ConvertAll(layer.KernelParameters(), Dense);
    }

    /// <summary>
    /// A compiled TransformerDecoderLayer's forward (batch-first rows; <see cref="DecoderLayerKernel.Forward"/>, in training with its
    /// six dropouts' masks drawn from their modules' generators in eager's order) of
    /// <paramref name="x"/> [N, L, E] over <paramref name="memory"/> [N, S, E] with PyTorch's optional masks: <paramref name="tgtMask"/>
    /// [L, L] or [N·nhead, L, L], <paramref name="memoryMask"/> [L, S] or [N·nhead, L, S], <paramref name="tgtKeyPaddingMask"/>
    /// [N, L], <paramref name="memoryKeyPaddingMask"/> [N, S] (Bool true: not attended; float: added).
    /// </summary>
    public static void DecoderLayerForward(TransformerDecoderLayer layer, float[] x, float[] y, int n, EncoderLayerShape shape, DecoderLayerWorkspace workspace,
        float[] memory, int memorySteps, Tensor? tgtMask = null, Tensor? memoryMask = null, Tensor? tgtKeyPaddingMask = null, Tensor? memoryKeyPaddingMask = null)
        => DecoderLayerKernel.Forward(shape, x, memory, memorySteps, y, n, DecoderLayerWeights(layer, shape), workspace,
            AttentionMasksOf(tgtMask, tgtKeyPaddingMask, n, shape.Heads, shape.Steps, shape.Steps),
            AttentionMasksOf(memoryMask, memoryKeyPaddingMask, n, shape.Heads, shape.Steps, memorySteps), DropoutOf(layer));

    /// <summary>Its backward: the target's gradient added into <paramref name="gx"/>, the memory's into <paramref name="gradMemory"/>, each weight's into <paramref name="weightGrads"/>.</summary>
    public static void DecoderLayerBackward(TransformerDecoderLayer layer, float[] gy, float[]? gx, float[]?[] weightGrads, int n, EncoderLayerShape shape,
        DecoderLayerWorkspace workspace, int memorySteps, float[]? gradMemory)
        => DecoderLayerKernel.Backward(shape, memorySteps, gy, gx, gradMemory, n, DecoderLayerWeights(layer, shape), weightGrads, workspace);

    /// <summary>A MultiheadAttention's four weights (in_proj_weight, in_proj_bias, out_proj.weight, out_proj.bias), checked against the program's shape.</summary>
    private static float[][] SelfAttentionWeights(MultiheadAttention attn, in EncoderLayerShape shape)
    {
        ArgumentNullException.ThrowIfNull(attn);
        if (attn.EmbedDim != shape.DModel || attn.NumHeads != shape.Heads || attn.InProjWeight is null || attn.InProjBias is null || attn.OutProj.Bias is null)
        {
            throw new InvalidOperationException(
                $"Compiled program: the MultiheadAttention (embed_dim {attn.EmbedDim}, num_heads {attn.NumHeads}) is not the one the program was generated for " +
                $"(embed_dim {shape.DModel}, num_heads {shape.Heads}, packed in-projection with biases); rebuild the project.");
        }
        return [Dense(attn.InProjWeight), Dense(attn.InProjBias), Dense(attn.OutProj.Weight), Dense(attn.OutProj.Bias)];
    }

    /// <summary>
    /// A compiled MultiheadAttention's self-attention output (<c>attn.Forward(x, x, x, …).Output</c>, batch first, dropout 0;
    /// <see cref="TransformerLayerKernel.SelfAttentionForward"/>) with PyTorch's optional masks: <paramref name="keyPaddingMask"/>
    /// [N, T] and <paramref name="attnMask"/> [T, T] or [N·num_heads, T, T] (Bool true: not attended; float: added).
    /// With <paramref name="unbatched"/> (PyTorch's unbatched call, <paramref name="x"/> [L, E]; batch_first ignored) the program's
    /// <paramref name="n"/> rows are one sequence of L = n steps (<see cref="Unbatched"/>), the key padding mask [S].
    /// </summary>
    public static void SelfAttentionForward(MultiheadAttention attn, float[] x, float[] y, int n, EncoderLayerShape shape, EncoderLayerWorkspace workspace,
        Tensor? keyPaddingMask = null, Tensor? attnMask = null, bool unbatched = false)
    {
        RefuseSubmoduleHooks(attn);
        if (unbatched) (shape, n, keyPaddingMask) = Unbatched(shape, n, keyPaddingMask);
        TransformerLayerKernel.SelfAttentionForward(shape, x, y, n, SelfAttentionWeights(attn, shape), workspace,
            AttentionMasksOf(attnMask, keyPaddingMask, n, shape.Heads, shape.Steps, shape.Steps));
    }

    /// <summary>Its backward: the input's gradient added into <paramref name="gx"/>, each weight's into <paramref name="weightGrads"/>.</summary>
    public static void SelfAttentionBackward(MultiheadAttention attn, float[] gy, float[]? gx, float[]?[] weightGrads, int n, EncoderLayerShape shape,
        EncoderLayerWorkspace workspace, bool unbatched = false)
    {
        if (unbatched) (shape, n, _) = Unbatched(shape, n, null);
        TransformerLayerKernel.SelfAttentionBackward(shape, gy, gx, n, SelfAttentionWeights(attn, shape), weightGrads, workspace);
    }

    /// <summary>
    /// An unbatched attention call (PyTorch: a 2-d query [L, E], key and value [S, ·], key padding mask [S]) as the kernels run it:
    /// the program's <paramref name="rows"/> (its batch count, the query's L) one sequence — steps L, batch 1 (the data of [L, E] is
    /// that of [1, L, E]) — and the key padding mask [S] as [1, S]; a key padding mask of another rank is an error naming it.
    /// </summary>
    private static (EncoderLayerShape Shape, int N, Tensor? KeyPaddingMask) Unbatched(in EncoderLayerShape shape, int rows, Tensor? keyPaddingMask,
        string call = "MultiheadAttention call (query [L, E])")
    {
        if (keyPaddingMask is not null && keyPaddingMask.Rank != 1)
        {
            throw new ArgumentException(
                $"Compiled program: for an unbatched {call} the key padding mask must be 1-d [S], but got shape {ShapeUtil.Format(keyPaddingMask._shape)}.");
        }
        return (shape with { Steps = rows }, 1, keyPaddingMask?.Unsqueeze(0));
    }

    /// <summary>
    /// A MultiheadAttention's projections as the kernel reads them (packed <c>in_proj_weight</c> or <c>q/k/v_proj_weight</c>, with or
    /// without biases), checked against the program's shape and the key's and value's widths.
    /// </summary>
    private static AttentionProjections Projections(MultiheadAttention attn, in EncoderLayerShape shape, int keyWidth, int valueWidth)
    {
        ArgumentNullException.ThrowIfNull(attn);
        if (attn.EmbedDim != shape.DModel || attn.NumHeads != shape.Heads || attn.Kdim != keyWidth || attn.Vdim != valueWidth)
        {
            throw new InvalidOperationException(
                $"Compiled program: the MultiheadAttention (embed_dim {attn.EmbedDim}, num_heads {attn.NumHeads}, kdim {attn.Kdim}, vdim {attn.Vdim}) is not the one " +
                $"the program was generated for (embed_dim {shape.DModel}, num_heads {shape.Heads}, key width {keyWidth}, value width {valueWidth}); rebuild the project.");
        }
        float[]? inBias = attn.InProjBias is null ? null : Dense(attn.InProjBias), outBias = attn.OutProj.Bias is null ? null : Dense(attn.OutProj.Bias);
        if (attn.InProjWeight is not null) return AttentionProjections.Packed(Dense(attn.InProjWeight), inBias, Dense(attn.OutProj.Weight), outBias, attn.EmbedDim);
        return new AttentionProjections(Dense(attn.QProjWeight!), 0, Dense(attn.KProjWeight!), 0, Dense(attn.VProjWeight!), 0, inBias, Dense(attn.OutProj.Weight), outBias);
    }

    /// <summary>
    /// The gradients of a MultiheadAttention's parameters from the program's array, in the order of its parameters
    /// (<c>in_proj_weight</c> or <c>q_proj_weight</c>, <c>k_proj_weight</c>, <c>v_proj_weight</c>; <c>in_proj_bias</c>;
    /// <c>out_proj.weight</c>; <c>out_proj.bias</c>; the biases only when the layer has them).
    /// </summary>
    private static AttentionProjectionGrads ProjectionGrads(MultiheadAttention attn, float[]?[] g)
    {
        ArgumentNullException.ThrowIfNull(g);
        bool packed = attn.InProjWeight is not null, bias = attn.InProjBias is not null;
        int expected = (packed ? 1 : 3) + (bias ? 3 : 1);
        if (g.Length != expected)
        {
            throw new InvalidOperationException(
                $"Compiled program: the MultiheadAttention has {expected} parameters ({(packed ? "packed" : "separate q/k/v")} projections, {(bias ? "with" : "without")} biases), " +
                $"but the program was generated for {g.Length}; rebuild the project.");
        }
        int k = 0;
        var (qw, kw, vw) = packed ? (g[k], g[k], g[k++]) : (g[k++], g[k++], g[k++]);
        var inBias = bias ? g[k++] : null;
        var outWeight = g[k++];
        var outBias = bias ? g[k] : null;
        return new AttentionProjectionGrads(qw, kw, vw, inBias, outWeight, outBias);
    }

    /// <summary>
    /// A compiled MultiheadAttention's attention of <paramref name="x"/> [N, L, E] over <paramref name="key"/> [N, S, kdim] and
    /// <paramref name="value"/> [N, S, vdim] (<c>attn.Forward(x, key, value, …)</c>, batch first; the same array when key and value
    /// are one tensor, all three when it is self-attention; <see cref="CrossAttentionKernel"/>) with PyTorch's optional masks:
    /// <paramref name="keyPaddingMask"/> [N, S] and <paramref name="attnMask"/> [L, S] or [N·num_heads, L, S] (Bool true: not attended;
    /// float: added). In training, the layer's dropout on the weights draws its mask from the layer's <c>Rng</c> as eager does.
    /// The attention weights stay in the workspace for <see cref="AttentionWeights"/>.
    /// With <paramref name="batchFirst"/> false (a layer built with <c>batch_first=False</c>) <paramref name="x"/> and <paramref name="y"/>
    /// are [L, N, E], <paramref name="key"/> and <paramref name="value"/> [S, N, ·], transposed to and from the kernel's rows (one
    /// array stays one array, so self-attention and key = value keep their fused projections).
    /// With <paramref name="unbatched"/> (PyTorch's unbatched call: <paramref name="x"/> [L, E], <paramref name="key"/> and
    /// <paramref name="value"/> [S, ·], the key padding mask [S]; batch_first ignored) the program's <paramref name="n"/> rows are
    /// one sequence of L = n steps.
    /// </summary>
    public static void CrossAttentionForward(MultiheadAttention attn, float[] x, float[] y, int n, EncoderLayerShape shape, CrossAttentionWorkspace workspace,
        float[] key, float[] value, int memorySteps, int keyWidth, int valueWidth, Tensor? keyPaddingMask = null, Tensor? attnMask = null, bool batchFirst = true,
        bool unbatched = false)
    {
        RefuseSubmoduleHooks(attn);
        if (unbatched) (shape, n, keyPaddingMask) = Unbatched(shape, n, keyPaddingMask);
        CheckLayout(attn, attn.BatchFirst, batchFirst);
        var projections = Projections(attn, shape, keyWidth, valueWidth);
        var masks = AttentionMasksOf(attnMask, keyPaddingMask, n, shape.Heads, shape.Steps, memorySteps);
        double dropout = attn.Training ? attn.Dropout : 0;
        if (batchFirst)
        {
            CrossAttentionKernel.Forward(shape, x, key, value, memorySteps, keyWidth, valueWidth, y, n, projections, workspace, masks, dropout, attn.Rng);
            return;
        }
        int l = shape.Steps, e = shape.DModel;
        var rowsX = Rows(ref t_rowsIn, n * l * e, clear: false);
        AxisCopyKernel.SwapLeading(x, rowsX, l, n, e, accumulate: false);
        var rowsKey = ReferenceEquals(key, x) ? rowsX : Rows(ref t_rowsKey, n * memorySteps * keyWidth, clear: false);
        if (!ReferenceEquals(rowsKey, rowsX)) AxisCopyKernel.SwapLeading(key, rowsKey, memorySteps, n, keyWidth, accumulate: false);
        var rowsValue = ReferenceEquals(value, x) ? rowsX : ReferenceEquals(value, key) ? rowsKey : Rows(ref t_rowsValue, n * memorySteps * valueWidth, clear: false);
        if (!ReferenceEquals(rowsValue, rowsX) && !ReferenceEquals(rowsValue, rowsKey)) AxisCopyKernel.SwapLeading(value, rowsValue, memorySteps, n, valueWidth, accumulate: false);
        var rowsY = Rows(ref t_rowsOut, n * l * e, clear: false);
        CrossAttentionKernel.Forward(shape, rowsX, rowsKey, rowsValue, memorySteps, keyWidth, valueWidth, rowsY, n, projections, workspace, masks, dropout, attn.Rng);
        AxisCopyKernel.SwapLeading(rowsY, y, n, l, e, accumulate: false);
    }

    /// <summary>
    /// Its backward: the query's gradient added into <paramref name="gx"/>, the key's into <paramref name="gradKey"/>, the value's into
    /// <paramref name="gradValue"/>, each parameter's into <paramref name="weightGrads"/> (in the layer's parameter order); the returned
    /// weights' gradient, when <see cref="AttentionWeightsBackward"/> gave one, joins the output's.
    /// </summary>
    /// With <paramref name="batchFirst"/> false the gradients are [L, N, E] and [S, N, ·], as the forward's values.
    public static void CrossAttentionBackward(MultiheadAttention attn, float[] gy, float[]? gx, float[]?[] weightGrads, int n, EncoderLayerShape shape,
        CrossAttentionWorkspace workspace, int memorySteps, int keyWidth, int valueWidth, float[]? gradKey, float[]? gradValue, bool batchFirst = true,
        bool unbatched = false)
    {
        if (unbatched) (shape, n, _) = Unbatched(shape, n, null);
        var projections = Projections(attn, shape, keyWidth, valueWidth);
        var grads = ProjectionGrads(attn, weightGrads);
        if (batchFirst)
        {
            CrossAttentionKernel.Backward(shape, memorySteps, gy, gx, gradKey, gradValue, n, projections, grads, workspace);
            return;
        }
        int l = shape.Steps, e = shape.DModel;
        // One gradient array (self-attention, key = value) stays one row buffer, so the kernel's additions meet as eager's do.
        var (rowsGy, rowsGx) = ToRows(gy, gx, n, shape);
        float[]? rowsGKey = gradKey is null ? null : ReferenceEquals(gradKey, gx) ? rowsGx : Rows(ref t_rowsKey, n * memorySteps * keyWidth, clear: true);
        float[]? rowsGValue = gradValue is null ? null : ReferenceEquals(gradValue, gx) ? rowsGx : ReferenceEquals(gradValue, gradKey) ? rowsGKey
            : Rows(ref t_rowsValue, n * memorySteps * valueWidth, clear: true);
        CrossAttentionKernel.Backward(shape, memorySteps, rowsGy, rowsGx, rowsGKey, rowsGValue, n, projections, grads, workspace);
        if (gx is not null) AxisCopyKernel.SwapLeading(rowsGx!, gx, n, l, e, accumulate: true);
        if (gradKey is not null && !ReferenceEquals(gradKey, gx)) AxisCopyKernel.SwapLeading(rowsGKey!, gradKey, n, memorySteps, keyWidth, accumulate: true);
        if (gradValue is not null && !ReferenceEquals(gradValue, gx) && !ReferenceEquals(gradValue, gradKey))
        {
            AxisCopyKernel.SwapLeading(rowsGValue!, gradValue, n, memorySteps, valueWidth, accumulate: true);
        }
    }

    /// <summary>
    /// The attention weights of the layer's last <see cref="CrossAttentionForward"/> (PyTorch: the second result of
    /// <c>mha(query, key, value, need_weights=True, average_attn_weights=…)</c>, after dropout as PyTorch returns them), batch first
    /// whatever the layer's batch_first: averaged over the heads [N, L, S] (<paramref name="average"/>) or per head [N, heads, L, S];
    /// of an unbatched call (<paramref name="unbatched"/>, the program's <paramref name="n"/> rows its L), [L, S] or [heads, L, S].
    /// </summary>
    public static void AttentionWeights(bool average, float[] weights, int n, EncoderLayerShape shape, int memorySteps, CrossAttentionWorkspace workspace,
        bool unbatched = false)
    {
        if (unbatched) (shape, n, _) = Unbatched(shape, n, null);
        CrossAttentionKernel.Weights(shape, memorySteps, average, weights, n, workspace);
    }

    /// <summary>The gradient of <see cref="AttentionWeights"/>' result, kept in the workspace for the layer's backward (which runs after it).</summary>
    public static void AttentionWeightsBackward(bool average, float[] grad, int n, EncoderLayerShape shape, int memorySteps, CrossAttentionWorkspace workspace,
        bool unbatched = false)
    {
        if (unbatched) (shape, n, _) = Unbatched(shape, n, null);
        CrossAttentionKernel.WeightsBackward(shape, memorySteps, average, grad, n, workspace);
    }

    /// <summary>
    /// An attention's masks as the kernel adds them (<see cref="AttentionMasks"/>), checked against the sizes of the call (L
    /// queries over S keys): the attention mask [L, S] (shared) or [N·heads, L, S], the key padding mask [N, S]; Bool masks
    /// become 0 / −∞ as eager's.
    /// </summary>
    private static AttentionMasks AttentionMasksOf(Tensor? attnMask, Tensor? keyPaddingMask, int n, int heads, int l, int s)
    {
        float[]? shared = null, perHead = null, padding = null;
        if (attnMask is not null)
        {
            var additive = Functional.AdditiveMask(attnMask, DType.Float32, allowedWhereTrue: false);
            if (attnMask.Rank == 2 && attnMask.Size(0) == l && attnMask.Size(1) == s) shared = MaskData(additive);
            else if (attnMask.Rank == 3 && attnMask.Size(0) == n * heads && attnMask.Size(1) == l && attnMask.Size(2) == s) perHead = MaskData(additive);
            else
            {
                throw new ArgumentException(
                    $"Compiled program: the attention mask has shape {ShapeUtil.Format(attnMask._shape)}, but the call needs [{l}, {s}] or [{n * heads}, {l}, {s}] (batch × heads, L, S).");
            }
        }
        if (keyPaddingMask is not null)
        {
            if (keyPaddingMask.Rank != 2 || keyPaddingMask.Size(0) != n || keyPaddingMask.Size(1) != s)
            {
                throw new ArgumentException(
                    $"Compiled program: the key padding mask has shape {ShapeUtil.Format(keyPaddingMask._shape)}, but the call needs [{n}, {s}] ([N, S]).");
            }
            padding = MaskData(Functional.AdditiveMask(keyPaddingMask, DType.Float32, allowedWhereTrue: false));
        }
        return new AttentionMasks(shared, perHead, padding);

        static float[] MaskData(Tensor mask)
        {
            float[]? copy = null;
            return Dense(mask, ref copy);
        }
    }

    /// <summary>
    /// Its backward: the input's gradient added into <paramref name="gx"/> (written over its old contents when
    /// <paramref name="overwriteInput"/>: the generated program's first writer of that gradient, which it does not clear),
    /// each weight's into <paramref name="weightGrads"/> (written over the fresh ones of <paramref name="overwriteWeights"/>: bit i
    /// for weightGrads[i] when this layer is its first writer and it holds nothing to keep, so the entry did not clear it).
    /// </summary>
    public static void EncoderLayerBackward(TransformerEncoderLayer layer, float[] gy, float[]? gx, float[]?[] weightGrads, int n, EncoderLayerShape shape,
        EncoderLayerWorkspace workspace, bool batchFirst = true, bool unbatched = false, bool overwriteInput = false, int overwriteWeights = 0)
    {
        if (unbatched) (shape, n, _) = Unbatched(shape, n, null);
        if (batchFirst)
        {
            TransformerLayerKernel.Backward(shape, gy, gx, n, EncoderLayerWeights(layer, shape), weightGrads, workspace, overwriteInput, overwriteWeights);
            return;
        }
        var (rowsGy, rowsGx) = ToRows(gy, gx, n, shape);
        TransformerLayerKernel.Backward(shape, rowsGy, rowsGx, n, EncoderLayerWeights(layer, shape), weightGrads, workspace, overwriteWeights: overwriteWeights);
        if (gx is not null) AxisCopyKernel.SwapLeading(rowsGx!, gx, n, shape.Steps, shape.DModel, accumulate: !overwriteInput);
    }

    /// <summary>A batch-second backward's output gradient as [N, T, E] rows, and a cleared [N, T, E] input gradient when <paramref name="gx"/> is wanted.</summary>
    private static (float[] Gy, float[]? Gx) ToRows(float[] gy, float[]? gx, int n, in EncoderLayerShape shape)
    {
        int t = shape.Steps, e = shape.DModel, count = n * t * e;
        var rowsGy = Rows(ref t_rowsIn, count, clear: false);
        AxisCopyKernel.SwapLeading(gy, rowsGy, t, n, e, accumulate: false);
        return (rowsGy, gx is null ? null : Rows(ref t_rowsOut, count, clear: true));
    }
}
