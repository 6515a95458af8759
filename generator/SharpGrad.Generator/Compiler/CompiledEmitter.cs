using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using SharpGrad.Generator.Model;

namespace SharpGrad.Generator.Compiler;

/// <summary>
/// Emits the nested <c>Compiled</c> class of a shape-checked module (<c>Net.Compiled.g.cs</c>) when the whole
/// <c>Forward</c> graph is inside the slice the compiler can generate code for today: one input <c>[N, …]</c>,
/// <c>Linear</c> children, ReLU, <c>+ - *</c> of same-shape tensors or with constants, <c>/</c> by a constant, unary
/// minus, and <c>View</c>/<c>Reshape</c>/<c>Flatten</c> that keep the batch dim. Anything else: no class (no error).
/// <para>
/// Every value is a contiguous float32 buffer of <c>N × F</c> (F fixed at build time); movement ops alias their input.
/// The backward program is generated from the IR, one vector-Jacobian rule per node kind, in reverse node order,
/// accumulating into gradient buffers (movement ops alias those too).
/// </para>
/// </summary>
internal static class CompiledEmitter
{
    private const string Tensor = "global::SharpGrad.Tensor";
    private const string Support = "global::SharpGrad.CompiledSupport";
    private const string Gemm = "global::SharpGrad.Kernels.Gemm";

    public static string HintName(ModuleSpec spec) => ModuleEmitter.HintName(spec).Replace(".g.cs", ".Compiled.g.cs");

    /// <summary>The plan of one compiled Forward: per node, its feature count, value root, gradient root, fusion.</summary>
    private sealed class Plan
    {
        public ModuleSpec Spec = null!;
        public ModuleGraph Graph = null!;
        public GraphMethod Method = null!;
        public GraphShape[] Shapes = null!;
        public int[] Features = null!;
        public int[] ValueRoot = null!; // -1: the input x
        public int[] GradRoot = null!;
        public bool[] FusedIntoLinear = null!; // a ReLU computed in its Linear's epilogue
        public int InputNode = -1;
        public string Batch = "";
        public List<(int Node, ChildSpec Child, int In, int Out, bool Bias, int ParamIndex)> Linears = new();
        public int ParamCount = 1;
        public List<(int Node, string Child, bool Bias)> ParamNodes = new();
        public Dictionary<int, Geometry> Convs = new();
        public Dictionary<int, Geometry> Pools = new();
    }

    /// <summary>The constant geometry of a Conv2d (O, Groups, Bias, ParamIndex used) or MaxPool2d node.</summary>
    private sealed record Geometry(string Child, int C, int H, int W, int O, int KH, int KW, int SH, int SW, int PH, int PW,
        int DH, int DW, int Groups, int HO, int WO, bool Bias, int ParamIndex)
    {
        public string Args(string n) => $"{n}, {C}, {H}, {W}, {O}, {KH}, {KW}, {SH}, {SW}, {PH}, {PW}, {DH}, {DW}, {Groups}, {HO}, {WO}";
    }

    /// <summary>An (H, W) argument: the default when absent, null when present but not a constant.</summary>
    private static (int H, int W)? PairOr(ChildSpec child, string name, (int, int) fallback)
        => child.Arg(name) switch
        {
            null => fallback,
            { IsKnown: true, Values.Count: 0 } => fallback,
            _ => child.Pair(name),
        };

    public static string? TryEmit(ModuleSpec spec)
    {
        var plan = TryPlan(spec);
        return plan is null ? null : Emit(plan);
    }

    private static Plan? TryPlan(ModuleSpec spec)
    {
        if (spec.Graph is not { IsCompilable: true } graph) return null;
        // Children inlined from a [Module] child or a Sequential (dotted paths) are not reachable as `_m.name` yet.
        if (graph.Children.Any(c => c.Name.Contains('.'))) return null;
        // Only Forward for now: with a [Compiled] method beside it, the nested class named Compiled would also shadow
        // the [Compiled] attribute inside the module.
        var forwards = graph.Methods.Where(m => m.Name == "Forward").ToList();
        if (forwards.Count != 1 || graph.Methods.Count != 1) return null;
        var method = forwards[0];
        if (method.Inputs.Count != 1 || method.Output < 0 || method.Inputs[0].Shape is not { Rank: >= 1 } inShape) return null;
        if (inShape[0].IsFixed || inShape[0].IsUnknown) return null;
        string batch = inShape[0].Symbol!;

        var shapes = ShapeInference.InferNodes(spec, method, new List<DiagnosticInfo>());
        int count = method.Nodes.Count;
        var plan = new Plan
        {
            Spec = spec, Graph = graph, Method = method, Batch = batch, Shapes = new GraphShape[count],
            Features = new int[count], ValueRoot = new int[count], GradRoot = new int[count], FusedIntoLinear = new bool[count],
        };
        var consumers = new int[count];
        foreach (var node in method.Nodes) foreach (var i in node.Inputs) consumers[i]++;
        var usedChildren = new HashSet<string>();

        for (int i = 0; i < count; i++)
        {
            var node = method.Nodes[i];
            if (shapes[i] is not { } shape) return null;
            plan.Shapes[i] = shape;
            plan.ValueRoot[i] = i;
            plan.GradRoot[i] = i;
            if (node.Kind == NodeKind.Constant)
            {
                if (shape.Rank != 0) return null;
                continue;
            }
            if (shape.Rank < 1 || shape[0].Symbol != batch) return null;
            int features = 1;
            for (int d = 1; d < shape.Rank; d++)
            {
                if (!shape[d].IsFixed) return null;
                features *= shape[d].Size;
            }
            plan.Features[i] = features;

            switch (node.Kind)
            {
                case NodeKind.Input when node.Op == "Input":
                    plan.InputNode = i;
                    plan.ValueRoot[i] = -1;
                    break;
                case NodeKind.Linear:
                {
                    if (node.Child is null || !usedChildren.Add(node.Child) || graph.FindChild(node.Child) is not { } child) return null;
                    if (child.Int("inFeatures") is not { } inF || child.Int("outFeatures") is not { } outF) return null;
                    if (child.Arg("bias") is { } b && !b.IsKnown) return null;
                    bool bias = child.Int("bias") != 0;
                    if (plan.Features[node.Inputs[0]] != inF || features != outF || shape.Rank != 2 || plan.Shapes[node.Inputs[0]].Rank != 2) return null;
                    plan.Linears.Add((i, child, inF, outF, bias, plan.ParamCount));
                    plan.ParamNodes.Add((i, child.Name, bias));
                    plan.ParamCount += bias ? 2 : 1;
                    break;
                }
                case NodeKind.Conv when node.Op == "Conv2d":
                {
                    if (node.Child is null || !usedChildren.Add(node.Child) || graph.FindChild(node.Child) is not { } child) return null;
                    var inS = plan.Shapes[node.Inputs[0]];
                    if (inS.Rank != 4 || shape.Rank != 4) return null;
                    if (child.Arg("bias") is { } b && !b.IsKnown) return null;
                    if (child.Pair("kernelSize") is not { } k || PairOr(child, "stride", (1, 1)) is not { } st
                        || PairOr(child, "padding", (0, 0)) is not { } pad || PairOr(child, "dilation", (1, 1)) is not { } dil) return null;
                    if (child.Arg("groups") is { } gr && !gr.IsKnown) return null;
                    int groups = child.Int("groups") ?? 1;
                    bool bias = child.Int("bias") != 0;
                    plan.Convs[i] = new Geometry(child.Name, inS[1].Size, inS[2].Size, inS[3].Size, shape[1].Size, k.H, k.W, st.H, st.W,
                        pad.H, pad.W, dil.H, dil.W, groups, shape[2].Size, shape[3].Size, bias, plan.ParamCount);
                    plan.ParamNodes.Add((i, child.Name, bias));
                    plan.ParamCount += bias ? 2 : 1;
                    break;
                }
                case NodeKind.Pool when node.Op == "MaxPool2d":
                {
                    if (node.Child is null || graph.FindChild(node.Child) is not { } child) return null;
                    var inS = plan.Shapes[node.Inputs[0]];
                    if (inS.Rank != 4 || shape.Rank != 4 || child.Pair("kernelSize") is not { } k) return null;
                    if (PairOr(child, "stride", k) is not { } st || PairOr(child, "padding", (0, 0)) is not { } pad
                        || PairOr(child, "dilation", (1, 1)) is not { } dil) return null;
                    if (child.Arg("ceilMode") is { IsKnown: false }) return null;
                    plan.Pools[i] = new Geometry(child.Name, inS[1].Size, inS[2].Size, inS[3].Size, inS[1].Size, k.H, k.W, st.H, st.W,
                        pad.H, pad.W, dil.H, dil.W, 1, shape[2].Size, shape[3].Size, false, 0);
                    break;
                }
                case NodeKind.Elementwise when node.Inputs.Count == 1 && node.Op is "Relu" or "ReLU":
                {
                    int a = node.Inputs[0];
                    if (method.Nodes[a].Kind == NodeKind.Linear && consumers[a] == 1 && a != method.Output)
                    {
                        plan.FusedIntoLinear[i] = true;
                        plan.ValueRoot[i] = plan.ValueRoot[a];
                    }
                    break;
                }
                case NodeKind.Elementwise when node.Inputs.Count == 1 && node.Op is "Neg" or "Identity":
                    if (node.Op == "Identity") { plan.ValueRoot[i] = plan.ValueRoot[node.Inputs[0]]; plan.GradRoot[i] = plan.GradRoot[node.Inputs[0]]; }
                    break;
                case NodeKind.Elementwise when node.Inputs.Count == 2 && node.Op is "Add" or "Sub" or "Mul" or "Div":
                {
                    bool c0 = IsConstant(method, node.Inputs[0]), c1 = IsConstant(method, node.Inputs[1]);
                    if (c0 && c1) return null;
                    if (!c0 && !c1 && (node.Op == "Div" || !plan.Shapes[node.Inputs[0]].Equals(plan.Shapes[node.Inputs[1]]))) return null;
                    if (c0 && node.Op == "Div") return null;
                    break;
                }
                case NodeKind.Movement when node.Op is "View" or "Reshape" or "Flatten":
                    plan.ValueRoot[i] = plan.ValueRoot[node.Inputs[0]];
                    plan.GradRoot[i] = plan.GradRoot[node.Inputs[0]];
                    break;
                default:
                    return null;
            }
        }
        if (plan.InputNode < 0 || IsConstant(method, method.Output)) return null;
        return plan;
    }

    private static bool IsConstant(GraphMethod method, int node) => method.Nodes[node].Kind == NodeKind.Constant;

    private static string F(double v) => ((float)v).ToString("R", CultureInfo.InvariantCulture) + "f";

    private static string Args(GraphShape shape)
        => string.Join(", ", shape.Dims.Select(d => d.IsFixed ? d.Size.ToString(CultureInfo.InvariantCulture) : "\"" + d.Symbol + "\""));

    /// <summary>The array and offset expressions of node <paramref name="i"/>'s value.</summary>
    private static (string Array, string Offset) Value(Plan p, int i)
    {
        int root = p.ValueRoot[i];
        if (root < 0) return ("xd", "xo");
        return (root == p.ValueRoot[p.Method.Output] ? "y" : "_v" + root, "0");
    }

    private static string Grad(Plan p, int i) => "_g" + p.GradRoot[i];

    private static string Size(Plan p, int i) => p.Features[i] == 1 ? "n" : "n * " + p.Features[i].ToString(CultureInfo.InvariantCulture);

    private static string Emit(Plan p)
    {
        var spec = p.Spec;
        var method = p.Method;
        var nodes = method.Nodes;
        int output = method.Output;
        int outRoot = p.ValueRoot[output];
        var inShape = method.Inputs[0].Shape!;

        var w = ModuleEmitter.BeginFile(spec);

        string cls = spec.ClassName;
        using (w.Block($"{spec.DeclarationKeywords} {cls}"))
        {
            w.WriteLine($"/// <summary>Returns the compiled program of this module, sharing its parameters (no copies). See <see cref=\"Compiled\"/>.</summary>");
            w.WriteLine(GeneratorInfo.GeneratedCodeAttribute);
            w.WriteLine("public Compiled Compile() => new(this);");
            w.WriteLine();
            w.WriteLine($"/// <summary>");
            w.WriteLine($"/// The program SharpGrad generated at build time from <see cref=\"Forward\"/>: a straight-line forward over");
            w.WriteLine($"/// SharpGrad.Kernels and a generated backward, entering the eager tape as one node. Buffers are allocated on the");
            w.WriteLine($"/// first call and reused while the batch does not grow; call Backward on an output before the next Forward.");
            w.WriteLine($"/// Float32 only. Hooks on children are not honoured yet.");
            w.WriteLine($"/// </summary>");
            w.WriteLine(GeneratorInfo.GeneratedCodeAttribute);
            using (w.Block("public sealed class Compiled"))
            {
                w.WriteLine($"private readonly {cls} _m;");
                w.WriteLine("private int _capacity;");
                w.WriteLine("private int _generation;");
                var valueBuffers = Enumerable.Range(0, nodes.Count).Where(i => nodes[i].Kind != NodeKind.Constant && p.ValueRoot[i] == i && i != outRoot).ToList();
                var gradBuffers = Enumerable.Range(0, nodes.Count).Where(i => nodes[i].Kind != NodeKind.Constant && p.GradRoot[i] == i).ToList();
                foreach (var i in valueBuffers) w.WriteLine($"private float[] _v{i} = [];");
                foreach (var i in gradBuffers) w.WriteLine($"private float[] _g{i} = [];");
                var temps = p.Convs.Keys.Concat(p.Pools.Keys).OrderBy(i => i).ToList();
                foreach (var i in temps) w.WriteLine($"private float[] _t{i} = [];");
                foreach (var i in p.Pools.Keys.OrderBy(i => i)) w.WriteLine($"private long[] _i{i} = [];");
                w.WriteLine();
                w.WriteLine($"internal Compiled({cls} module) => _m = module;");
                w.WriteLine();

                // ---- Forward ----
                w.WriteLine($"/// <summary>Runs the compiled forward of <see cref=\"{cls}.Forward\"/> on <paramref name=\"{method.Inputs[0].Name}\"/> of shape <c>{inShape}</c>.</summary>");
                w.WriteLine($"[return: global::SharpGrad.Shape({Args(p.Shapes[output])})]");
                string x = method.Inputs[0].Name;
                using (w.Block($"public {Tensor} Forward([global::SharpGrad.Shape({Args(inShape)})] {Tensor} {x})"))
                {
                    w.WriteLine($"global::System.ArgumentNullException.ThrowIfNull({x});");
                    var checks = new List<string> { $"{x}.Rank != {inShape.Rank}" };
                    for (int d = 1; d < inShape.Rank; d++) checks.Add($"{x}.Size({d}) != {inShape[d].Size}");
                    w.WriteLine($"if ({string.Join(" || ", checks)})");
                    w.WriteLine($"    throw new global::System.ArgumentException(\"{cls}.Compiled.Forward: expected {x} of shape {inShape}, but got \" + {Support}.FormatShape({x}.Shape) + \".\", nameof({x}));");
                    w.WriteLine($"if ({x}.DType != global::SharpGrad.DType.Float32)");
                    w.WriteLine($"    throw new global::System.ArgumentException(\"{cls}.Compiled.Forward: the compiled program is float32 only, but got \" + {x}.DType + \"; run the eager {cls}.Forward for other dtypes.\", nameof({x}));");
                    w.WriteLine($"var xc = {x}.Contiguous();");
                    w.WriteLine($"var xd = {Support}.FloatData(xc);");
                    w.WriteLine("int xo = xc.StorageOffset;");
                    w.WriteLine($"int n = {x}.Size(0);");
                    if (p.Convs.Count + p.Pools.Count > 0)
                        w.WriteLine($"if (xo != 0) {{ xd = global::System.MemoryExtensions.AsSpan(xd, xo, {Size(p, p.InputNode)}).ToArray(); xo = 0; }} // the conv/pool kernels read from offset 0");
                    using (w.Block("if (n > _capacity)"))
                    {
                        w.WriteLine("// Buffers sized on the first call, grown only when the batch grows.");
                        foreach (var i in valueBuffers) w.WriteLine($"_v{i} = new float[{Size(p, i)}];");
                        foreach (var i in gradBuffers) w.WriteLine($"_g{i} = new float[{Size(p, i)}];");
                        foreach (var i in temps) w.WriteLine($"_t{i} = new float[{Size(p, nodes[i].Inputs[0])}]; // the input gradient of {nodes[i].Child}, before accumulation");
                        foreach (var i in p.Pools.Keys.OrderBy(i => i)) w.WriteLine($"_i{i} = new long[{Size(p, i)}];");
                        w.WriteLine("_capacity = n;");
                    }
                    w.WriteLine("int generation = ++_generation;");
                    w.WriteLine($"var y = new float[{Size(p, outRoot < 0 ? output : outRoot)}];");
                    foreach (var (node, child, bias) in p.ParamNodes)
                    {
                        w.WriteLine($"var w{node} = _m.{child}.Weight;");
                        if (bias) w.WriteLine($"var b{node} = _m.{child}.Bias!;");
                    }

                    for (int i = 0; i < nodes.Count; i++) EmitForward(w, p, i);
                    if (outRoot < 0) w.WriteLine($"global::System.Array.Copy(xd, xo, y, 0, {Size(p, output)});");

                    var outShape = p.Shapes[output];
                    var dims = outShape.Dims.Select((d, k) => k == 0 ? "n" : d.Size.ToString(CultureInfo.InvariantCulture));
                    w.WriteLine($"var result = {Support}.Wrap(y, {string.Join(", ", dims)});");
                    w.WriteLine($"var xShape = {x}.Shape;");
                    var inputs = new List<string> { x };
                    var saved = new List<string> { x };
                    foreach (var (node, _, bias) in p.ParamNodes)
                    {
                        inputs.Add($"w{node}");
                        saved.Add($"w{node}");
                        if (bias) inputs.Add($"b{node}");
                    }
                    w.WriteLine($"var inputs = new {Tensor}?[] {{ {string.Join(", ", inputs)} }};");
                    w.WriteLine($"if (!{Support}.ShouldRecord(inputs)) return result;");
                    w.WriteLine($"return {Support}.RecordCompiled(result, \"{cls}CompiledBackward\", inputs,");
                    w.WriteLine($"    (g, node) => Backward(g, node, generation, n, xd, xo, y, xShape), {string.Join(", ", saved)});");
                }
                w.WriteLine();

                // ---- Backward ----
                w.WriteLine("/// <summary>The reverse-mode program generated from the IR (one vector-Jacobian rule per node, in reverse order).</summary>");
                using (w.Block($"private {Tensor}?[] Backward({Tensor} g, global::SharpGrad.Node node, int generation, int n, float[] xd, int xo, float[] y, int[] xShape)"))
                {
                    w.WriteLine("if (generation != _generation)");
                    w.WriteLine($"    throw new global::System.InvalidOperationException(\"{cls}.Compiled: backward through an output of an earlier Forward call, whose buffers a later call has reused; call Backward before calling Forward again, or use the eager model.\");");
                    w.WriteLine($"var grads = new {Tensor}?[{p.ParamCount}];");
                    w.WriteLine("bool needX = node.NeedsInputGrad(0);");
                    w.WriteLine("var gc = g.Contiguous();");
                    w.WriteLine($"var gd = {Support}.FloatData(gc);");
                    w.WriteLine("int go = gc.StorageOffset;");
                    foreach (var i in gradBuffers) w.WriteLine($"global::System.Array.Clear(_g{i}, 0, {Size(p, i)});");
                    w.WriteLine($"// seed: the output gradient");
                    Loop(w, p, output, $"{Grad(p, output)}[j] += gd[go + j];", p.GradRoot[output] == p.GradRoot[p.InputNode]);
                    for (int i = nodes.Count - 1; i >= 0; i--) EmitBackward(w, p, i);
                    using (w.Block("if (needX)"))
                    {
                        w.WriteLine($"var dx = new float[{Size(p, p.InputNode)}];");
                        w.WriteLine($"global::System.Array.Copy({Grad(p, p.InputNode)}, dx, dx.Length);");
                        w.WriteLine($"grads[0] = {Support}.Wrap(dx, xShape);");
                    }
                    w.WriteLine("return grads;");
                }
            }
        }

        return ModuleEmitter.EndFile(w, spec);
    }

    /// <summary>A loop over the n × F elements of node <paramref name="i"/>, guarded by needX when it writes the input's gradient.</summary>
    private static void Loop(IndentedWriter w, Plan p, int i, string body, bool intoInputGrad)
    {
        if (intoInputGrad) w.WriteLine("if (needX)");
        w.WriteLine($"{(intoInputGrad ? "    " : "")}for (int j = 0, len = {Size(p, i)}; j < len; j++) {body}");
    }

    private static string Operand(Plan p, int i, bool inBackward = false)
    {
        var node = p.Method.Nodes[i];
        if (node.Kind == NodeKind.Constant) return F(node.Value);
        var (a, o) = Value(p, i);
        return o == "0" ? $"{a}[j]" : $"{a}[{o} + j]";
    }

    private static void EmitForward(IndentedWriter w, Plan p, int i)
    {
        var node = p.Method.Nodes[i];
        var (dst, _) = Value(p, i);
        switch (node.Kind)
        {
            case NodeKind.Linear:
            {
                var lin = p.Linears.First(l => l.Node == i);
                var (src, srcOff) = Value(p, node.Inputs[0]);
                int fused = FusedRelu(p, i);
                w.WriteLine($"// {node.Text}: GEMM {dst} = {src} · {lin.Child.Name}.weightᵀ");
                w.WriteLine($"{Gemm}.Sgemm(false, true, n, {lin.Out}, {lin.In}, 1f, {src}, {srcOff}, {lin.In}, {Support}.FloatData(w{i}), w{i}.StorageOffset, {lin.In}, 0f, {dst}, 0, {lin.Out});");
                if (lin.Bias || fused >= 0)
                {
                    if (fused >= 0) w.WriteLine($"// fused: {lin.Child.Name} bias + {p.Method.Nodes[fused].Text} in one loop (nodes {i}, {fused})");
                    else w.WriteLine($"// {lin.Child.Name} bias");
                    if (lin.Bias) w.WriteLine($"var bd{i} = {Support}.FloatData(b{i}); int bo{i} = b{i}.StorageOffset;");
                    using (w.Block("for (int r = 0; r < n; r++)"))
                    {
                        w.WriteLine($"int row = r * {lin.Out};");
                        using (w.Block($"for (int c = 0; c < {lin.Out}; c++)"))
                        {
                            string v = lin.Bias ? $"{dst}[row + c] + bd{i}[bo{i} + c]" : $"{dst}[row + c]";
                            if (fused >= 0) w.WriteLine($"float v = {v}; {dst}[row + c] = v > 0f ? v : 0f;");
                            else w.WriteLine($"{dst}[row + c] = {v};");
                        }
                    }
                }
                break;
            }
            case NodeKind.Elementwise when node.Inputs.Count == 1 && node.Op is "Relu" or "ReLU":
                if (p.FusedIntoLinear[i]) break;
                w.WriteLine($"// {node.Text}");
                Loop(w, p, i, $"{{ float v = {Operand(p, node.Inputs[0])}; {dst}[j] = v > 0f ? v : 0f; }}", false);
                break;
            case NodeKind.Elementwise when node.Op == "Neg":
                w.WriteLine($"// {node.Text}");
                Loop(w, p, i, $"{dst}[j] = -{Operand(p, node.Inputs[0])};", false);
                break;
            case NodeKind.Elementwise when node.Inputs.Count == 2:
            {
                string op = node.Op switch { "Add" => "+", "Sub" => "-", "Mul" => "*", _ => "/" };
                w.WriteLine($"// {node.Text}");
                Loop(w, p, i, $"{dst}[j] = {Operand(p, node.Inputs[0])} {op} {Operand(p, node.Inputs[1])};", false);
                break;
            }
            case NodeKind.Movement:
                w.WriteLine($"// {node.Text}: a view, no copy");
                break;
            case NodeKind.Conv:
            {
                var g = p.Convs[i];
                var (src, _) = Value(p, node.Inputs[0]);
                w.WriteLine($"// {node.Text}: im2col + GEMM per image, bias added by the kernel");
                w.WriteLine($"{Support}.Conv2dForward({src}, w{i}, {(g.Bias ? "b" + i : "null")}, {dst}, {g.Args("n")});");
                break;
            }
            case NodeKind.Pool:
            {
                var g = p.Pools[i];
                var (src, _) = Value(p, node.Inputs[0]);
                w.WriteLine($"// {node.Text}");
                w.WriteLine($"{Support}.MaxPool2dForward({src}, {dst}, _i{i}, n * {g.C}, {g.H}, {g.W}, {g.HO}, {g.WO}, {g.KH}, {g.KW}, {g.SH}, {g.SW}, {g.PH}, {g.PW}, {g.DH}, {g.DW});");
                break;
            }
        }
    }

    private static int FusedRelu(Plan p, int linear)
    {
        for (int k = 0; k < p.Method.Nodes.Count; k++)
            if (p.FusedIntoLinear[k] && p.Method.Nodes[k].Inputs[0] == linear) return k;
        return -1;
    }

    private static void EmitBackward(IndentedWriter w, Plan p, int i)
    {
        var node = p.Method.Nodes[i];
        string gi = Grad(p, i);
        bool IntoX(int input) => p.GradRoot[input] == p.GradRoot[p.InputNode];
        switch (node.Kind)
        {
            case NodeKind.Linear:
            {
                var lin = p.Linears.First(l => l.Node == i);
                int a = node.Inputs[0];
                var (src, srcOff) = Value(p, a);
                w.WriteLine($"// d {node.Text}: dInput += dY · W, dW = dYᵀ · input, db = Σ_rows dY");
                if (IntoX(a)) w.WriteLine("if (needX)");
                w.WriteLine($"{(IntoX(a) ? "    " : "")}{Gemm}.Sgemm(false, false, n, {lin.In}, {lin.Out}, 1f, {gi}, 0, {lin.Out}, {Support}.FloatData(_m.{lin.Child.Name}.Weight), _m.{lin.Child.Name}.Weight.StorageOffset, {lin.In}, 1f, {Grad(p, a)}, 0, {lin.In});");
                using (w.Block($"if (node.NeedsInputGrad({lin.ParamIndex}))"))
                {
                    w.WriteLine($"var dw = new float[{lin.Out * lin.In}];");
                    w.WriteLine($"{Gemm}.Sgemm(true, false, {lin.Out}, {lin.In}, n, 1f, {gi}, 0, {lin.Out}, {src}, {srcOff}, {lin.In}, 0f, dw, 0, {lin.In});");
                    w.WriteLine($"grads[{lin.ParamIndex}] = {Support}.Wrap(dw, {lin.Out}, {lin.In});");
                }
                if (lin.Bias)
                {
                    using (w.Block($"if (node.NeedsInputGrad({lin.ParamIndex + 1}))"))
                    {
                        w.WriteLine($"var db = new float[{lin.Out}];");
                        w.WriteLine($"for (int r = 0; r < n; r++) for (int c = 0; c < {lin.Out}; c++) db[c] += {gi}[r * {lin.Out} + c];");
                        w.WriteLine($"grads[{lin.ParamIndex + 1}] = {Support}.Wrap(db, {lin.Out});");
                    }
                }
                break;
            }
            case NodeKind.Elementwise when node.Inputs.Count == 1 && node.Op is "Relu" or "ReLU":
            {
                int a = node.Inputs[0];
                var (v, o) = Value(p, i);
                string val = o == "0" ? $"{v}[j]" : $"{v}[{o} + j]";
                w.WriteLine($"// d {node.Text}: mask by the output{(p.FusedIntoLinear[i] ? " (kept in the fused Linear's buffer)" : "")}");
                Loop(w, p, i, $"if ({val} > 0f) {Grad(p, a)}[j] += {gi}[j];", IntoX(a));
                break;
            }
            case NodeKind.Elementwise when node.Op == "Neg":
                w.WriteLine($"// d {node.Text}");
                Loop(w, p, i, $"{Grad(p, node.Inputs[0])}[j] -= {gi}[j];", IntoX(node.Inputs[0]));
                break;
            case NodeKind.Elementwise when node.Inputs.Count == 2:
            {
                int a = node.Inputs[0], b = node.Inputs[1];
                bool ca = IsConstant(p.Method, a), cb = IsConstant(p.Method, b);
                w.WriteLine($"// d {node.Text}");
                string? da = null, db = null;
                switch (node.Op)
                {
                    case "Add": da = $"{gi}[j]"; db = $"{gi}[j]"; break;
                    case "Sub": da = $"{gi}[j]"; db = $"-{gi}[j]"; break;
                    case "Mul": da = $"{gi}[j] * {Operand(p, b)}"; db = $"{gi}[j] * {Operand(p, a)}"; break;
                    case "Div": da = $"{gi}[j] / {Operand(p, b)}"; break;
                }
                if (!ca && da is not null) Loop(w, p, i, $"{Grad(p, a)}[j] += {da};", IntoX(a));
                if (!cb && db is not null) Loop(w, p, i, $"{Grad(p, b)}[j] += {db};", IntoX(b));
                break;
            }
            case NodeKind.Conv:
            {
                var g = p.Convs[i];
                int a = node.Inputs[0];
                var (src, _) = Value(p, a);
                w.WriteLine($"// d {node.Text}: the convolution's backward kernel (input gradient into a scratch buffer, then accumulated)");
                using (w.Block(IntoX(a) ? $"if (needX || node.NeedsInputGrad({g.ParamIndex}){(g.Bias ? $" || node.NeedsInputGrad({g.ParamIndex + 1})" : "")})" : "// (always: its input is an intermediate value)"))
                {
                    w.WriteLine($"var dw = node.NeedsInputGrad({g.ParamIndex}) ? new float[{g.O * (g.C / g.Groups) * g.KH * g.KW}] : null;");
                    w.WriteLine(g.Bias ? $"var db = node.NeedsInputGrad({g.ParamIndex + 1}) ? new float[{g.O}] : null;" : "float[]? db = null;");
                    w.WriteLine($"var dIn = {(IntoX(a) ? "needX ? _t" + i + " : null" : "_t" + i)};");
                    w.WriteLine($"{Support}.Conv2dBackward({src}, _m.{g.Child}.Weight, {gi}, dIn, dw, db, {g.Args("n")});");
                    w.WriteLine($"if (dIn is not null) for (int j = 0, len = {Size(p, a)}; j < len; j++) {Grad(p, a)}[j] += dIn[j];");
                    w.WriteLine($"if (dw is not null) grads[{g.ParamIndex}] = {Support}.Wrap(dw, {g.O}, {g.C / g.Groups}, {g.KH}, {g.KW});");
                    if (g.Bias) w.WriteLine($"if (db is not null) grads[{g.ParamIndex + 1}] = {Support}.Wrap(db, {g.O});");
                }
                break;
            }
            case NodeKind.Pool:
            {
                var g = p.Pools[i];
                int a = node.Inputs[0];
                w.WriteLine($"// d {node.Text}: scatter to the recorded maxima, then accumulate");
                using (w.Block(IntoX(a) ? "if (needX)" : "// (always: its input is an intermediate value)"))
                {
                    w.WriteLine($"{Support}.MaxPool2dBackward({gi}, _i{i}, _t{i}, n * {g.C}, {g.H * g.W}, {g.HO * g.WO});");
                    w.WriteLine($"for (int j = 0, len = {Size(p, a)}; j < len; j++) {Grad(p, a)}[j] += _t{i}[j];");
                }
                break;
            }
        }
    }
}
