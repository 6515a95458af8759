using System.Collections.Generic;

namespace SharpGrad.Generator.Rules;

/// <summary>
/// A Linear layer: one GEMM with its epilogue (bias, and a following ReLU or residual add when <see cref="Planning.Fusion"/>
/// fused them), and the backward's two GEMMs and bias sum (<c>CompiledSupport.LinearForward</c>/<c>LinearBackward</c>).
/// </summary>
internal sealed class LinearRule : Rule
{
    public override RuleKind Kind => RuleKind.Linear;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        if (m.Child(i) is not { } child || child.Arg("bias") is { IsKnown: false }) return null;
        int a = m.In(i, 0);
        // Rows of the last dim, beside the batch wherever it is (a batch-second [T, N, E]: T·n rows, MethodDraft.AfterBatch); or of a
        // value without the batch (the last step of an unbatched RNN's output, y.Select(0, -1), or its states h_n [L·D, H]): one item.
        if (m.Batched[a] != m.Batched[i] || m.Shapes[a].Rank == 0 || !m.AfterBatch(a, m.Shapes[a].Rank - 1)) return null;
        LinearGeometry geometry;
        if (child.Int("inFeatures") is { } inF && child.Int("outFeatures") is { } outF && !m.IsSymbolic(a) && !m.IsSymbolic(i))
        {
            if (m.Features[a] % inF != 0 || m.Features[i] != m.Features[a] / inF * outF) return null;
            geometry = new LinearGeometry(inF, outF, m.Features[a] / inF);
        }
        else
        {
            // Sizes bound when the module is built (Linear(4, hidden)) or read at each call ([N, T, 8]): [N, …, in] → [N, …, out],
            // in and out read from the layer's symbols (the program binds them in Compile()), the rows per item from the dims between.
            int least = m.Batched[a] ? 2 : 1;
            if (m.Shapes[a] is not { } inShape || m.Shapes[i] is not { } outShape || inShape.Rank < least || inShape.Rank != outShape.Rank) return null;
            if (SizeText(m, child, "inFeatures", inShape.Last) is not { } inText || SizeText(m, child, "outFeatures", outShape.Last) is not { } outText) return null;
            int rows = 1;
            var rowsText = new List<string>();
            for (int d = 0; d < inShape.Rank - 1; d++)
            {
                if (d == m.BatchDim(a)) continue;
                if (inShape[d] != outShape[d]) return null;
                if (inShape[d].IsFixed) rows *= inShape[d].Size;
                else if (inShape[d].IsSymbol && m.Program.Sizes.Expression(inShape[d].Symbol!) is { } text) rowsText.Add(text);
                else return null;
            }
            if (rows != 1 || rowsText.Count == 0) rowsText.Insert(0, MethodDraft.I(rows));
            geometry = new LinearGeometry(0, 0, rows) { InText = inText, OutText = outText, RowsText = rowsText.Count == 1 && rowsText[0] == "1" ? null : string.Join(" * ", rowsText) };
        }
        var module = m.Program.Module(child);
        return plan with
        {
            Rule = Kind,
            Module = module,
            Weight = m.Program.Param(module.Field + ".Weight", module.Path + ".weight"),
            Bias = child.Int("bias") != 0 ? m.Program.Param(module.Field + ".Bias!", module.Path + ".bias") : null,
            Geometry = geometry,
        };
    }

    /// <summary>True at run time when no forward hook must see the producer's output or the fused op's own (the fusion may run).</summary>
    public static string NoHooks(ModuleRef producer, NodePlan fused)
        => $"!{EmitContext.Support}.HasForwardHooks({producer.Field})"
           + (fused.Module is null ? "" : $" && !{EmitContext.Support}.HasForwardHooks({fused.Module.Field})");

    public override (string Type, string[] Arguments)? Constant(NodePlan n)
    {
        var g = (LinearGeometry)n.Geometry!;
        return ($"{EmitContext.Kernels}.LinearShape", [$"InFeatures: {g.InText ?? MethodDraft.I(g.InFeatures)}", $"OutFeatures: {g.OutText ?? MethodDraft.I(g.OutFeatures)}", $"RowsPerItem: {g.RowsText ?? MethodDraft.I(g.RowsPerItem)}"]);
    }

    public override void Forward(EmitContext e, NodePlan n)
    {
        int i = n.Index, a = n.Inputs[0];
        var module = n.Module!;
        string bias = n.Bias is null ? "null" : n.Bias.Expr;
        string[] call = [e.Value(a), n.Weight!.Expr, bias, e.Value(i), Items(n), e.Geometry(n)];
        string head = $"{EmitContext.Support}.LinearForward";
        e.W.Comment($"{n.Text}: {n.Name} = {e.Value(a)} · {module.Path}.weightᵀ{(n.Bias is null ? "" : " + " + module.Path + ".bias")} by one GEMM");
        if (n.PairOf >= 0) head = $"if (!{PairFlag(e.Nodes[n.PairOf])}) {head}";
        if (n.Epilogue >= 0)
        {
            var relu = e.Nodes[n.Epilogue];
            string flag = e.Local(Planning.Fusion.FusedFlag(n), "bool", "false");
            e.W.Comment($"fused: `{relu.Text}` in the GEMM's epilogue, unless a hook must see {module.Path}'s output");
            e.W.WriteLine($"{flag} = {NoHooks(module, relu)};");
            string activation = $"activation: {flag} ? {EmitContext.Kernels}.GemmActivation.Relu : {EmitContext.Kernels}.GemmActivation.None";
            if (n.PairNext >= 0) head = EmitPair(e, n, flag, call, head);
            e.W.Call(head, [.. call, activation]);
        }
        else if (n.ResidualAdd >= 0)
        {
            var add = e.Nodes[n.ResidualAdd];
            string flag = e.Local(Planning.Fusion.FusedFlag(n), "bool", "false");
            e.W.Comment($"fused: the residual add `{add.Text}` in the GEMM's epilogue, unless a hook must see {module.Path}'s output");
            e.W.WriteLine($"{flag} = !{EmitContext.Support}.HasForwardHooks({module.Field});");
            e.W.Call($"if ({flag}) {head}", [.. call, $"residual: {e.Value(add.ResidualOperand)}"]);
            e.W.Call($"else {head}", call);
        }
        else
        {
            e.W.Call(head, call);
        }
        e.ForwardHooks(n, a);
    }

    /// <summary>The items the rows are counted per: the batch's n, or 1 for a value without the batch (<c>y.Select(0, -1)</c>).</summary>
    private static string Items(NodePlan n) => n.Batched ? "n" : "1";

    /// <summary>The run-time flag of a pair's first Linear: true when one pass computed both layers.</summary>
    private static string PairFlag(NodePlan first) => first.Name + "_pair";

    /// <summary>
    /// The first Linear of a pair (Linear → ReLU → Linear, <see cref="NodePlan.PairNext"/>): one sample's pass computes both
    /// layers at once, when no hook must see their outputs; otherwise (or for a batch) each runs its own GEMM. Returns the
    /// call head of the first layer's own GEMM.
    /// </summary>
    private static string EmitPair(EmitContext e, NodePlan n, string reluFlag, string[] call, string head)
    {
        var next = e.Nodes[n.PairNext];
        var nextModule = next.Module!;
        string pair = e.Local(PairFlag(n), "bool", "false");
        string activation = $"{EmitContext.Kernels}.GemmActivation.None";
        if (next.Epilogue >= 0)
        {
            string nextFlag = e.Local(Planning.Fusion.FusedFlag(next), "bool", "false");
            e.W.WriteLine($"{nextFlag} = {NoHooks(nextModule, e.Nodes[next.Epilogue])};");
            activation = $"{nextFlag} ? {EmitContext.Kernels}.GemmActivation.Relu : {activation}";
        }
        e.W.Comment($"one sample: {nextModule.Path} in the same pass (each core its share of both weights), unless a hook must see an output");
        e.W.WriteLine($"{pair} = {reluFlag} && !{EmitContext.Support}.HasForwardHooks({nextModule.Field});");
        e.W.Call($"if ({pair}) {pair} = {EmitContext.Support}.LinearReluLinearForward", [
            call[0], call[1], call[2], call[3], next.Weight!.Expr, next.Bias is null ? "null" : next.Bias.Expr, e.Value(next.Index), Items(n),
            call[5], e.Geometry(next), $"activation2: {activation}"]);
        return $"if (!{pair}) {head}";
    }

    public override bool OverwritesFreshParams => true;

    /// <summary>The backward writes its input's whole gradient (gy · weight, with β = 0) when told to.</summary>
    public override bool OverwritesInputGrad(NodePlan n, int slot) => slot == 0;

    public override void Backward(EmitContext e, NodePlan n)
    {
        int i = n.Index, a = n.Inputs[0];
        string gy = e.Grad(i), path = n.Module!.Path;
        bool overwriteInput = e.OverwritesInput(n, 0);
        e.W.Comment($"d {n.Text}: {e.Grad(a)} {(overwriteInput ? "=" : "+=")} {gy} · {path}.weight; {path}.weight's gradient += {gy}ᵀ · {e.Value(a)}"
                    + (n.Bias is null ? "" : $"; {path}.bias's gradient += {gy} summed over rows"));
        Hooks.Before(e, n, a);
        var args = new List<string> { e.Value(a), n.Weight!.Expr, e.Grad(i), e.GradOrNull(a), EmitContext.ParamGradOrNull(n.Weight), EmitContext.ParamGradOrNull(n.Bias), Items(n), e.Geometry(n) };
        // The first writer of a fresh gradient (after ZeroGrad) overwrites it: the entry did not clear it.
        if (e.WritesFirst(n, n.Weight)) args.Add($"overwriteWeight: {EmitContext.Fresh(n.Weight)}");
        if (n.Bias is not null && e.WritesFirst(n, n.Bias)) args.Add($"overwriteBias: {EmitContext.Fresh(n.Bias)}");
        // The first writer of its input's gradient (NodePlan.GradOverwriter): the buffer was not cleared.
        if (overwriteInput) args.Add("overwriteInput: true");
        e.W.Call($"{EmitContext.Support}.LinearBackward", args);
        Hooks.After(e, n, a);
    }
}

/// <summary>
/// A Conv1d/Conv2d layer: the convolution kernel (im2col + GEMM, bias and a following ReLU in its epilogue when fused),
/// and its backward through scratch buffers (<c>CompiledSupport.ConvForward</c>/<c>ConvBackward</c>).
/// </summary>
internal sealed class ConvRule : Rule
{
    public override RuleKind Kind => RuleKind.Conv;

    private static (int H, int W)? PairOr(ChildSpec child, string name, (int, int) fallback)
        => child.Arg(name) switch
        {
            null => fallback,
            { IsKnown: true, Values.Count: 0 } => fallback,
            _ => child.Pair(name),
        };

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan) => PlanLayer(m, i, plan, Kind, adjoint: false);

    /// <summary>
    /// What Conv1d/2d and ConvTranspose1d/2d share: the window read from the layer (defaults from its catalogue row), its
    /// weight and bias, and the convolution's geometry. A transposed convolution (<paramref name="adjoint"/>) is described
    /// by the convolution it is the adjoint of, whose input is the layer's output and whose output is the layer's input.
    /// </summary>
    internal static NodePlan? PlanLayer(MethodDraft m, int i, NodePlan plan, RuleKind kind, bool adjoint)
    {
        if (m.Child(i) is not { } child) return null;
        int a = m.In(i, 0);
        var inS = m.Shapes[a];
        var outS = m.Shapes[i];
        bool is1d = inS.Rank == 3;
        if (!m.Batched[a] || !m.Batched[i] || (inS.Rank != 3 && inS.Rank != 4) || outS.Rank != inS.Rank) return null;
        if (child.Arg("bias") is { IsKnown: false }) return null;
        var row = m.Row(i)!;
        int Default(string name) => (int)row.Param(name, layer: true)!.DefaultNumber!.Value;
        if (child.Pair("kernelSize") is not { } k || PairOr(child, "stride", (Default("stride"), Default("stride"))) is not { } st
            || PairOr(child, "padding", (Default("padding"), Default("padding"))) is not { } pad
            || PairOr(child, "dilation", (Default("dilation"), Default("dilation"))) is not { } dil)
        {
            return null;
        }
        // The spatial sizes are constants; the channels may be sizes bound when the module is built (Conv2d(planes, planes, 3)),
        // read from the layer's symbols and checked against the values' dims (in Compile() where the build cannot prove them).
        for (int d = 2; d < inS.Rank; d++)
        {
            if (!inS[d].IsFixed || !outS[d].IsFixed) return null;
        }
        if (SizeText(m, child, "inChannels", inS[1]) is not { } inChannels || SizeText(m, child, "outChannels", outS[1]) is not { } outChannels) return null;
        string? groups = child.Arg("groups") is null ? MethodDraft.I(Default("groups")) : LayerSize(m, child, "groups");
        if (groups is null) return null;
        var module = m.Program.Module(child);
        var (x, y) = adjoint ? (outS, inS) : (inS, outS);
        var (c, o) = adjoint ? (outChannels, inChannels) : (inChannels, outChannels);
        var geometry = is1d
            ? new ConvGeometry(c, 1, x[2].Size, o, 1, k.H, 1, st.H, 0, pad.H, 1, dil.H, groups, 1, y[2].Size)
            : new ConvGeometry(c, x[2].Size, x[3].Size, o, k.H, k.W, st.H, st.W, pad.H, pad.W, dil.H, dil.W, groups, y[2].Size, y[3].Size);
        return plan with
        {
            Rule = kind,
            Module = module,
            Weight = m.Program.Param(module.Field + ".Weight", module.Path + ".weight"),
            Bias = child.Int("bias") != 0 ? m.Program.Param(module.Field + ".Bias!", module.Path + ".bias") : null,
            Geometry = geometry,
        };
    }

    public override (string Type, string[] Arguments)? Constant(NodePlan n)
    {
        var g = (ConvGeometry)n.Geometry!;
        return ($"{EmitContext.Kernels}.ConvShape",
        [
            $"InChannels: {g.C}", $"Height: {g.H}", $"Width: {g.W}", $"OutChannels: {g.O}", $"KernelHeight: {g.KH}", $"KernelWidth: {g.KW}",
            $"StrideHeight: {g.SH}", $"StrideWidth: {g.SW}", $"PaddingHeight: {g.PH}", $"PaddingWidth: {g.PW}",
            $"DilationHeight: {g.DH}", $"DilationWidth: {g.DW}", $"Groups: {g.Groups}", $"OutHeight: {g.HO}", $"OutWidth: {g.WO}",
        ]);
    }

    public override IEnumerable<Scratch> Scratch(EmitContext e, NodePlan n) => BackwardScratch(e, n, ((ConvGeometry)n.Geometry!).O);

    /// <summary>
    /// The three scratch buffers of a convolution's or a transposed convolution's backward (<see cref="EmitBackward"/>):
    /// the input's gradient, the weight's, and the bias's of <paramref name="biasLength"/> channels.
    /// </summary>
    internal static IEnumerable<Scratch> BackwardScratch(EmitContext e, NodePlan n, string biasLength)
    {
        var g = (ConvGeometry)n.Geometry!;
        yield return new("input_grad_scratch", "float[]", e.Size(n.Inputs[0]));
        yield return new("weight_grad_scratch", "float[]", WeightSize(g));
        if (n.Bias is not null) yield return new("bias_grad_scratch", "float[]", biasLength);
    }

    /// <summary>The weight's element count O · (C / groups) · KH · KW, folded when the channels are constants.</summary>
    private static string WeightSize(ConvGeometry g)
    {
        int window = g.KH * g.KW;
        static bool Constant(string text, out int value) => int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out value);
        if (Constant(g.O, out int o) && Constant(g.C, out int c) && Constant(g.Groups, out int groups)) return MethodDraft.I(o * (c / groups) * window);
        return $"{g.O} * ({g.C} / {g.Groups}) * {MethodDraft.I(window)}";
    }

    public override void Forward(EmitContext e, NodePlan n)
    {
        int i = n.Index, a = n.Inputs[0];
        var module = n.Module!;
        string[] call = [e.Value(a), n.Weight!.Expr, n.Bias is null ? "null" : n.Bias.Expr, e.Value(i), "n", e.Geometry(n)];
        e.W.Comment($"{n.Text}: the convolution kernel (im2col + GEMM per image){(n.Bias is null ? "" : ", the bias added by it")}");
        if (n.Epilogue >= 0)
        {
            var relu = e.Nodes[n.Epilogue];
            string flag = e.Local(Planning.Fusion.FusedFlag(n), "bool", "false");
            e.W.Comment($"fused: `{relu.Text}` in the convolution's epilogue, unless a hook must see {module.Path}'s output");
            e.W.WriteLine($"{flag} = {LinearRule.NoHooks(module, relu)};");
            e.W.Call($"{EmitContext.Support}.ConvForward", [.. call, $"relu: {flag}"]);
        }
        else
        {
            e.W.Call($"{EmitContext.Support}.ConvForward", call);
        }
        e.ForwardHooks(n, a);
    }

    public override void Backward(EmitContext e, NodePlan n) =>
        EmitBackward(e, n, "ConvBackward", "the convolution's backward kernel, into scratch buffers, then added to the gradients");

    /// <summary>
    /// The backward call of a convolution or a transposed convolution (<paramref name="kernel"/>): the same arguments —
    /// input, weight, output gradient, the gradients it adds to, the geometry and its three scratch buffers.
    /// </summary>
    internal static void EmitBackward(EmitContext e, NodePlan n, string kernel, string what)
    {
        int i = n.Index, a = n.Inputs[0];
        e.W.Comment($"d {n.Text}: {what}");
        Hooks.Before(e, n, a);
        e.W.Call($"{EmitContext.Support}.{kernel}",
        [
            e.Value(a), n.Weight!.Expr, e.Grad(i), e.GradOrNull(a), EmitContext.ParamGradOrNull(n.Weight), EmitContext.ParamGradOrNull(n.Bias), "n", e.Geometry(n),
            e.Scratch(n, "input_grad_scratch"), e.Scratch(n, "weight_grad_scratch"), n.Bias is null ? "null" : e.Scratch(n, "bias_grad_scratch"),
        ]);
        Hooks.After(e, n, a);
    }
}

/// <summary>
/// A batched matrix product [n, g…, m, k] · [n, g…, k, q] (any rank ≥ 3, the leading dims equal: attention's
/// [B, H, T, d] · [B, H, d, T]): one GEMM per matrix, and two in the backward.
/// </summary>
internal sealed class MatMulRule : Rule
{
    public override RuleKind Kind => RuleKind.MatMul;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        int l = m.In(i, 0), r = m.In(i, 1);
        var a = m.Shapes[l];
        var b = m.Shapes[r];
        if (a.Rank < 3 || b.Rank != a.Rank || !m.Batched[l] || !m.Batched[r] || !m.Batched[i]) return null;
        for (int d = 1; d < a.Rank - 2; d++)
        {
            if (!a[d].Equals(b[d])) return null;   // broadcast batch dims: BroadcastMatMulRule
        }
        return plan with { Rule = Kind, Geometry = MatMulGeometry.Of(m, a, b, a, 1) };
    }

    public override (string Type, string[] Arguments)? Constant(NodePlan n) => ($"{EmitContext.Kernels}.MatMulShape", ((MatMulGeometry)n.Geometry!).ShapeArguments);

    /// <summary>The number of matrices: the batch times the product of the dims between it and the last two.</summary>
    private static string Matrices(NodePlan n) => ((MatMulGeometry)n.Geometry!).Matrices;

    public override void Forward(EmitContext e, NodePlan n)
    {
        e.W.Comment($"{n.Text}: one GEMM per matrix");
        e.W.Call($"{EmitContext.Support}.MatMulForward", [e.Value(n.Inputs[0]), e.Value(n.Inputs[1]), e.Value(n.Index), Matrices(n), e.Geometry(n)]);
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        int a = n.Inputs[0], b = n.Inputs[1];
        e.W.Comment($"d {n.Text}: dA += dY · Bᵀ, dB += Aᵀ · dY per matrix");
        e.W.Call($"{EmitContext.Support}.MatMulBackward", [e.Value(a), e.Value(b), e.Grad(n.Index), e.GradOrNull(a), e.GradOrNull(b), Matrices(n), e.Geometry(n)]);
    }
}

/// <summary>
/// A ConvTranspose1d/ConvTranspose2d layer: the convolution kernel's adjoint (<c>Conv.TransposeForward</c>, what eager
/// runs), the bias added, and its backward (a convolution for the input's gradient, the weight's) through scratch buffers
/// (<c>CompiledSupport.ConvTransposeForward</c>/<c>ConvTransposeBackward</c>). Its Functional form,
/// <c>Functional.ConvTranspose1d/2d(x, weight, bias, stride, padding, outputPadding, groups, dilation)</c> (PyTorch's
/// <c>F.conv_transpose2d(x, self.weight, self.bias, …)</c>), is the same kernels with the weight's and the bias's values of
/// the program (the module's own parameters of fixed shape), whose gradients the member nodes add to the parameters'.
/// </summary>
internal sealed class ConvTransposeRule : Rule
{
    public override RuleKind Kind => RuleKind.ConvTranspose;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
        => m.Child(i) is null ? PlanFunctional(m, i, plan) : ConvRule.PlanLayer(m, i, plan, Kind, adjoint: true);

    /// <summary>The Functional form: the geometry of the convolution it is the adjoint of (<see cref="FunctionalConvRule.Geometry"/>).</summary>
    private static NodePlan? PlanFunctional(MethodDraft m, int i, NodePlan plan)
        => FunctionalConvRule.Geometry(m, i, adjoint: true) is { } geometry ? plan with { Rule = RuleKind.ConvTranspose, Geometry = geometry } : null;

    public override (string Type, string[] Arguments)? Constant(NodePlan n) => RuleSet.For(RuleKind.Conv)!.Constant(n);

    // The adjoint convolution's geometry: its input channels C are the layer's output channels, the bias's length.
    public override IEnumerable<Scratch> Scratch(EmitContext e, NodePlan n)
    {
        var g = (ConvGeometry)n.Geometry!;
        if (n.Module is not null) return ConvRule.BackwardScratch(e, n, g.C);
        // The Functional form: the same three buffers, the bias's when the call passes one.
        var scratch = new List<Scratch>(ConvRule.BackwardScratch(e, n with { Bias = null }, g.C));
        if (n.Inputs.Count == 3) scratch.Add(new("bias_grad_scratch", "float[]", g.C));
        return scratch;
    }

    public override void Forward(EmitContext e, NodePlan n)
    {
        int i = n.Index, a = n.Inputs[0];
        if (n.Module is null)
        {
            e.W.Comment($"{n.Text}: the transposed convolution (the adjoint of im2col + GEMM) with the weight's value{(n.Inputs.Count == 3 ? ", the bias added" : "")}");
            e.W.Call($"{EmitContext.Support}.FunctionalConvTransposeForward",
                [e.Value(a), e.Value(n.Inputs[1]), n.Inputs.Count == 3 ? e.Value(n.Inputs[2]) : "null", e.Value(i), "n", e.Geometry(n)]);
            return;
        }
        e.W.Comment($"{n.Text}: the transposed convolution (the adjoint of im2col + GEMM){(n.Bias is null ? "" : ", the bias added")}");
        e.W.Call($"{EmitContext.Support}.ConvTransposeForward", [e.Value(a), n.Weight!.Expr, n.Bias is null ? "null" : n.Bias.Expr, e.Value(i), "n", e.Geometry(n)]);
        e.ForwardHooks(n, a);
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        if (n.Module is null)
        {
            int x = n.Inputs[0], w = n.Inputs[1];
            bool bias = n.Inputs.Count == 3;
            e.W.Comment($"d {n.Text}: a convolution for x's gradient and the weight's{(bias ? ", the bias's" : "")}, into scratch buffers, then added");
            e.W.Call($"{EmitContext.Support}.FunctionalConvTransposeBackward",
            [
                e.Value(x), e.Value(w), e.Grad(n.Index), e.GradOrNull(x), e.GradOrNull(w), bias ? e.GradOrNull(n.Inputs[2]) : "null", "n", e.Geometry(n),
                e.Scratch(n, "input_grad_scratch"), e.Scratch(n, "weight_grad_scratch"), bias ? e.Scratch(n, "bias_grad_scratch") : "null",
            ]);
            return;
        }
        ConvRule.EmitBackward(e, n, "ConvTransposeBackward", "a convolution for the input's gradient and its weight gradient, into scratch buffers, then added");
    }
}
