using System.Collections.Generic;

namespace SharpGrad.Generator.Rules;

/// <summary>
/// <c>Functional.Linear(x, weight, bias)</c> (PyTorch's <c>F.linear</c>) with a weight and bias that are values of the
/// program — the module's own parameters (<see cref="MemberRule"/>), or any unbatched value of fixed shape —: y = x·Wᵀ + b
/// over the rows of x (every dim between the batch and the last, a length T too), one GEMM; the backward's GEMMs write
/// the gradients of x, W and b, which the member nodes add to the parameters' gradients.
/// </summary>
internal sealed class FunctionalLinearRule : Rule
{
    public override RuleKind Kind => RuleKind.FunctionalLinear;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        var inputs = m.Node(i).Inputs;
        if (!FunctionalWeights.Take(m, i)) return null;
        int x = inputs[0], w = inputs[1];
        var ws = m.Shapes[w];
        var xs = m.Shapes[x];
        if (ws.Rank != 2 || !ws[0].IsFixed || !ws[1].IsFixed || xs.Rank < 2 || !xs.Last.Equals(ws[1]) || !m.AfterBatch(x, xs.Rank - 1)) return null;
        if (inputs.Count == 3 && !(m.Shapes[inputs[2]] is { Rank: 1 } bs && bs[0].Equals(ws[0]))) return null;
        int inF = ws[1].Size, outF = ws[0].Size;
        var geometry = new LinearGeometry(inF, outF, m.ItemProduct(x, 0, xs.Rank - 1)) { RowsText = m.ItemProductText(x, 0, xs.Rank - 1) };
        return plan with { Rule = Kind, Geometry = geometry };
    }

    public override (string Type, string[] Arguments)? Constant(NodePlan n)
    {
        var g = (LinearGeometry)n.Geometry!;
        return ($"{EmitContext.Kernels}.LinearShape", [$"InFeatures: {MethodDraft.I(g.InFeatures)}", $"OutFeatures: {MethodDraft.I(g.OutFeatures)}", $"RowsPerItem: {g.RowsText ?? MethodDraft.I(g.RowsPerItem)}"]);
    }

    private static string Bias(EmitContext e, NodePlan n) => n.Inputs.Count == 3 ? e.Value(n.Inputs[2]) : "null";

    public override void Forward(EmitContext e, NodePlan n)
    {
        e.W.Comment($"{n.Text}: x · weightᵀ{(n.Inputs.Count == 3 ? " + bias" : "")} by one GEMM");
        e.W.Call($"{EmitContext.Support}.FunctionalLinearForward", [e.Value(n.Inputs[0]), e.Value(n.Inputs[1]), Bias(e, n), e.Value(n.Index), "n", e.Geometry(n)]);
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        int x = n.Inputs[0], w = n.Inputs[1];
        e.W.Comment($"d {n.Text}: dx += dy · weight, dweight += dyᵀ · x{(n.Inputs.Count == 3 ? ", dbias += dy summed over rows" : "")}");
        e.W.Call($"{EmitContext.Support}.FunctionalLinearBackward",
            [e.Value(x), e.Value(w), e.Grad(n.Index), e.GradOrNull(x), e.GradOrNull(w), n.Inputs.Count == 3 ? e.GradOrNull(n.Inputs[2]) : "null", "n", e.Geometry(n)]);
    }
}

/// <summary>
/// <c>Functional.LayerNorm(x, normalizedShape, weight, bias, eps)</c> (PyTorch's <c>F.layer_norm</c>) with a weight and bias
/// that are values of the program (the module's own parameters) or without them: the LayerNorm kernel eager runs, over
/// the rows of the trailing <c>normalizedShape</c> dims (a length T among the leading dims too), the statistics kept for
/// the backward, which adds into the gradients of x, the weight and the bias.
/// </summary>
internal sealed class FunctionalLayerNormRule : Rule
{
    public override RuleKind Kind => RuleKind.FunctionalLayerNorm;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        var inputs = m.Node(i).Inputs;
        // The affine pair both given (weight, bias) or neither: one of them alone is ambiguous by position (not compiled yet).
        if (m.Child(i) is not null || inputs.Count is not (1 or 3)) return null;
        var args = m.Arguments(i);
        int x = inputs[0];
        if (!m.Batched[x] || !m.Batched[i] || m.BatchAxis[x] != 0 || args.Ints("normalizedShape") is not { Count: > 0 } normalized) return null;
        if (args.Has("eps") && args.Number("eps") is null) return null;
        double eps = args.Number("eps") ?? OpCatalogue.Find("LayerNorm")!.Param("eps")!.DefaultNumber ?? 1e-5;
        var xs = m.Shapes[x];
        int cols = 1;
        if (normalized.Count >= xs.Rank) return null;   // the batch is never normalised over
        for (int k = 0; k < normalized.Count; k++)
        {
            var dim = xs[xs.Rank - normalized.Count + k];
            if (!dim.IsFixed || dim.Size != normalized[k]) return null;
            cols *= normalized[k];
        }
        for (int k = 1; k < inputs.Count; k++)
        {
            int p = inputs[k];
            if (m.Batched[p] || m.IsConst(p) || m.IsRaw(p) || m.IsSymbolic(p) || m.Shapes[p].Rank != normalized.Count) return null;
            for (int d = 0; d < normalized.Count; d++) if (!m.Shapes[p][d].IsFixed || m.Shapes[p][d].Size != normalized[d]) return null;
        }
        var geometry = new NormGeometry(cols, 1) { ChannelsText = null };
        return plan with { Rule = Kind, Geometry = geometry, Args = new[] { MethodDraft.F64(eps) }.ToEquatableArray() };
    }

    private static string Cols(NodePlan n) => MethodDraft.I(((NormGeometry)n.Geometry!).Channels);

    private static string Rows(EmitContext e, NodePlan n) => $"{e.Size(n.Index)} / {Cols(n)}";

    public override IEnumerable<Scratch> Scratch(EmitContext e, NodePlan n) => [new("mean", "float[]", Rows(e, n)), new("invstd", "float[]", Rows(e, n))];

    private static string Affine(EmitContext e, NodePlan n, int k) => n.Inputs.Count == 3 ? e.Value(n.Inputs[k]) : "null";

    public override void Forward(EmitContext e, NodePlan n)
    {
        e.W.Comment($"{n.Text}: the LayerNorm kernel over rows of {Cols(n)}, the statistics kept");
        e.W.Call($"{EmitContext.Support}.FunctionalLayerNormForward",
            [e.Value(n.Inputs[0]), Affine(e, n, 1), Affine(e, n, 2), e.Value(n.Index), Rows(e, n), Cols(n), n.Args[0], e.Scratch(n, "mean"), e.Scratch(n, "invstd")]);
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        e.W.Comment($"d {n.Text}: into x's{(n.Inputs.Count == 3 ? ", the weight's and the bias's" : "")} gradients");
        e.W.Call($"{EmitContext.Support}.FunctionalLayerNormBackward",
            [e.Value(n.Inputs[0]), e.Grad(n.Index), e.GradOrNull(n.Inputs[0]), e.Scratch(n, "mean"), e.Scratch(n, "invstd"), Affine(e, n, 1),
             n.Inputs.Count == 3 ? e.GradOrNull(n.Inputs[1]) : "null", n.Inputs.Count == 3 ? e.GradOrNull(n.Inputs[2]) : "null", Rows(e, n), Cols(n)]);
    }
}

/// <summary>
/// <c>Functional.Conv1d/Conv2d(x, weight, bias, stride, padding, dilation, groups)</c> (PyTorch's <c>F.conv1d</c>/<c>F.conv2d</c>)
/// with a weight and bias that are values of the program of fixed shape (the module's own parameters): the convolution
/// kernel eager runs (im2col + GEMM; 1-d as H = 1), and its backward into scratch buffers, added to the gradients of x, the
/// weight and the bias, which the member nodes add to the parameters' gradients.
/// </summary>
internal sealed class FunctionalConvRule : Rule
{
    public override RuleKind Kind => RuleKind.FunctionalConv;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan) => Geometry(m, i, adjoint: false) is { } geometry ? plan with { Rule = Kind, Geometry = geometry } : null;

    /// <summary>
    /// The convolution geometry of a <c>Functional</c> convolution (or, <paramref name="adjoint"/>, a transposed convolution:
    /// the convolution it is the adjoint of, whose input is the call's output and whose output is x) with a weight [O, C /
    /// groups, kH(, kW)] and a bias of fixed shape that are values of the program; null when the call is outside it.
    /// </summary>
    internal static ConvGeometry? Geometry(MethodDraft m, int i, bool adjoint)
    {
        var inputs = m.Node(i).Inputs;
        if (!FunctionalWeights.Take(m, i)) return null;
        int x = inputs[0], w = inputs[1];
        var (xs, ys) = adjoint ? (m.Shapes[i], m.Shapes[x]) : (m.Shapes[x], m.Shapes[i]);
        var ws = m.Shapes[w];
        bool is1d = xs.Rank == 3;
        if ((xs.Rank != 3 && xs.Rank != 4) || ys.Rank != xs.Rank || ws.Rank != xs.Rank) return null;
        for (int d = 1; d < xs.Rank; d++) if (!xs[d].IsFixed || !ys[d].IsFixed) return null;
        for (int d = 0; d < ws.Rank; d++) if (!ws[d].IsFixed) return null;
        if (m.Arguments(i).Number("groups") is not { } groupsValue || groupsValue < 1 || groupsValue != System.Math.Floor(groupsValue)) return null;
        int groups = (int)groupsValue;
        int c = xs[1].Size, o = ws[0].Size;
        if (c != ws[1].Size * groups || o % groups != 0 || ys[1].Size != o) return null;
        int biasLength = adjoint ? c : o;   // the bias of a transposed convolution is over its output channels, the adjoint's input
        if (inputs.Count == 3 && !(m.Shapes[inputs[2]] is { Rank: 1 } bs && bs[0].IsFixed && bs[0].Size == biasLength)) return null;
        if (PoolRuleBase.PairOr(m, i, "stride", (1, 1)) is not { } st || PoolRuleBase.PairOr(m, i, "padding", (0, 0)) is not { } pad
            || PoolRuleBase.PairOr(m, i, "dilation", (1, 1)) is not { } dil)
        {
            return null;
        }
        string C = MethodDraft.I(c), O = MethodDraft.I(o), G = MethodDraft.I(groups);
        return is1d
            ? new ConvGeometry(C, 1, xs[2].Size, O, 1, ws[2].Size, 1, st.H, 0, pad.H, 1, dil.H, G, 1, ys[2].Size)
            : new ConvGeometry(C, xs[2].Size, xs[3].Size, O, ws[2].Size, ws[3].Size, st.H, st.W, pad.H, pad.W, dil.H, dil.W, G, ys[2].Size, ys[3].Size);
    }

    public override (string Type, string[] Arguments)? Constant(NodePlan n) => RuleSet.For(RuleKind.Conv)!.Constant(n);

    private static string Weights(NodePlan n)
    {
        var g = (ConvGeometry)n.Geometry!;
        return MethodDraft.I(int.Parse(g.O, System.Globalization.CultureInfo.InvariantCulture) * (int.Parse(g.C, System.Globalization.CultureInfo.InvariantCulture) / int.Parse(g.Groups, System.Globalization.CultureInfo.InvariantCulture)) * g.KH * g.KW);
    }

    public override IEnumerable<Scratch> Scratch(EmitContext e, NodePlan n)
    {
        var g = (ConvGeometry)n.Geometry!;
        yield return new("input_grad_scratch", "float[]", e.Size(n.Inputs[0]));
        yield return new("weight_grad_scratch", "float[]", Weights(n));
        if (n.Inputs.Count == 3) yield return new("bias_grad_scratch", "float[]", g.O);
    }

    private static string Bias(EmitContext e, NodePlan n) => n.Inputs.Count == 3 ? e.Value(n.Inputs[2]) : "null";

    public override void Forward(EmitContext e, NodePlan n)
    {
        e.W.Comment($"{n.Text}: the convolution kernel (im2col + GEMM per image) with the weight's value{(n.Inputs.Count == 3 ? ", the bias added by it" : "")}");
        e.W.Call($"{EmitContext.Support}.FunctionalConvForward", [e.Value(n.Inputs[0]), e.Value(n.Inputs[1]), Bias(e, n), e.Value(n.Index), "n", e.Geometry(n)]);
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        int x = n.Inputs[0], w = n.Inputs[1];
        e.W.Comment($"d {n.Text}: the convolution's backward kernel, into scratch buffers, then added to x's, the weight's{(n.Inputs.Count == 3 ? " and the bias's" : "")} gradients");
        e.W.Call($"{EmitContext.Support}.FunctionalConvBackward",
        [
            e.Value(x), e.Value(w), e.Grad(n.Index), e.GradOrNull(x), e.GradOrNull(w), n.Inputs.Count == 3 ? e.GradOrNull(n.Inputs[2]) : "null", "n", e.Geometry(n),
            e.Scratch(n, "input_grad_scratch"), e.Scratch(n, "weight_grad_scratch"), n.Inputs.Count == 3 ? e.Scratch(n, "bias_grad_scratch") : "null",
        ]);
    }
}

/// <summary>
/// <c>Functional.GroupNorm(x, numGroups, weight, bias, eps)</c> (PyTorch's <c>F.group_norm</c>) over [N, C, *] with a weight
/// and bias that are values of the program (the module's own parameters) or without them: the GroupNorm kernel eager
/// runs, the per-(sample, group) statistics kept for the backward, which adds into the gradients of x, the weight and the bias.
/// <c>Functional.InstanceNorm(x, runningMean, runningVar, weight, bias, useInputStats, momentum, eps)</c> is the same kernel
/// with a group per channel; with running statistics (the module's own [Buffer]s, read as tensors) or useInputStats not
/// always true it runs what the InstanceNorm layers with track_running_stats run (<c>CompiledSupport.FunctionalInstanceNormForward</c>):
/// the running statistics updated in place with input statistics, used (BatchNorm's evaluation kernel) without.
/// </summary>
internal sealed class FunctionalGroupNormRule : Rule
{
    public override RuleKind Kind => RuleKind.FunctionalGroupNorm;

    /// <summary>The tensors after x, by role: GroupNorm's weight and bias; InstanceNorm's running mean and variance before them.</summary>
    private static readonly (string Name, char Role)[] GroupTensors = [("weight", 'w'), ("bias", 'b')];
    private static readonly (string Name, char Role)[] InstanceTensors = [("runningMean", 'm'), ("runningVar", 'v'), ("weight", 'w'), ("bias", 'b')];

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        var node = m.Node(i);
        var inputs = node.Inputs;
        if (m.Child(i) is not null || inputs.Count is < 1 or > 5) return null;
        bool instance = m.Row(i)!.Variant;   // Functional.InstanceNorm: a group per channel, the statistics of each instance
        // Which tensors the call passed, in order (the others left out or null: the parser's list of omitted tensors).
        var omitted = (node.Scalar(GraphNode.OmittedTensors)?.String ?? "").Split(',');
        string roles = "";
        foreach (var (name, role) in instance ? InstanceTensors : GroupTensors) if (System.Array.IndexOf(omitted, name) < 0) roles += role;
        if (roles.Length != inputs.Count - 1 || roles.Contains("m") != roles.Contains("v")) return null;
        var args = m.Arguments(i);
        int x = inputs[0];
        var xs = m.Shapes[x];
        if (!m.Batched[x] || !m.Batched[i] || m.BatchAxis[x] != 0 || xs.Rank < 2 || !xs[1].IsFixed) return null;
        string useInputStats = "true";
        double momentum = 0;
        if (instance)
        {
            // Eager needs 3+ dims; useInputStats a constant or the module's Training; without running statistics it must be true.
            if (xs.Rank < 3) return null;
            var flag = node.Scalar("useInputStats");
            if (flag is null || flag.Text.Length == 0 || flag.IsKnown) useInputStats = flag is null || flag.Text.Length == 0 || flag.Value != 0 ? "true" : "false";
            else if (IsTrainingArgument(flag.Text)) useInputStats = "_m.Training";
            else return null;
            if (useInputStats != "true" && !roles.Contains("m")) return null;   // eager's error, at run time
            if (args.Has("momentum") && args.Number("momentum") is null) return null;
            momentum = args.Number("momentum") ?? m.Row(i)!.Param("momentum")!.DefaultNumber ?? 0.1;
        }
        double? groupsArgument = instance ? xs[1].Size : args.Number("numGroups");
        if (groupsArgument is not { } groupsValue || groupsValue != System.Math.Floor(groupsValue)) return null;
        int groups = (int)groupsValue, channels = xs[1].Size;
        if (groups <= 0 || channels % groups != 0) return null;   // eager's error, at run time
        if (args.Has("eps") && args.Number("eps") is null) return null;
        double eps = args.Number("eps") ?? OpCatalogue.Find("GroupNorm")!.Param("eps")!.DefaultNumber ?? 1e-5;
        int length = 1;
        for (int d = 2; d < xs.Rank; d++)
        {
            if (!xs[d].IsFixed) return null;
            length *= xs[d].Size;
        }
        if (instance && length <= 1) return null;   // eager's error (one element per channel), at run time
        for (int k = 1; k < inputs.Count; k++)
        {
            int p = inputs[k];
            if (m.Batched[p] || m.IsConst(p) || m.IsSymbolic(p) || m.Shapes[p] is not { Rank: 1 } ps || !ps[0].IsFixed || ps[0].Size != channels) return null;
            if (m.IsRaw(p) != (roles[k - 1] is 'm' or 'v')) return null;   // the running statistics are the tensors themselves
        }
        var geometry = new GroupNormGeometry(MethodDraft.I(channels), length, MethodDraft.I(groups));
        // Args: eps, the roles of the tensors after x, and for an InstanceNorm with running statistics or input statistics not
        // always used, the momentum (the Training field holds useInputStats).
        string[] planArgs = instance && (roles.Contains("m") || useInputStats != "true")
            ? [MethodDraft.F64(eps), roles, MethodDraft.F64(momentum)]
            : [MethodDraft.F64(eps), roles];
        return plan with { Rule = Kind, Geometry = geometry, Args = planArgs.ToEquatableArray(), Training = instance ? useInputStats : plan.Training };
    }

    /// <summary>True for Functional.InstanceNorm with running statistics or input statistics not always used.</summary>
    private static bool Running(NodePlan n) => n.Args.Count > 2;

    private static string Stats(NodePlan n) => $"n * {((GroupNormGeometry)n.Geometry!).Groups}";

    private static string[] Dims(NodePlan n)
    {
        var g = (GroupNormGeometry)n.Geometry!;
        return ["n", g.Channels, MethodDraft.I(g.Length), g.Groups];
    }

    public override IEnumerable<int> Reads(IReadOnlyList<NodePlan> nodes, NodePlan n)
    {
        yield return n.Inputs[0];
        if (AffineInput(n, 'w') is var w && w >= 0) yield return w;
    }

    public override IEnumerable<Scratch> Scratch(EmitContext e, NodePlan n)
        => Running(n)
            ? [new("mean", "float[]", Stats(n)), new("invstd", "float[]", Stats(n)), new("variance", "double[]", Stats(n)), new("input_stats", "bool", null)]
            : [new("mean", "float[]", Stats(n)), new("invstd", "float[]", Stats(n))];

    /// <summary>The input holding the tensor of <paramref name="role"/> ('m', 'v', 'w', 'b'), or -1 when the call left it out.</summary>
    private static int AffineInput(NodePlan n, char role)
    {
        int at = n.Args[1].IndexOf(role);
        return at < 0 ? -1 : n.Inputs[1 + at];
    }

    private static string Affine(EmitContext e, NodePlan n, char role) => AffineInput(n, role) is var k && k >= 0 ? e.Value(k) : "null";

    private static string AffineGrad(EmitContext e, NodePlan n, char role) => AffineInput(n, role) is var k && k >= 0 ? e.GradOrNull(k) : "null";

    private static string RunningStat(EmitContext e, NodePlan n, char role) => AffineInput(n, role) is var k && k >= 0 ? MethodEmitter.RawField(e, k) : "null";

    public override void Forward(EmitContext e, NodePlan n)
    {
        if (Running(n))
        {
            var g = (GroupNormGeometry)n.Geometry!;
            e.W.Comment($"{n.Text}: each instance's statistics when useInputStats{(n.Args[1].Contains("m") ? " (the running statistics updated in place, as eager)" : "")}, the running statistics otherwise");
            e.W.Call($"{e.Scratch(n, "input_stats")} = {EmitContext.Support}.FunctionalInstanceNormForward",
            [
                e.Value(n.Inputs[0]), RunningStat(e, n, 'm'), RunningStat(e, n, 'v'), Affine(e, n, 'w'), Affine(e, n, 'b'), e.Value(n.Index), "n", g.Channels,
                MethodDraft.I(g.Length), n.Training, n.Args[2], n.Args[0], e.Scratch(n, "mean"), e.Scratch(n, "invstd"), e.Scratch(n, "variance"),
            ]);
            return;
        }
        e.W.Comment($"{n.Text}: the GroupNorm kernel, per-sample statistics of each channel group kept");
        e.W.Call($"{EmitContext.Support}.FunctionalGroupNormForward",
            [e.Value(n.Inputs[0]), Affine(e, n, 'w'), Affine(e, n, 'b'), e.Value(n.Index), .. Dims(n), n.Args[0], e.Scratch(n, "mean"), e.Scratch(n, "invstd")]);
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        e.W.Comment($"d {n.Text}: into x's{(n.Args[1].IndexOf('w') >= 0 ? ", the weight's" : "")}{(n.Args[1].IndexOf('b') >= 0 ? ", the bias's" : "")} gradients");
        if (Running(n))
        {
            var g = (GroupNormGeometry)n.Geometry!;
            e.W.Call($"{EmitContext.Support}.FunctionalInstanceNormBackward",
            [
                e.Value(n.Inputs[0]), e.Grad(n.Index), e.GradOrNull(n.Inputs[0]), e.Scratch(n, "mean"), e.Scratch(n, "invstd"), Affine(e, n, 'w'),
                AffineGrad(e, n, 'w'), AffineGrad(e, n, 'b'), "n", g.Channels, MethodDraft.I(g.Length), e.Scratch(n, "input_stats"),
            ]);
            return;
        }
        e.W.Call($"{EmitContext.Support}.FunctionalGroupNormBackward",
        [
            e.Value(n.Inputs[0]), e.Grad(n.Index), e.GradOrNull(n.Inputs[0]), e.Scratch(n, "mean"), e.Scratch(n, "invstd"), Affine(e, n, 'w'),
            AffineGrad(e, n, 'w'), AffineGrad(e, n, 'b'), .. Dims(n),
        ]);
    }
}

/// <summary>
/// The operands the <c>Functional</c> layer rules take (<see cref="FunctionalLinearRule"/>, <see cref="FunctionalConvRule"/>):
/// a batched x (batch first) and then a weight and an optional bias that are unbatched values of the program (the module's
/// own parameters or fixed-shape values), not constants, raw data or symbolic sizes; a plain call (no child).
/// </summary>
internal static class FunctionalWeights
{
    public static bool Take(MethodDraft m, int i)
    {
        var inputs = m.Node(i).Inputs;
        if (m.Child(i) is not null || inputs.Count is < 2 or > 3) return false;
        int x = inputs[0];
        if (!m.Batched[x] || !m.Batched[i] || m.BatchAxis[x] != 0) return false;
        for (int k = 1; k < inputs.Count; k++)
        {
            if (m.Batched[inputs[k]] || m.IsConst(inputs[k]) || m.IsRaw(inputs[k]) || m.IsSymbolic(inputs[k])) return false;
        }
        return true;
    }
}
