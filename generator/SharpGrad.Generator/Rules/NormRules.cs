using System.Collections.Generic;

namespace SharpGrad.Generator.Rules;

/// <summary>
/// A BatchNorm1d/BatchNorm2d layer over [n, C, L]: the layer's step (running statistics, num_batches_tracked) and the
/// normalisation kernel; the statistics used are kept for the backward (<c>CompiledSupport.BatchNormForward</c>).
/// </summary>
internal sealed class BatchNormRule : Rule
{
    public override RuleKind Kind => RuleKind.BatchNorm;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        if (m.Child(i) is not { } child) return null;
        int a = m.In(i, 0);
        var inS = m.Shapes[a];
        if (!m.Batched[a] || inS.Rank < 2 || child.Arg("affine") is { IsKnown: false }) return null;
        // [n, C, L…]: C may be a size bound when the module is built (BatchNorm2d(planes)), read from the layer and checked
        // against the value's dim; the positions L… are constants.
        if (SizeText(m, child, "numFeatures", inS[1]) is not { } channels) return null;
        int length = 1;
        for (int d = 2; d < inS.Rank; d++)
        {
            if (!inS[d].IsFixed) return null;
            length *= inS[d].Size;
        }
        int c = inS[1].IsFixed ? inS[1].Size : 0;
        var module = m.Program.Module(child);
        bool affine = (child.Int("affine") ?? 1) != 0;
        return plan with
        {
            Rule = Kind,
            Module = module,
            Weight = affine ? m.Program.Param(module.Field + ".Weight!", module.Path + ".weight") : null,
            Bias = affine ? m.Program.Param(module.Field + ".Bias!", module.Path + ".bias") : null,
            Geometry = new NormGeometry(c, length) { ChannelsText = inS[1].IsFixed ? null : channels },
        };
    }

    public override IEnumerable<Scratch> Scratch(EmitContext e, NodePlan n)
    {
        var g = (NormGeometry)n.Geometry!;
        return [new("mean", "float[]", g.ChannelsCode), new("invstd", "float[]", g.ChannelsCode), new("batch_stats", "bool", null)];
    }

    public override void Forward(EmitContext e, NodePlan n)
    {
        var g = (NormGeometry)n.Geometry!;
        int a = n.Inputs[0];
        e.W.Comment($"{n.Text}: batch statistics in training (the running statistics updated as eager), running statistics in evaluation");
        e.W.Call($"{e.Scratch(n, "batch_stats")} = {EmitContext.Support}.BatchNormForward",
            [n.Module!.Field, e.Value(a), e.Value(n.Index), "n", g.ChannelsCode, MethodDraft.I(g.Length), e.Scratch(n, "mean"), e.Scratch(n, "invstd")]);
        e.ForwardHooks(n, a);
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        var g = (NormGeometry)n.Geometry!;
        int a = n.Inputs[0];
        e.W.Comment($"d {n.Text}: from the statistics the forward used");
        Hooks.Before(e, n, a);
        e.W.Call($"{EmitContext.Support}.BatchNormBackward",
        [
            n.Module!.Field, e.Value(a), e.Grad(n.Index), e.GradOrNull(a), e.Scratch(n, "mean"), e.Scratch(n, "invstd"),
            EmitContext.ParamGradOrNull(n.Weight), EmitContext.ParamGradOrNull(n.Bias), "n", g.ChannelsCode, MethodDraft.I(g.Length),
            e.Scratch(n, "batch_stats"),
        ]);
        Hooks.After(e, n, a);
    }
}

/// <summary>A LayerNorm layer over rows of its normalized shape; the statistics are kept for the backward.</summary>
internal sealed class LayerNormRule : Rule
{
    public override RuleKind Kind => RuleKind.LayerNorm;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        if (m.Child(i) is not { } child || child.Arg("normalizedShape") is not { } shape) return null;
        if (child.Arg("elementwiseAffine") is { IsKnown: false } || child.Arg("bias") is { IsKnown: false }) return null;
        int a = m.In(i, 0);
        int cols = 1;
        string? colsText = null;
        if (shape is { IsKnown: true, Values.Count: > 0 })
        {
            foreach (var v in shape.Values) cols *= v;
            if (cols == 0 || m.Features[a] % cols != 0) return null;
        }
        else if (shape.Symbol is { } symbol && m.Shapes[a] is { Rank: > 0 } inShape && inShape.Last.IsSymbol && m.Method.Canonical(inShape.Last.Symbol!) == m.Method.Canonical(symbol)
                 && m.Program.Sizes.Expression(symbol) is { } text)
        {
            colsText = text;   // LayerNorm(d), d bound when the module is built: rows of d over the last dim
        }
        else
        {
            return null;
        }
        var module = m.Program.Module(child);
        bool affine = (child.Int("elementwiseAffine") ?? 1) != 0;
        return plan with
        {
            Rule = Kind,
            Module = module,
            Weight = affine ? m.Program.Param(module.Field + ".Weight!", module.Path + ".weight") : null,
            Bias = affine && child.Int("bias") != 0 ? m.Program.Param(module.Field + ".Bias!", module.Path + ".bias") : null,
            Geometry = new NormGeometry(cols, 1) { ChannelsText = colsText },
        };
    }

    private static string Cols(NodePlan n) => ((NormGeometry)n.Geometry!).ChannelsText ?? MethodDraft.I(((NormGeometry)n.Geometry!).Channels);

    private static string Rows(EmitContext e, NodePlan n) => $"{e.Size(n.Index)} / {Cols(n)}";

    public override IEnumerable<Scratch> Scratch(EmitContext e, NodePlan n) => [new("mean", "float[]", Rows(e, n)), new("invstd", "float[]", Rows(e, n))];

    public override void Forward(EmitContext e, NodePlan n)
    {
        int a = n.Inputs[0];
        string cols = Cols(n);
        e.W.Comment(n.Text);
        e.W.Call($"{EmitContext.Support}.LayerNormForward", [n.Module!.Field, e.Value(a), e.Value(n.Index), Rows(e, n), cols, e.Scratch(n, "mean"), e.Scratch(n, "invstd")]);
        e.ForwardHooks(n, a);
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        int a = n.Inputs[0];
        string cols = Cols(n);
        e.W.Comment($"d {n.Text}: from the statistics the forward used");
        Hooks.Before(e, n, a);
        e.W.Call($"{EmitContext.Support}.LayerNormBackward",
        [
            n.Module!.Field, e.Value(a), e.Grad(n.Index), e.GradOrNull(a), e.Scratch(n, "mean"), e.Scratch(n, "invstd"),
            EmitContext.ParamGradOrNull(n.Weight), EmitContext.ParamGradOrNull(n.Bias), Rows(e, n), cols,
        ]);
        Hooks.After(e, n, a);
    }
}

/// <summary>
/// A GroupNorm/InstanceNorm layer's geometry: [n, C, L] data in <paramref name="Groups"/> groups (instance norm: C groups);
/// the channel and group counts are C# text (constants, or sizes bound when the module is built).
/// </summary>
internal sealed record GroupNormGeometry(string Channels, int Length, string Groups) : Geometry;

/// <summary>
/// A GroupNorm or InstanceNorm1d/2d layer (instance norm is group norm with one group per channel, as eager runs it): the
/// per-(sample, group) statistics are kept for the backward (<c>CompiledSupport.GroupNormForward</c> over
/// <c>Kernels/GroupNorm.cs</c>). An InstanceNorm with running statistics is a graph break (<see cref="Unsupported"/>).
/// </summary>
internal sealed class GroupNormRule : Rule
{
    public override RuleKind Kind => RuleKind.GroupNorm;

    /// <summary>Why a call of the layer is not compiled (the parser makes it a graph break), or null.</summary>
    public static string? Unsupported(ChildSpec child)
        => child.Arg("trackRunningStats") is { IsKnown: false } || child.Int("trackRunningStats") == 1
            ? "an InstanceNorm with track_running_stats=True (its running statistics are updated eagerly only)"
            : null;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        if (m.Child(i) is not { } child || Unsupported(child) is not null || child.Arg("affine") is { IsKnown: false }) return null;
        int a = m.In(i, 0);
        var inS = m.Shapes[a];
        if (!m.Batched[a] || inS.Rank < 3 || DimText(m, inS[1]) is not { } channels) return null;
        int length = 1;
        for (int d = 2; d < inS.Rank; d++)
        {
            if (!inS[d].IsFixed) return null;
            length *= inS[d].Size;
        }
        string groups;
        bool affine;
        if (child.Arg("numGroups") is not null)
        {
            // GroupNorm(groups, channels): constants are checked here, sizes bound when the module is built by the layer's
            // constructor (channels divisible by groups) and in Compile() (channels equal to the value's).
            if (child.Int("numGroups") is { } g && inS[1].IsFixed && (g <= 0 || inS[1].Size % g != 0)) return null;
            if (SizeText(m, child, "numChannels", inS[1]) is null || LayerSize(m, child, "numGroups") is not { } groupText) return null;
            groups = groupText;
            affine = (child.Int("affine") ?? 1) != 0;
        }
        else
        {
            affine = child.Int("affine") == 1;
            if ((affine && SizeText(m, child, "numFeatures", inS[1]) is null) || length <= 1) return null;   // eager's errors, at run time
            groups = channels;
        }
        var module = m.Program.Module(child);
        return plan with
        {
            Rule = Kind,
            Module = module,
            Weight = affine ? m.Program.Param(module.Field + ".Weight!", module.Path + ".weight") : null,
            Bias = affine ? m.Program.Param(module.Field + ".Bias!", module.Path + ".bias") : null,
            Geometry = new GroupNormGeometry(channels, length, groups),
        };
    }

    /// <summary>n·groups statistics: the element count over the elements of one group.</summary>
    private static string Stats(EmitContext e, NodePlan n) => $"n * {((GroupNormGeometry)n.Geometry!).Groups}";

    private static string[] Dims(NodePlan n)
    {
        var g = (GroupNormGeometry)n.Geometry!;
        return ["n", g.Channels, MethodDraft.I(g.Length), g.Groups];
    }

    public override IEnumerable<Scratch> Scratch(EmitContext e, NodePlan n) => [new("mean", "float[]", Stats(e, n)), new("invstd", "float[]", Stats(e, n))];

    public override void Forward(EmitContext e, NodePlan n)
    {
        int a = n.Inputs[0];
        e.W.Comment($"{n.Text}: per-sample statistics of each channel group");
        e.W.Call($"{EmitContext.Support}.GroupNormForward", [n.Module!.Field, e.Value(a), e.Value(n.Index), .. Dims(n), e.Scratch(n, "mean"), e.Scratch(n, "invstd")]);
        e.ForwardHooks(n, a);
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        int a = n.Inputs[0];
        e.W.Comment($"d {n.Text}: from the statistics the forward used");
        Hooks.Before(e, n, a);
        e.W.Call($"{EmitContext.Support}.GroupNormBackward",
        [
            n.Module!.Field, e.Value(a), e.Grad(n.Index), e.GradOrNull(a), e.Scratch(n, "mean"), e.Scratch(n, "invstd"),
            EmitContext.ParamGradOrNull(n.Weight), EmitContext.ParamGradOrNull(n.Bias), .. Dims(n),
        ]);
        Hooks.After(e, n, a);
    }
}

/// <summary>An RMSNorm layer over rows of its normalized shape (<c>Kernels/RmsNorm.cs</c>); each row's 1/rms is kept for the backward.</summary>
internal sealed class RmsNormRule : Rule
{
    public override RuleKind Kind => RuleKind.RmsNorm;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        if (m.Child(i) is not { } child || child.Arg("normalizedShape") is not { IsKnown: true } shape || shape.Values.Count == 0) return null;
        if (child.Arg("elementwiseAffine") is { IsKnown: false }) return null;
        int cols = 1;
        foreach (var v in shape.Values) cols *= v;
        int a = m.In(i, 0);
        if (cols == 0 || m.Features[a] % cols != 0) return null;
        var module = m.Program.Module(child);
        return plan with
        {
            Rule = Kind,
            Module = module,
            Weight = (child.Int("elementwiseAffine") ?? 1) != 0 ? m.Program.Param(module.Field + ".Weight!", module.Path + ".weight") : null,
            Geometry = new NormGeometry(cols, 1),
        };
    }

    private static string Rows(EmitContext e, NodePlan n) => $"{e.Size(n.Index)} / {MethodDraft.I(((NormGeometry)n.Geometry!).Channels)}";

    public override IEnumerable<Scratch> Scratch(EmitContext e, NodePlan n) => [new("invrms", "float[]", Rows(e, n))];

    public override void Forward(EmitContext e, NodePlan n)
    {
        int a = n.Inputs[0];
        e.W.Comment(n.Text);
        e.W.Call($"{EmitContext.Support}.RmsNormForward",
            [n.Module!.Field, e.Value(a), e.Value(n.Index), Rows(e, n), MethodDraft.I(((NormGeometry)n.Geometry!).Channels), e.Scratch(n, "invrms")]);
        e.ForwardHooks(n, a);
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        int a = n.Inputs[0];
        e.W.Comment($"d {n.Text}: from the 1/rms the forward kept");
        Hooks.Before(e, n, a);
        e.W.Call($"{EmitContext.Support}.RmsNormBackward",
        [
            n.Module!.Field, e.Value(a), e.Grad(n.Index), e.GradOrNull(a), e.Scratch(n, "invrms"), EmitContext.ParamGradOrNull(n.Weight), Rows(e, n),
            MethodDraft.I(((NormGeometry)n.Geometry!).Channels),
        ]);
        Hooks.After(e, n, a);
    }
}

/// <summary>An Embedding layer: rows of its table gathered by the (raw) index input; the backward scatters into the table's gradient.</summary>
internal sealed class EmbeddingRule : Rule
{
    public override RuleKind Kind => RuleKind.Embedding;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        // Unbatched indices too: a position embedding of `Tensor.Arange(T).Unsqueeze(0)` ([1, T] → [1, T, D]).
        if (m.Child(i) is not { } child || !m.IsRaw(m.In(i, 0))) return null;
        // Embedding(vocab, d) with d bound when the module is built: rows of d, the output's last dim.
        string? symbolic = child.Int("embeddingDim") is null && child.Arg("embeddingDim")?.Symbol is { } symbol && m.Shapes[i].Last.Symbol == symbol
            ? m.Program.Sizes.Expression(symbol) : null;
        if (child.Int("embeddingDim") is null && symbolic is null) return null;
        var module = m.Program.Module(child);
        return plan with
        {
            Rule = Kind,
            Module = module,
            Weight = m.Program.Param(module.Field + ".Weight", module.Path + ".weight"),
            Geometry = new EmbeddingGeometry(child.Int("embeddingDim") ?? 0) { DimText = symbolic },
        };
    }

    public override IEnumerable<int> Reads(IReadOnlyList<NodePlan> nodes, NodePlan n) => [];

    private static string Dim(NodePlan n) => ((EmbeddingGeometry)n.Geometry!).DimText ?? MethodDraft.I(((EmbeddingGeometry)n.Geometry!).Dim);

    private static string Count(EmitContext e, NodePlan n) => $"{e.Size(n.Index)} / {Dim(n)}";

    public override void Forward(EmitContext e, NodePlan n)
    {
        e.W.Comment(n.Text);
        e.W.Call($"{EmitContext.Support}.EmbeddingForward",
            [n.Module!.Field, MethodEmitter.RawField(e, n.Inputs[0]), e.Value(n.Index), Count(e, n), Dim(n)]);
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        e.W.Comment($"d {n.Text}: rows scattered into the table's gradient");
        e.W.Call($"{EmitContext.Support}.EmbeddingBackward",
        [
            n.Module!.Field, MethodEmitter.RawField(e, n.Inputs[0]), e.Grad(n.Index), EmitContext.ParamGradOrNull(n.Weight), Count(e, n), Dim(n),
        ]);
    }
}
