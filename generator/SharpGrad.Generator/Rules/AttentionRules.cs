using System.Collections.Generic;
using System.Linq;

namespace SharpGrad.Generator.Rules;

/// <summary>
/// What the attention layers' geometries share: where the call's two masks come in. The masks are data the program reads at
/// each call (method arguments, the module's mask buffers, masks built in Forward): an attention mask ([T, T] or
/// [N·heads, T, T]) and a key padding mask ([N, T]); Bool or additive float.
/// </summary>
internal abstract record AttentionGeometry(EquatableArray<ParamSlot> Weights) : WholeLayerGeometry(Weights)
{
    /// <summary>The node input holding the attention mask (<c>src_mask</c>, <c>attn_mask</c>), or −1.</summary>
    public int MaskInput { get; init; } = -1;

    /// <summary>The node input holding the key padding mask (<c>src_key_padding_mask</c>, <c>key_padding_mask</c>), or −1.</summary>
    public int PaddingInput { get; init; } = -1;
}

/// <summary>
/// The attention layers compiled as one kernel call (<see cref="TransformerLayerRule"/>, <see cref="SelfAttentionRule"/>): one
/// layout of their masks — found among the call's inputs by the layer's parameter names, read as data, and passed to the
/// support call by the names of <c>CompiledSupport</c>'s parameters.
/// </summary>
internal abstract class AttentionLayerRule : WholeLayerRule
{
    /// <summary>The layer's parameter names of the attention mask and the key padding mask (as its Forward and catalogue row name them).</summary>
    protected abstract (string Mask, string Padding) MaskParameters { get; }

    /// <summary>
    /// The node inputs of the call's masks (−1 when not passed), or null when a mask is not data the program can read
    /// (a value computed with gradients).
    /// </summary>
    protected (int Mask, int Padding)? Masks(MethodDraft m, int i) => Masks(m, i, MaskParameters);

    /// <summary>The masks of the call by the layer's parameter names <paramref name="names"/>.</summary>
    protected static (int Mask, int Padding)? Masks(MethodDraft m, int i, (string Mask, string Padding) names)
    {
        var (maskName, paddingName) = names;
        int mask = InputOf(m, i, maskName), padding = InputOf(m, i, paddingName);
        if ((mask >= 0 && !m.IsRaw(m.In(i, mask))) || (padding >= 0 && !m.IsRaw(m.In(i, padding)))) return null;
        return (mask, padding);
    }

    /// <summary>The number of the call's inputs the masks take.</summary>
    protected static int MaskCount((int Mask, int Padding) masks) => (masks.Mask >= 0 ? 1 : 0) + (masks.Padding >= 0 ? 1 : 0);

    protected override IEnumerable<string> ForwardArguments(EmitContext e, NodePlan n)
    {
        var g = (AttentionGeometry)n.Geometry!;
        var (maskName, paddingName) = MaskParameters;
        if (g.MaskInput >= 0) yield return maskName + ": " + MethodEmitter.RawField(e, n.Inputs[g.MaskInput]);
        if (g.PaddingInput >= 0) yield return paddingName + ": " + MethodEmitter.RawField(e, n.Inputs[g.PaddingInput]);
    }
}

/// <summary>A Transformer encoder layer's geometry and the 12 parameters it differentiates, in PyTorch's order.</summary>
/// <remarks>
/// The sizes are C# text: constants, or the expressions of sizes bound when the module is built (<c>_sym_dModel</c>).
/// <c>BatchFirst</c> false: a layer built with <c>batch_first=False</c>, its values [T, N, E] (the batch in dim 1), which the
/// support call transposes to the kernel's [N, T, E] rows and back.
/// </remarks>
internal sealed record EncoderLayerGeometry(string DModel, string Heads, string FeedForward, string Steps, bool NormFirst, bool Gelu, double Eps,
    EquatableArray<ParamSlot> Weights, bool BatchFirst = true) : AttentionGeometry(Weights)
{
    /// <summary>The layer's <c>LayerNormEps</c> read from the built layer (given by a constructor parameter), or null (<see cref="Eps"/>).</summary>
    public string? EpsText { get; init; }

    /// <summary>PyTorch's unbatched call (src [T, E]): the program's rows are one sequence, passed as n (steps 0 in the constant).</summary>
    public bool Unbatched { get; init; }
}

/// <summary>
/// A TransformerEncoderLayer (batch first or second, with or without its src_mask and src_key_padding_mask, any dropout: in
/// training each of its four dropouts draws its mask from its module's generator in eager's order): self-attention (one GEMM for the packed q/k/v projection,
/// two per head, softmax, the out-projection), residuals, LayerNorms and the feed-forward block in one kernel call with a
/// workspace that keeps what the backward reads (<c>CompiledSupport.EncoderLayerForward</c>/<c>EncoderLayerBackward</c> over
/// <c>Kernels/TransformerLayer.cs</c>).
/// </summary>
internal sealed class TransformerLayerRule : AttentionLayerRule
{
    private static readonly string[] ParamNames =
    [
        "self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight", "self_attn.out_proj.bias", "linear1.weight", "linear1.bias",
        "linear2.weight", "linear2.bias", "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias",
    ];

    private static readonly string[] ParamExprs =
    [
        "SelfAttn.InProjWeight!", "SelfAttn.InProjBias!", "SelfAttn.OutProj.Weight", "SelfAttn.OutProj.Bias!", "Linear1.Weight", "Linear1.Bias!",
        "Linear2.Weight", "Linear2.Bias!", "Norm1.Weight!", "Norm1.Bias!", "Norm2.Weight!", "Norm2.Bias!",
    ];

    public override RuleKind Kind => RuleKind.TransformerLayer;

    protected override string Entry => "EncoderLayer";

    protected override string Workspace => "EncoderLayerWorkspace";

    protected override string ForwardComment(NodePlan n)
        => $"{n.Text}: self-attention (packed q/k/v GEMM, per head q·kᵀ, softmax, ·v; out-projection), residuals, LayerNorms, feed-forward";

    protected override string BackwardComment(NodePlan n) => $"d {n.Text}: the layer's backward through its workspace; its 12 parameters' gradients added";

    /// <summary>Why a call of the layer is not compiled (the parser makes it a graph break), or null.</summary>
    public static string? Unsupported(ChildSpec child, int tensorArguments)
    {
        if (tensorArguments > 3) return "a TransformerEncoderLayer call with more than src, src_mask and src_key_padding_mask";
        if (child.Arg("batchFirst") is { IsKnown: false }) return "a TransformerEncoderLayer whose batch_first is not known at build time";
        return null;
    }

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        if (m.Child(i) is not { } child || Unsupported(child, m.Node(i).Inputs.Count) is not null) return null;
        if (Masks(m, i) is not { } masks || m.Node(i).Inputs.Count != 1 + MaskCount(masks)) return null;
        // Batch first: [N, T, E]; batch_first=False: [T, N, E], the batch in dim 1.
        // Unbatched (PyTorch's 2-d src [T, E], batch_first ignored): the rows are the program's batch, run as one sequence.
        bool batchFirst = child.Int("batchFirst") == 1;
        int a = m.In(i, 0);
        var inS = m.Shapes[a];
        bool unbatched = inS.Rank == 2;
        if (unbatched) batchFirst = true;
        int batchAxis = batchFirst ? 0 : 1;
        if (!m.Batched[a] || m.BatchAxis[a] != batchAxis || !m.Batched[i] || m.BatchAxis[i] != batchAxis || inS.Rank != (unbatched ? 2 : 3)) return null;
        // Constant sizes are checked here (heads divide d_model); sizes bound when the module is built are read from the
        // layer, whose constructor checked them.
        if (child.Int("dModel") is { } dm && child.Int("nhead") is { } nh && (nh <= 0 || dm % nh != 0)) return null;
        if (SizeText(m, child, "dModel", inS[inS.Rank - 1]) is not { } d || LayerSize(m, child, "nhead") is not { } heads
            || (unbatched ? SelfAttentionRule.UnbatchedRows : DimText(m, inS[1 - batchAxis])) is not { } steps) return null;
        string? ff = child.Arg("dimFeedforward") is null ? MethodDraft.I(OpDefaults.TransformerLayer.DimFeedforward) : LayerSize(m, child, "dimFeedforward");
        if (ff is null) return null;
        string activation = child.Arg("activation")?.String ?? OpDefaults.TransformerLayer.Activation;
        if (activation is not ("relu" or "gelu")) return null;
        double eps = child.Arg("layerNormEps")?.Number ?? OpDefaults.TransformerLayer.LayerNormEps;
        var module = m.Program.Module(child);
        // layer_norm_eps from a constructor parameter (ChildParser.ReadAtRunTime): read from the built layer.
        string? epsText = child.Arg("layerNormEps") is { IsKnown: false } ? module.Field + ".LayerNormEps" : null;
        var weights = ParamNames.Select((name, k) => m.Program.Param(module.Field + "." + ParamExprs[k], module.Path + "." + name)).ToEquatableArray();
        return plan with
        {
            Rule = Kind,
            Module = module,
            Geometry = new EncoderLayerGeometry(d, heads, ff, steps, child.Int("normFirst") == 1, activation == "gelu", eps, weights, batchFirst)
            {
                MaskInput = masks.Mask, PaddingInput = masks.Padding, EpsText = epsText, ReadsLayer = epsText is not null, Unbatched = unbatched,
            },
        };
    }

    protected override (string Mask, string Padding) MaskParameters => ("srcMask", "srcKeyPaddingMask");

    protected override IEnumerable<string> ForwardArguments(EmitContext e, NodePlan n)
    {
        foreach (var mask in base.ForwardArguments(e, n)) yield return mask;
        var g = (EncoderLayerGeometry)n.Geometry!;
        if (!g.BatchFirst) yield return "batchFirst: false";
        if (g.Unbatched) yield return "unbatched: true";
    }

    protected override IEnumerable<string> BackwardArguments(EmitContext e, NodePlan n)
    {
        var g = (EncoderLayerGeometry)n.Geometry!;
        if (!g.BatchFirst) yield return "batchFirst: false";
        if (g.Unbatched) yield return "unbatched: true";
        if (e.OverwritesInput(n, 0)) yield return "overwriteInput: true";
        // The first writer of a fresh parameter gradient (after ZeroGrad) overwrites it: the entry did not clear it. One bit
        // per weight, set at run time from its flag (CompiledSupport.EncoderLayerBackward's overwriteWeights).
        var fresh = g.Weights.Select((s, k) => e.WritesFirst(n, s) ? $"({EmitContext.Fresh(s)} ? {1 << k} : 0)" : null).OfType<string>().ToList();
        if (fresh.Count > 0) yield return "overwriteWeights: " + string.Join(" | ", fresh);
    }

    /// <summary>The layer's backward writes its input's whole gradient (the residual's, then the attention's added) when told to.</summary>
    public override bool OverwritesInputGrad(NodePlan n, int slot) => slot == 0;

    /// <summary>
    /// The layer's backward writes the gradients of its 12 parameters when told they are fresh (the four linear weights' by their
    /// products with β = 0, the biases and LayerNorm parameters cleared first; <c>TransformerLayerKernel.Backward</c>'s
    /// overwriteWeights): transformer_train_step_b16's 1.6 MB of encoder-layer weight gradients are then neither cleared nor read back.
    /// </summary>
    public override bool OverwritesFreshParams => true;

    public override (string Type, string[] Arguments)? Constant(NodePlan n)
    {
        var g = (EncoderLayerGeometry)n.Geometry!;
        return ($"{EmitContext.Kernels}.EncoderLayerShape",
        [
            // Unbatched: the steps are the call's rows (n), which the support call sets.
            $"DModel: {g.DModel}", $"Heads: {g.Heads}", $"FeedForward: {g.FeedForward}", $"Steps: {(g.Unbatched ? "0" : g.Steps)}", $"NormFirst: {(g.NormFirst ? "true" : "false")}",
            $"Gelu: {(g.Gelu ? "true" : "false")}", $"LayerNormEps: {g.EpsText ?? MethodDraft.F64(g.Eps)}",
        ]);
    }
}

/// <summary>A MultiheadAttention self-attention's geometry, its four parameters in PyTorch's order and where its masks come in.</summary>
/// <remarks>The sizes are C# text: constants, or the expressions of sizes bound when the module is built.</remarks>
internal sealed record SelfAttentionGeometry(string EmbedDim, string Heads, string Steps, EquatableArray<ParamSlot> Weights) : AttentionGeometry(Weights)
{
    /// <summary>An unbatched call (<see cref="AttentionCall.Unbatched"/>): its geometry's steps are the call's rows, passed as n.</summary>
    public bool Unbatched { get; init; }
}

/// <summary>
/// A MultiheadAttention layer used as self-attention, <c>attn.Forward(x, x, x, …).Output</c> (batch first, packed in-projection
/// with biases, dropout 0), with or without its <c>key_padding_mask</c> and <c>attn_mask</c>; <c>need_weights</c> may be
/// anything, the weights are not taken (a call whose weights are taken is <see cref="CrossAttentionRule"/>'s, whose workspace
/// <see cref="AttentionWeightsRule"/> reads). One GEMM for the packed q/k/v projection, the attention kernel per sequence and head,
/// the out-projection, and the backward through a workspace (<c>CompiledSupport.SelfAttentionForward</c>/<c>SelfAttentionBackward</c>).
/// Every other batch-first call (no biases, kdim/vdim, key ≠ value, dropout, the weights taken) is <see cref="CrossAttentionRule"/>'s.
/// </summary>
internal sealed class SelfAttentionRule : AttentionLayerRule
{
    public override RuleKind Kind => RuleKind.SelfAttention;

    protected override string Entry => "SelfAttention";

    protected override string Workspace => "EncoderLayerWorkspace";

    protected override string ForwardComment(NodePlan n)
        => $"{n.Text}: self-attention (packed q/k/v GEMM, per head softmax(q·kᵀ/√d + masks)·v, the out-projection)";

    protected override string BackwardComment(NodePlan n) => $"d {n.Text}: the attention's backward through its workspace; its 4 parameters' gradients added";

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        if (Call(m, i, WeightsTaken(m, i)) is not { } call || !call.SelfAttention || !call.Packed || !call.Bias || !call.NoDropout || call.WeightsTaken || !call.BatchFirst) return null;
        return plan with
        {
            Rule = Kind,
            Module = call.Module,
            Geometry = new SelfAttentionGeometry(call.EmbedDim, call.Heads, call.Steps, call.Weights)
            {
                MaskInput = call.Masks.Mask, PaddingInput = call.Masks.Padding, Unbatched = call.Unbatched,
            },
        };
    }

    protected override IEnumerable<string> ForwardArguments(EmitContext e, NodePlan n)
    {
        foreach (var mask in base.ForwardArguments(e, n)) yield return mask;
        if (((SelfAttentionGeometry)n.Geometry!).Unbatched) yield return "unbatched: true";
    }

    protected override IEnumerable<string> BackwardArguments(EmitContext e, NodePlan n)
    {
        if (((SelfAttentionGeometry)n.Geometry!).Unbatched) yield return "unbatched: true";
    }

    /// <summary>
    /// Why a MultiheadAttention layer's calls are not compiled (the parser makes each call a graph break, SG1019, naming it),
    /// or null: batch_first, bias, kdim or vdim not constants (the parameters the program differentiates depend on them).
    /// </summary>
    public static string? Unsupported(ChildSpec child)
    {
        if (child.Arg("batchFirst") is { IsKnown: false }) return "a MultiheadAttention whose batch_first is not known at build time";
        if (Packed(child) is null)
        {
            return "a MultiheadAttention whose kdim/vdim are not constants (packed in_proj_weight or separate q_proj_weight, k_proj_weight and v_proj_weight is decided when the program is generated)";
        }
        if (Bias(child) is null) return "a MultiheadAttention whose bias is not a constant (its parameters are decided when the program is generated)";
        return null;
    }

    /// <summary>Whether the layer has the packed <c>in_proj_weight</c> (kdim and vdim absent, null or embed_dim, as PyTorch's <c>_qkv_same_embed_dim</c>), or null when not known.</summary>
    internal static bool? Packed(ChildSpec child)
    {
        bool? Same(string parameter) => child.Arg(parameter) switch
        {
            null or { IsKnown: true, Values.Count: 0 } => true,
            { IsKnown: true } a when child.Int("embedDim") is { } e => a.Values[0] == e,
            _ => null,
        };
        return Same("kdim") is { } k && Same("vdim") is { } v ? k && v : null;
    }

    /// <summary>Whether a live <see cref="GraphNode.WeightsOp"/> node reads the call <paramref name="i"/>'s weights.</summary>
    internal static bool WeightsTaken(MethodDraft m, int i)
        => m.Consumers[i].Any(c => m.Node(c.Node).Op == GraphNode.WeightsOp && m.Mode[c.Node] != 0);

    /// <summary>Whether the layer has in_proj_bias and out_proj.bias, or null when not known.</summary>
    internal static bool? Bias(ChildSpec child) => child.Arg("bias") is null ? true : child.Int("bias") is { } b ? b != 0 : null;

    /// <summary>
    /// What a MultiheadAttention call the compiled kernels take has: batch first or second (the query [L, N, E], key and value [S, N, ·]), its projections known (packed or kdim/vdim, biases
    /// or not), masks read as data, the query a batched [N, L, E] value, the key and value batched [N, S, ·] values (or the query
    /// itself), <c>need_weights</c>/<c>average_attn_weights</c> constants — <c>need_weights</c> true when the weights are taken
    /// (<paramref name="weightsTaken"/>, averaged or per head). Null when the call is none of these.
    /// </summary>
    internal static AttentionCall? Call(MethodDraft m, int i, bool weightsTaken = false)
    {
        if (m.Child(i) is not { } child) return null;
        var node = m.Node(i);
        int Input(string parameter) => InputOf(m, i, parameter);
        int query = Input("query"), key = Input("key"), value = Input("value");
        if (query != 0 || key < 0 || value < 0) return null;
        bool self = m.In(i, key) == m.In(i, query) && m.In(i, value) == m.In(i, query);
        int flags = 0;
        foreach (var flag in new[] { Input("needWeights"), Input("averageAttnWeights") })
        {
            if (flag < 0) continue;
            if (!m.IsConst(m.In(i, flag))) return null;
            flags++;
        }
        // The weights taken: need_weights true (the default); averaged over the heads or not, as the weights node says.
        if (weightsTaken && Input("needWeights") is >= 0 and var needWeights && m.Node(m.In(i, needWeights)).Value != 1) return null;
        var masks = Masks(m, i, ("attnMask", "keyPaddingMask"));
        if (masks is null || node.Inputs.Count != 3 + flags + MaskCount(masks.Value)) return null;
        if (child.Arg("batchFirst") is { IsKnown: false } || Packed(child) is not { } packed || Bias(child) is not { } bias) return null;
        // Batch first: [N, L, E]; batch_first=False: [L, N, E], the batch in dim 1. Unbatched (PyTorch's 2-d call, batch_first
        // ignored): the query [L, E] whose rows are the program's batch (its n), run by the kernels as one sequence of n steps.
        bool batchFirst = child.Int("batchFirst") == 1;
        int a = m.In(i, 0), batchAxis = batchFirst ? 0 : 1, stepAxis = 1 - batchAxis;
        var inS = m.Shapes[a];
        bool unbatched = inS.Rank == 2;
        if (unbatched) (batchFirst, batchAxis) = (true, 0);
        if (!m.Batched[a] || m.BatchAxis[a] != batchAxis || !m.Batched[i] || m.BatchAxis[i] != batchAxis || inS.Rank != (unbatched ? 2 : 3)) return null;
        if (child.Int("embedDim") is { } e && child.Int("numHeads") is { } h && (h <= 0 || e % h != 0)) return null;
        if (SizeText(m, child, "embedDim", inS[inS.Rank - 1]) is not { } d || LayerSize(m, child, "numHeads") is not { } heads) return null;
        if ((unbatched ? UnbatchedRows : DimText(m, inS[stepAxis])) is not { } steps) return null;
        // A key or value: its width and its length S as C# text. Unbatched: [S, ·], its rows the program's batch (S = the
        // query's n: self-attention, or a value computed from the query's rows) or a value of fixed shape (S a constant).
        string? Width(int input, out string? length)
        {
            int k = m.In(i, input);
            var kS = m.Shapes[k];
            length = null;
            if (!m.Live(k) || m.IsConst(k) || m.IsRaw(k) || kS.Rank != (unbatched ? 2 : 3)) return null;
            if (unbatched)
            {
                if (m.Batched[k] && m.BatchAxis[k] != 0) return null;
                // Of fixed length, or of a length symbol of its own (`[Shape("S", E)] memory`: S read from the input at each call).
                length = m.Batched[k] ? UnbatchedRows : DimText(m, kS[0]);
            }
            else
            {
                if (!m.Batched[k] || m.BatchAxis[k] != batchAxis) return null;
                length = DimText(m, kS[stepAxis]);
            }
            return DimText(m, kS[kS.Rank - 1]);
        }
        if (Width(key, out var keyLength) is not { } keyWidth || Width(value, out var valueLength) is not { } valueWidth || keyLength is null || keyLength != valueLength) return null;
        // Both fixed: the same constant; otherwise both the query's rows.
        if (unbatched && m.Batched[m.In(i, key)] != m.Batched[m.In(i, value)]) return null;
        string memorySteps = keyLength;
        var module = m.Program.Module(child);
        var names = new List<(string Name, string Expr)>();
        if (packed) names.Add(("in_proj_weight", "InProjWeight!"));
        else names.AddRange([("q_proj_weight", "QProjWeight!"), ("k_proj_weight", "KProjWeight!"), ("v_proj_weight", "VProjWeight!")]);
        if (bias) names.Add(("in_proj_bias", "InProjBias!"));
        names.Add(("out_proj.weight", "OutProj.Weight"));
        if (bias) names.Add(("out_proj.bias", "OutProj.Bias!"));
        var weights = names.Select(p => m.Program.Param(module.Field + "." + p.Expr, module.Path + "." + p.Name)).ToEquatableArray();
        return new AttentionCall(module, d, heads, steps, weights, masks.Value, key, value, memorySteps, keyWidth, valueWidth)
        {
            SelfAttention = self, Packed = packed, Bias = bias, NoDropout = child.Arg("dropout") is null or { Number: 0 }, WeightsTaken = weightsTaken, BatchFirst = batchFirst,
            Unbatched = unbatched,
        };
    }

    /// <summary>
    /// The length of an unbatched call's query (and of a key or value computed from its rows): the program's batch count
    /// <c>n</c>, in scope where the forward and backward calls are written; the support call runs the rows as one sequence.
    /// </summary>
    internal const string UnbatchedRows = "n";

    protected override (string Mask, string Padding) MaskParameters => ("attnMask", "keyPaddingMask");

    public override (string Type, string[] Arguments)? Constant(NodePlan n)
    {
        var g = (SelfAttentionGeometry)n.Geometry!;
        // Unbatched: the steps are the call's rows (n), which the support call sets.
        return ($"{EmitContext.Kernels}.EncoderLayerShape",
            [$"DModel: {g.EmbedDim}", $"Heads: {g.Heads}", "FeedForward: 0", $"Steps: {(g.Unbatched ? "0" : g.Steps)}", "NormFirst: false", "Gelu: false", "LayerNormEps: 0.0"]);
    }
}

/// <summary>
/// A MultiheadAttention call the compiled kernels take (<see cref="SelfAttentionRule.Call"/>): the layer, its sizes as C# text,
/// its parameters (in the layer's order), its masks' node inputs, the node inputs of the key and the value, the key's length
/// and the key's and value's widths as C# text.
/// </summary>
internal sealed record AttentionCall(ModuleRef Module, string EmbedDim, string Heads, string Steps, EquatableArray<ParamSlot> Weights,
    (int Mask, int Padding) Masks, int Key, int Value, string MemorySteps, string KeyWidth, string ValueWidth)
{
    /// <summary>The query, key and value are one value.</summary>
    public bool SelfAttention { get; init; }

    /// <summary>The layer has the packed in_proj_weight (no kdim/vdim).</summary>
    public bool Packed { get; init; }

    /// <summary>The layer has in_proj_bias and out_proj.bias.</summary>
    public bool Bias { get; init; }

    /// <summary>The layer's dropout is the constant 0.</summary>
    public bool NoDropout { get; init; }

    /// <summary>The call's weights are taken (a second result of the node, <see cref="AttentionWeightsRule"/>).</summary>
    public bool WeightsTaken { get; init; }

    /// <summary>The layer has batch_first=True ([N, L, E] values); false: [L, N, E], the batch in dim 1, which only <see cref="CrossAttentionRule"/> takes.</summary>
    public bool BatchFirst { get; init; } = true;

    /// <summary>
    /// PyTorch's unbatched call: the query [L, E] (its rows the program's batch), the key and value [S, ·]; run as one sequence
    /// (<see cref="BatchFirst"/> true whatever the layer's batch_first, which PyTorch ignores for it).
    /// </summary>
    public bool Unbatched { get; init; }
}

/// <summary>
/// A MultiheadAttention call's geometry for <see cref="CrossAttentionRule"/>: the self-attention's, plus where the key and value come
/// in, the key's length and the key's and value's widths.
/// </summary>
/// <remarks><c>BatchFirst</c> false: a layer built with <c>batch_first=False</c>, its values [L, N, E] and [S, N, ·], which the support call transposes to the kernel's rows and back.</remarks>
internal sealed record CrossAttentionGeometry(string EmbedDim, string Heads, string Steps, string MemorySteps, int KeyInput, int ValueInput, string KeyWidth,
    string ValueWidth, EquatableArray<ParamSlot> Weights, bool BatchFirst = true) : AttentionGeometry(Weights)
{
    /// <summary>An unbatched call (<see cref="AttentionCall.Unbatched"/>): its geometry's steps are the call's rows, passed as n.</summary>
    public bool Unbatched { get; init; }
}

/// <summary>
/// A MultiheadAttention call <c>attn.Forward(query, key, value, …).Output</c> other than the packed, biased, dropout-free
/// self-attention (<see cref="SelfAttentionRule"/>), and every batch-second call (batch_first=False, [L, N, E] values): the key and value the query, one other value (a decoder's
/// attention over the encoder's output) or two; packed or separate (kdim/vdim) projections, with or without biases; the layer's
/// dropout on the weights in training (the mask drawn from the layer's Rng as eager draws it); with or without its masks. q from
/// the query's rows, k and v over the key's and value's rows (one GEMM when they are one value under the packed weight), the
/// attention kernel per sequence and head, the out-projection; the backward gives the query's, key's and value's gradients through
/// a workspace (<c>CompiledSupport.CrossAttentionForward</c>/<c>CrossAttentionBackward</c> over <c>Kernels/CrossAttention.cs</c>).
/// </summary>
internal sealed class CrossAttentionRule : AttentionLayerRule
{
    public override RuleKind Kind => RuleKind.CrossAttention;

    protected override string Entry => "CrossAttention";

    protected override string Workspace => "CrossAttentionWorkspace";

    protected override (string Mask, string Padding) MaskParameters => ("attnMask", "keyPaddingMask");

    protected override string ForwardComment(NodePlan n)
        => $"{n.Text}: attention (q GEMM, k/v GEMMs over the key and value, per head softmax(q·kᵀ/√d + masks), dropout in training, ·v, the out-projection)";

    protected override string BackwardComment(NodePlan n)
        => $"d {n.Text}: the attention's backward through its workspace: the query's, key's and value's gradients, its {((WholeLayerGeometry)n.Geometry!).Weights.Count} parameters'";

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        if (SelfAttentionRule.Call(m, i, SelfAttentionRule.WeightsTaken(m, i)) is not { } call || (!call.WeightsTaken && call.SelfAttention && call.Packed && call.Bias && call.NoDropout && call.BatchFirst)) return null;
        return plan with
        {
            Rule = Kind,
            Module = call.Module,
            Geometry = new CrossAttentionGeometry(call.EmbedDim, call.Heads, call.Steps, call.MemorySteps, call.Key, call.Value, call.KeyWidth, call.ValueWidth,
                call.Weights, call.BatchFirst)
            {
                MaskInput = call.Masks.Mask, PaddingInput = call.Masks.Padding, Unbatched = call.Unbatched,
            },
        };
    }

    protected override IEnumerable<string> ForwardArguments(EmitContext e, NodePlan n)
    {
        var g = (CrossAttentionGeometry)n.Geometry!;
        yield return "key: " + e.Value(n.Inputs[g.KeyInput]);
        yield return "value: " + e.Value(n.Inputs[g.ValueInput]);
        yield return "memorySteps: " + g.MemorySteps;
        yield return "keyWidth: " + g.KeyWidth;
        yield return "valueWidth: " + g.ValueWidth;
        foreach (var mask in base.ForwardArguments(e, n)) yield return mask;
        if (!g.BatchFirst) yield return "batchFirst: false";
        if (g.Unbatched) yield return "unbatched: true";
    }

    protected override IEnumerable<string> BackwardArguments(EmitContext e, NodePlan n)
    {
        var g = (CrossAttentionGeometry)n.Geometry!;
        yield return "memorySteps: " + g.MemorySteps;
        yield return "keyWidth: " + g.KeyWidth;
        yield return "valueWidth: " + g.ValueWidth;
        yield return "gradKey: " + e.GradOrNull(n.Inputs[g.KeyInput]);
        yield return "gradValue: " + e.GradOrNull(n.Inputs[g.ValueInput]);
        if (!g.BatchFirst) yield return "batchFirst: false";
        if (g.Unbatched) yield return "unbatched: true";
    }

    public override (string Type, string[] Arguments)? Constant(NodePlan n)
    {
        var g = (CrossAttentionGeometry)n.Geometry!;
        // Unbatched: the steps are the call's rows (n), which the support call sets.
        return ($"{EmitContext.Kernels}.EncoderLayerShape",
            [$"DModel: {g.EmbedDim}", $"Heads: {g.Heads}", "FeedForward: 0", $"Steps: {(g.Unbatched ? "0" : g.Steps)}", "NormFirst: false", "Gelu: false", "LayerNormEps: 0.0"]);
    }

    /// <summary>The returned weights alone (result 1, <see cref="AttentionWeightsRule"/>) depend on the query and the key, not on the value.</summary>
    public override bool Differentiates(NodePlan n, int results, int slot) => (results & 1) != 0 || slot != ((CrossAttentionGeometry)n.Geometry!).ValueInput;

    /// <summary>The returned weights alone depend on neither the value's projection (<c>v_proj_weight</c>) nor the out-projection (GradientReach).</summary>
    public override IEnumerable<ParamSlot> Params(NodePlan n, int results)
        => (results & 1) != 0 ? Params(n) : Params(n).Where(p => !p.Path.EndsWith(".v_proj_weight", System.StringComparison.Ordinal) && !p.Path.EndsWith(".out_proj.weight", System.StringComparison.Ordinal)
            && !p.Path.EndsWith(".out_proj.bias", System.StringComparison.Ordinal));
}

/// <summary>
/// The weights a MultiheadAttention call returns (<c>var (output, weights) = attn.Forward(q, k, v, …)</c>, <c>….Weights</c>; PyTorch's
/// <c>attn_output_weights</c>, after dropout as <c>F.multi_head_attention_forward</c> returns them): a second result of the layer's
/// <see cref="CrossAttentionRule"/> node, batch first whatever the layer's batch_first — [N, L, S] averaged over the heads
/// (<c>average_attn_weights=True</c>, the default) or [N, heads, L, S] — computed from the probabilities the layer's forward keeps in
/// its workspace; its gradient goes back into the workspace, where the layer's backward (which runs after it) adds it to the
/// weights' gradient from the output (<c>CompiledSupport.AttentionWeights</c>/<c>AttentionWeightsBackward</c>), as
/// <see cref="RecurrentStateRule"/> does for a recurrent layer's final states.
/// </summary>
internal sealed class AttentionWeightsRule : Rule
{
    public override RuleKind Kind => RuleKind.AttentionWeights;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        int layer = m.In(i, 0);
        if (m.Nodes[layer].Rule != RuleKind.CrossAttention || m.Node(i).Scalar("average") is not { } average || !m.Batched[i]) return null;
        // Batch first, [N, L, S] or [N, heads, L, S]; unbatched, the query's rows the batch: [L, S] or [heads, L, S] (the batch in dim 1).
        bool unbatched = ((CrossAttentionGeometry)m.Nodes[layer].Geometry!).Unbatched;
        if (m.BatchAxis[i] != (unbatched && average.Value == 0 ? 1 : 0)) return null;
        return plan with { Rule = Kind, Geometry = new AttentionWeightsGeometry(average.Value != 0) };
    }

    /// <summary>Nothing: the value is computed from the layer's workspace, the gradient written into it.</summary>
    public override IEnumerable<int> Reads(IReadOnlyList<NodePlan> nodes, NodePlan n) => [];

    public override IEnumerable<ParamSlot> Params(NodePlan n) => [];

    /// <summary>The layer's second result (GradientReach: <see cref="CrossAttentionRule.Params(NodePlan, int)"/>).</summary>
    public override int InputResult(NodePlan n, int slot) => 1;

    private static IEnumerable<string> Arguments(EmitContext e, NodePlan n, string array)
    {
        var layer = e.Nodes[n.Inputs[0]];
        var g = (CrossAttentionGeometry)layer.Geometry!;
        string[] arguments = [((AttentionWeightsGeometry)n.Geometry!).Average ? "true" : "false", array, "n", e.Geometry(layer), g.MemorySteps, e.Scratch(layer, "workspace") + "!"];
        return g.Unbatched ? [.. arguments, "unbatched: true"] : arguments;
    }

    public override void Forward(EmitContext e, NodePlan n)
    {
        e.W.Comment($"{n.Text}: {(((AttentionWeightsGeometry)n.Geometry!).Average ? "averaged over the heads" : "per head")}, from the layer's workspace");
        e.W.Call($"{EmitContext.Support}.AttentionWeights", Arguments(e, n, e.Value(n.Index)).ToArray());
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        e.W.Comment($"d {n.Text}: kept in the layer's workspace for its backward");
        e.W.Call($"{EmitContext.Support}.AttentionWeightsBackward", Arguments(e, n, e.Grad(n.Index)).ToArray());
    }
}

/// <summary>Whether an <see cref="AttentionWeightsRule"/> node's weights are averaged over the heads ([N, L, S]) or per head ([N, heads, L, S]).</summary>
internal sealed record AttentionWeightsGeometry(bool Average) : Geometry;
