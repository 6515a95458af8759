using System.Collections.Generic;

namespace SharpGrad.Generator.Rules;

/// <summary>
/// A BatchNorm1d/BatchNorm2d layer over [n, C, L]: the layer's step (running statistics, num_batches_tracked) and the
/// normalisation kernel; the statistics used are kept for the backward (<c>CompiledSupport.BatchNormForward</c>). Its
/// Functional form, <c>Functional.BatchNorm(x, runningMean, runningVar, weight, bias, training, momentum, eps)</c>
/// (PyTorch's <c>F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, self.training, …)</c>), is the
/// same kernel and backward with the tensors the call passes: the running statistics the module's own buffers (updated in
/// place in training, as eager updates them; left out or <c>null</c>: batch statistics always), the weight and bias
/// values of the program (the module's own parameters) or left out (<c>CompiledSupport.FunctionalBatchNormForward</c>).
/// </summary>
internal sealed class BatchNormRule : Rule
{
    public override RuleKind Kind => RuleKind.BatchNorm;

    /// <summary>The Functional form's tensors after x, in order, by role: running mean, running variance, weight, bias.</summary>
    private static readonly (string Name, char Role)[] FunctionalTensors = [("runningMean", 'm'), ("runningVar", 'v'), ("weight", 'w'), ("bias", 'b')];

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        if (m.Child(i) is not { } child) return PlanFunctional(m, i, plan);
        int a = m.In(i, 0);
        var inS = m.Shapes[a];
        if (!m.Batched[a] || inS.Rank < 2 || child.Arg("affine") is { IsKnown: false }) return null;
        // [n, C, L…]: C may be a size bound when the module is built (BatchNorm2d(planes)), read from the layer and checked
        // against the value's dim; the positions L… are constants.
        if (SizeText(m, child, "numFeatures", inS[1]) is not { } channels) return null;
        if (SpatialLength(inS) is not { } length) return null;
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

    /// <summary>The product of the dims after the channels, all constants (null when one is not).</summary>
    internal static int? SpatialLength(TensorShape shape)
    {
        int length = 1;
        for (int d = 2; d < shape.Rank; d++)
        {
            if (!shape[d].IsFixed) return null;
            length *= shape[d].Size;
        }
        return length;
    }

    /// <summary>
    /// <c>Functional.BatchNorm</c>: x batched [n, C, L…] with C and L constants; the running statistics both given (raw
    /// [Buffer]s of the module, read as tensors and updated in place) or both left out; the weight and bias values of the
    /// program of shape [C]; training a constant or the module's <c>Training</c>; momentum and eps constants.
    /// Args: eps, momentum, the roles of the tensors given after x (<see cref="FunctionalTensors"/>).
    /// </summary>
    private static NodePlan? PlanFunctional(MethodDraft m, int i, NodePlan plan)
    {
        var node = m.Node(i);
        var inputs = node.Inputs;
        int x = inputs[0];
        var xs = m.Shapes[x];
        if (!m.Batched[x] || !m.Batched[i] || m.BatchAxis[x] != 0 || xs.Rank < 2 || !xs[1].IsFixed || SpatialLength(xs) is not { } length) return null;
        int channels = xs[1].Size;
        var omitted = (node.Scalar(GraphNode.OmittedTensors)?.String ?? "").Split(',');
        string roles = "";
        foreach (var (name, role) in FunctionalTensors) if (System.Array.IndexOf(omitted, name) < 0) roles += role;
        if (roles.Length != inputs.Count - 1 || roles.Contains("m") != roles.Contains("v")) return null;   // eager's error, at run time
        for (int k = 1; k < inputs.Count; k++)
        {
            int p = inputs[k];
            if (m.Batched[p] || m.IsConst(p) || m.IsSymbolic(p) || m.Shapes[p] is not { Rank: 1 } ps || !ps[0].IsFixed || ps[0].Size != channels) return null;
            bool runningStat = roles[k - 1] is 'm' or 'v';
            if (m.IsRaw(p) != runningStat) return null;   // the running statistics are the tensors themselves; weight and bias values
        }
        var args = m.Arguments(i);
        if (args.Has("eps") && args.Number("eps") is null || args.Has("momentum") && args.Number("momentum") is null) return null;
        var row = m.Row(i)!;
        double eps = args.Number("eps") ?? row.Param("eps")!.DefaultNumber ?? 1e-5;
        double momentum = args.Number("momentum") ?? row.Param("momentum")!.DefaultNumber ?? 0.1;
        string training;
        var flag = node.Scalar("training");
        if (flag is null || flag.Text.Length == 0) training = "false";   // F.batch_norm's default
        else if (flag.IsKnown) training = flag.Value != 0 ? "true" : "false";
        else if (IsTrainingArgument(flag.Text)) training = "_m.Training";
        else return null;
        return plan with
        {
            Rule = RuleKind.BatchNorm,
            Geometry = new NormGeometry(channels, length),
            Args = new[] { MethodDraft.F64(eps), MethodDraft.F64(momentum), roles }.ToEquatableArray(),
            Training = training,
        };
    }

    /// <summary>The input of the Functional form's tensor of <paramref name="role"/>, or -1 when the call left it out.</summary>
    private static int FunctionalInput(NodePlan n, char role)
    {
        int at = n.Args[2].IndexOf(role);
        return at < 0 ? -1 : n.Inputs[1 + at];
    }

    public override IEnumerable<int> Reads(IReadOnlyList<NodePlan> nodes, NodePlan n)
    {
        yield return n.Inputs[0];
        if (n.Module is null && FunctionalInput(n, 'w') is var w && w >= 0) yield return w;
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
        if (n.Module is null)
        {
            string Tensor(char role) => FunctionalInput(n, role) is var k && k >= 0 ? MethodEmitter.RawField(e, k) : "null";
            string Value(char role) => FunctionalInput(n, role) is var k && k >= 0 ? e.Value(k) : "null";
            e.W.Comment($"{n.Text}: the BatchNorm kernel, batch statistics when training{(n.Args[2].Contains("m") ? " (the running statistics updated in place, as eager), the running statistics otherwise" : "")}");
            e.W.Call($"{e.Scratch(n, "batch_stats")} = {EmitContext.Support}.FunctionalBatchNormForward",
            [
                e.Value(a), Tensor('m'), Tensor('v'), Value('w'), Value('b'), e.Value(n.Index), "n", g.ChannelsCode, MethodDraft.I(g.Length), n.Training,
                n.Args[1], n.Args[0], e.Scratch(n, "mean"), e.Scratch(n, "invstd"),
            ]);
            return;
        }
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
        if (n.Module is null)
        {
            string Value(char role) => FunctionalInput(n, role) is var k && k >= 0 ? e.Value(k) : "null";
            string Grad(char role) => FunctionalInput(n, role) is var k && k >= 0 ? e.GradOrNull(k) : "null";
            e.W.Call($"{EmitContext.Support}.FunctionalBatchNormBackward",
            [
                e.Value(a), e.Grad(n.Index), e.GradOrNull(a), e.Scratch(n, "mean"), e.Scratch(n, "invstd"), Value('w'), Grad('w'), Grad('b'),
                "n", g.ChannelsCode, MethodDraft.I(g.Length), e.Scratch(n, "batch_stats"),
            ]);
            return;
        }
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
        // Rows of the normalized dims, which are after the batch wherever it is (a batch-second [T, N, E]: MethodDraft.AfterBatch).
        if (shape is { IsKnown: true, Values.Count: > 0 })
        {
            foreach (var v in shape.Values) cols *= v;
            if (cols == 0 || m.Features[a] % cols != 0 || !m.AfterBatch(a, m.Shapes[a].Rank - shape.Values.Count)) return null;
        }
        else if (shape.Symbol is { } symbol && m.Shapes[a] is { Rank: > 0 } inShape && m.AfterBatch(a, inShape.Rank - 1) && inShape.Last.IsSymbol && m.Method.Canonical(inShape.Last.Symbol!) == m.Method.Canonical(symbol)
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
/// <c>Kernels/GroupNorm.cs</c>). An InstanceNorm with track_running_stats=True runs eager's <c>Functional.InstanceNorm</c>
/// steps (<c>CompiledSupport.InstanceNormForward</c>): in training the instance statistics, the running statistics updated
/// from them in place; in evaluation the running statistics; the flag of which was used kept for the backward.
/// </summary>
internal sealed class GroupNormRule : Rule
{
    public override RuleKind Kind => RuleKind.GroupNorm;

    /// <summary>Why a call of the layer is not compiled (the parser makes it a graph break), or null.</summary>
    public static string? Unsupported(ChildSpec child)
        => child.Arg("trackRunningStats") is { IsKnown: false }
            ? "an InstanceNorm whose track_running_stats is not known at build time"
            : null;

    /// <summary>True for an InstanceNorm layer with running statistics (Args: "track").</summary>
    private static bool Tracks(NodePlan n) => n.Args.Count > 0 && n.Args[0] == "track";

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
        bool affine, track = false;
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
            track = child.Int("trackRunningStats") == 1;
            if (((affine || track) && SizeText(m, child, "numFeatures", inS[1]) is null) || length <= 1) return null;   // eager's errors, at run time
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
            Args = track ? new[] { "track" }.ToEquatableArray() : plan.Args,
        };
    }

    /// <summary>n·groups statistics: the element count over the elements of one group.</summary>
    private static string Stats(EmitContext e, NodePlan n) => $"n * {((GroupNormGeometry)n.Geometry!).Groups}";

    private static string[] Dims(NodePlan n)
    {
        var g = (GroupNormGeometry)n.Geometry!;
        return ["n", g.Channels, MethodDraft.I(g.Length), g.Groups];
    }

    public override IEnumerable<Scratch> Scratch(EmitContext e, NodePlan n)
        => Tracks(n)
            ? [new("mean", "float[]", Stats(e, n)), new("invstd", "float[]", Stats(e, n)), new("variance", "double[]", Stats(e, n)), new("input_stats", "bool", null)]
            : [new("mean", "float[]", Stats(e, n)), new("invstd", "float[]", Stats(e, n))];

    public override void Forward(EmitContext e, NodePlan n)
    {
        int a = n.Inputs[0];
        if (Tracks(n))
        {
            var g = (GroupNormGeometry)n.Geometry!;
            e.W.Comment($"{n.Text}: each instance's statistics in training (the running statistics updated as eager), the running statistics in evaluation");
            e.W.Call($"{e.Scratch(n, "input_stats")} = {EmitContext.Support}.InstanceNormForward",
                [n.Module!.Field, e.Value(a), e.Value(n.Index), "n", g.Channels, MethodDraft.I(g.Length), e.Scratch(n, "mean"), e.Scratch(n, "invstd"), e.Scratch(n, "variance")]);
            e.ForwardHooks(n, a);
            return;
        }
        e.W.Comment($"{n.Text}: per-sample statistics of each channel group");
        e.W.Call($"{EmitContext.Support}.GroupNormForward", [n.Module!.Field, e.Value(a), e.Value(n.Index), .. Dims(n), e.Scratch(n, "mean"), e.Scratch(n, "invstd")]);
        e.ForwardHooks(n, a);
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        int a = n.Inputs[0];
        e.W.Comment($"d {n.Text}: from the statistics the forward used");
        Hooks.Before(e, n, a);
        if (Tracks(n))
        {
            var g = (GroupNormGeometry)n.Geometry!;
            e.W.Call($"{EmitContext.Support}.InstanceNormBackward",
            [
                n.Module!.Field, e.Value(a), e.Grad(n.Index), e.GradOrNull(a), e.Scratch(n, "mean"), e.Scratch(n, "invstd"),
                EmitContext.ParamGradOrNull(n.Weight), EmitContext.ParamGradOrNull(n.Bias), "n", g.Channels, MethodDraft.I(g.Length), e.Scratch(n, "input_stats"),
            ]);
        }
        else
        {
            e.W.Call($"{EmitContext.Support}.GroupNormBackward",
            [
                n.Module!.Field, e.Value(a), e.Grad(n.Index), e.GradOrNull(a), e.Scratch(n, "mean"), e.Scratch(n, "invstd"),
                EmitContext.ParamGradOrNull(n.Weight), EmitContext.ParamGradOrNull(n.Bias), .. Dims(n),
            ]);
        }
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

    /// <summary>
    /// The lookup, then the layer's forward pre-hooks and forward hooks (as eager's call runs them) with a copy of the indices
    /// and of the rows gathered (<c>CompiledSupport.EmbeddingForwardHooks</c>).
    /// </summary>
    public override void Forward(EmitContext e, NodePlan n)
    {
        var module = n.Module!;
        string indices = MethodEmitter.RawField(e, n.Inputs[0]);
        e.W.Comment(n.Text);
        e.W.Call($"{EmitContext.Support}.EmbeddingForward", [module.Field, indices, e.Value(n.Index), Count(e, n), Dim(n)]);
        e.W.Call($"if ({EmitContext.Support}.HasForwardHooks({module.Field})) {EmitContext.Support}.EmbeddingForwardHooks",
            [module.Field, indices, e.Value(n.Index), e.ShapeExpr(n.Index)]);
    }

    /// <summary>
    /// The layer's full backward hooks (eager's: grad_input (null,) for the integer indices, grad_output the rows' gradient;
    /// only when the table's gradient is wanted, as eager's output requires grad only then), then the scatter into the table's
    /// gradient. Into a recurrent layer (<see cref="EmbeddingGeometry.IntoRecurrent"/>) the rows' gradient exists only when
    /// that layer's backward wrote it — when either layer has backward hooks (<c>CompiledSupport.EmbeddingAfterRecurrent</c>),
    /// checked at run time since hooks are registered then.
    /// </summary>
    public override void Backward(EmitContext e, NodePlan n)
    {
        var module = n.Module!;
        var into = ((EmbeddingGeometry)n.Geometry!).IntoRecurrent;
        string tableGrad = EmitContext.ParamGradOrNull(n.Weight);
        e.W.Comment(into is null ? $"d {n.Text}: rows scattered into the table's gradient"
            : $"d {n.Text}: the table's gradient added by {into}'s backward, unless either layer's hooks need the rows' gradient");
        e.WhenHooksReached(n.Index, () => e.W.Call($"if ({EmitContext.Support}.HasBackwardHooks({module.Field})) {EmitContext.Support}.EmbeddingBackwardHooks",
            [module.Field, tableGrad, e.Grad(n.Index), e.ShapeExpr(n.Index)]));
        e.W.Call((into is null ? "" : $"if ({EmitContext.Support}.EmbeddingAfterRecurrent({into}, {module.Field})) ") + $"{EmitContext.Support}.EmbeddingBackward",
        [
            module.Field, MethodEmitter.RawField(e, n.Inputs[0]), e.Grad(n.Index), tableGrad, Count(e, n), Dim(n),
        ]);
    }
}
