using System.Collections.Generic;
using System.Linq;
using System.Threading;
using SharpGrad.Generator.Model;

namespace SharpGrad.Generator.Compiler;

/// <summary>
/// Shape inference over the graph IR: one rule per node kind, symbolic dims (<c>N</c>) carried through, constant
/// layer arguments folded in. Every mismatch it can prove is an error at the expression, naming both shapes; where a
/// shape is not known it stays silent (an unknown shape, or an unknown dim <c>?</c>, never produces an error).
/// </summary>
internal sealed class ShapeInference
{
    private readonly ModuleSpec _spec;
    private readonly ModuleGraph _graph;
    private readonly List<DiagnosticInfo> _diagnostics;
    private GraphMethod _method = null!;
    private GraphShape?[] _shapes = [];
    private int _current;

    private ShapeInference(ModuleSpec spec, ModuleGraph graph, List<DiagnosticInfo> diagnostics)
    {
        _spec = spec;
        _graph = graph;
        _diagnostics = diagnostics;
    }

    /// <summary>Runs the pass: the spec gains the inferred <see cref="ModuleSpec.Shapes"/> and any diagnostics.</summary>
    public static ModuleSpec Run(ModuleSpec spec, CancellationToken token)
    {
        if (spec.Graph is not { } graph || spec.IsSequential) return spec;
        var diagnostics = new List<DiagnosticInfo>(spec.Diagnostics);
        foreach (var issue in graph.NotCompilable)
        {
            var args = issue.Id == DiagnosticDescriptors.ChildNotConstantId
                ? new[] { spec.ClassName, issue.What, issue.Reason }
                : new[] { spec.ClassName, issue.What, issue.Reason };
            diagnostics.Add(new DiagnosticInfo(issue.Id, issue.Location, args.ToEquatableArray()));
        }

        var pass = new ShapeInference(spec, graph, diagnostics);
        var shapes = new List<MethodShapes>();
        foreach (var method in graph.Methods)
        {
            token.ThrowIfCancellationRequested();
            shapes.Add(pass.InferMethod(method));
        }
        return spec with { Shapes = shapes.ToEquatableArray(), Diagnostics = diagnostics.ToEquatableArray() };
    }

    /// <summary>The shape of every node of <paramref name="method"/> (for tests and later passes).</summary>
    internal static GraphShape?[] InferNodes(ModuleSpec spec, GraphMethod method, List<DiagnosticInfo> diagnostics)
    {
        var pass = new ShapeInference(spec, spec.Graph!, diagnostics);
        pass.InferMethod(method);
        return pass._shapes;
    }

    private MethodShapes InferMethod(GraphMethod method)
    {
        _method = method;
        _shapes = new GraphShape?[method.Nodes.Count];
        for (int i = 0; i < method.Nodes.Count; i++)
        {
            _current = i;
            _shapes[i] = Infer(method.Nodes[i]);
        }
        var output = method.Output >= 0 ? _shapes[method.Output] : null;
        return new MethodShapes(method.Name, method.Inputs, output);
    }

    private GraphShape? In(GraphNode node, int i) => i < node.Inputs.Count ? _shapes[node.Inputs[i]] : null;

    private GraphShape? Infer(GraphNode node) => node.Kind switch
    {
        NodeKind.Input => node.Op == "Input" ? _method.Inputs[node.IntArgs[0]].Shape : null,
        NodeKind.Constant => GraphShape.Scalar,
        NodeKind.Elementwise => node.Inputs.Count == 1 ? In(node, 0) : Broadcast(node),
        NodeKind.Select => In(node, 0) is { } a && a.Equals(In(node, 1)) ? a : null,
        NodeKind.Reduce => Reduce(node),
        NodeKind.Movement => Movement(node),
        NodeKind.MatMul => MatMul(node),
        NodeKind.Linear => Linear(node),
        NodeKind.Conv => Conv(node),
        NodeKind.Pool => Pool(node),
        NodeKind.Norm => In(node, 0),
        NodeKind.Call => node.Op == "Embedding" && In(node, 0) is { } s && Child(node)?.Int("embeddingDim") is { } dim
            ? Append(s.Dims, Dim.Of(dim))
            : null,
        NodeKind.Loss => Loss(node),
        _ => null,
    };

    /// <summary>A loss: a scalar for reduction Mean/Sum (the default), per-sample [N] (class-index losses) or the input's shape for None.</summary>
    private GraphShape? Loss(GraphNode node)
    {
        if (!CheckLossShapes(node)) return null;
        if (node.Scalar("reduction") is not { IsKnown: true } reduction) return null;
        if (reduction.Value != 0) return GraphShape.Scalar;
        if (In(node, 0) is not { Rank: >= 1 } input) return null;
        return node.Op is "CrossEntropy" or "Nll" ? new GraphShape(input[0]) : input;
    }

    /// <summary>
    /// The input/target rule of a loss (SG1018): class-index losses take input [N, C] (or [N]) and target [N]; the
    /// elementwise losses take a target of the input's shape. False (reported) when the IR can prove a mismatch.
    /// </summary>
    private bool CheckLossShapes(GraphNode node)
    {
        if (node.Inputs.Count < 2 || In(node, 0) is not { } input || In(node, 1) is not { } target) return true;
        string? expected = null;
        if (node.Op is "CrossEntropy" or "Nll")
        {
            // Class indices: target drops the class dim (dim 1). Probability targets (same shape) are also valid.
            if (input.Rank >= 2 && !SameDims(input, target))
            {
                var want = new List<Dim> { input[0] };
                for (int d = 2; d < input.Rank; d++) want.Add(input[d]);
                var indices = new GraphShape(want.ToArray());
                if (target.Rank != indices.Rank || Enumerable.Range(0, indices.Rank).Any(d => target[d].DefinitelyDiffers(indices[d])))
                    expected = $"{indices} (class indices) or {input} (class probabilities)";
            }
        }
        else if (node.Op is "Mse" or "L1" or "BinaryCrossEntropyWithLogits" or "BinaryCrossEntropy" or "Huber" or "SmoothL1")
        {
            if (target.Rank != input.Rank || Enumerable.Range(0, input.Rank).Any(d => target[d].DefinitelyDiffers(input[d])))
                expected = input.ToString();
        }
        if (expected is null) return true;
        Report(DiagnosticDescriptors.LossShapesId, node, node.Text, node.InputText(0), input.ToString(), node.InputText(1), target.ToString(), expected);
        return false;
    }

    private static bool SameDims(GraphShape a, GraphShape b)
        => a.Rank == b.Rank && Enumerable.Range(0, a.Rank).All(d => !a[d].DefinitelyDiffers(b[d]));

    private ChildSpec? Child(GraphNode node) => node.Child is null ? null : _graph.FindChild(node.Child);

    // ---- elementwise ------------------------------------------------------------------------------------------

    private GraphShape? Broadcast(GraphNode node)
    {
        if (In(node, 0) is not { } a || In(node, 1) is not { } b) return null;
        int rank = System.Math.Max(a.Rank, b.Rank);
        var dims = new Dim[rank];
        for (int k = 1; k <= rank; k++)
        {
            var x = k <= a.Rank ? a[a.Rank - k] : Dim.Of(1);
            var y = k <= b.Rank ? b[b.Rank - k] : Dim.Of(1);
            if (x.DefinitelyDiffers(y) && x.Size != 1 && y.Size != 1)
            {
                Report(DiagnosticDescriptors.BroadcastMismatchId, node,
                    node.Text, node.InputText(0), a.ToString(), node.InputText(1), b.ToString(), x.ToString(), y.ToString(), k.ToString());
                return null;
            }
            dims[rank - k] = x.Equals(y) ? x
                : x.IsFixed && x.Size == 1 ? y
                : y.IsFixed && y.Size == 1 ? x
                : x.IsFixed ? x
                : y.IsFixed ? y
                : Dim.Unknown;
        }
        return new GraphShape(dims);
    }

    // ---- reductions and movement ------------------------------------------------------------------------------

    private GraphShape? Reduce(GraphNode node)
    {
        if (node.IntArgs.IsEmpty && !node.Flag) return GraphShape.Scalar;   // a full reduction is a scalar, whatever its input
        if (In(node, 0) is not { } s) return null;
        if (node.IntArgs.IsEmpty) return new GraphShape(s.Dims.Select(_ => Dim.Of(1)).ToArray());
        var reduced = new HashSet<int>();
        foreach (int d in node.IntArgs)
        {
            if (Normalize(d, s.Rank) is not { } n) return null;
            reduced.Add(n);
        }
        var dims = new List<Dim>();
        for (int i = 0; i < s.Rank; i++)
        {
            if (!reduced.Contains(i)) dims.Add(s[i]);
            else if (node.Flag) dims.Add(Dim.Of(1));
        }
        return new GraphShape(dims.ToArray());
    }

    private GraphShape? Movement(GraphNode node)
    {
        var s = In(node, 0);
        var args = node.IntArgs;
        switch (node.Op)
        {
            case "View" or "Reshape":
                return View(node, s);
            case "Flatten":
            {
                if (s is null) return null;
                if (s.Rank == 0) return new GraphShape(Dim.Of(1));
                int start = args.Count > 0 ? args[0] : 0, end = args.Count > 1 ? args[1] : -1;
                if (Normalize(start, s.Rank) is not { } a || Normalize(end, s.Rank) is not { } b || a > b) return null;
                var dims = s.Dims.Take(a).ToList();
                dims.Add(Product(s.Dims.Skip(a).Take(b - a + 1)));
                dims.AddRange(s.Dims.Skip(b + 1));
                return new GraphShape(dims.ToArray());
            }
            case "Transpose":
            {
                if (s is null || args.Count != 2 || Normalize(args[0], s.Rank) is not { } a || Normalize(args[1], s.Rank) is not { } b) return null;
                var dims = s.Dims.ToArray();
                (dims[a], dims[b]) = (dims[b], dims[a]);
                return new GraphShape(dims);
            }
            case "Permute":
            {
                if (s is null || args.Count != s.Rank) return null;
                var dims = new Dim[s.Rank];
                for (int i = 0; i < dims.Length; i++)
                {
                    if (Normalize(args[i], s.Rank) is not { } from) return null;
                    dims[i] = s[from];
                }
                return new GraphShape(dims);
            }
            case "Unsqueeze":
            {
                if (s is null || args.Count != 1 || Normalize(args[0], s.Rank + 1) is not { } at) return null;
                var dims = s.Dims.ToList();
                dims.Insert(at, Dim.Of(1));
                return new GraphShape(dims.ToArray());
            }
            case "Squeeze":
            {
                if (s is null) return null;
                if (args.Count == 0)
                {
                    if (s.Dims.Any(d => !d.IsFixed)) return null;
                    return new GraphShape(s.Dims.Where(d => d.Size != 1).ToArray());
                }
                if (Normalize(args[0], s.Rank) is not { } at) return null;
                if (!s[at].IsFixed) return null;
                return s[at].Size == 1 ? new GraphShape(s.Dims.Where((_, i) => i != at).ToArray()) : s;
            }
            default:
                return null;
        }
    }

    private GraphShape? View(GraphNode node, GraphShape? s)
    {
        var target = node.IntArgs;
        int holes = target.Count(t => t == -1);
        if (holes > 1 || target.Any(t => t < -1 && t != GraphNode.BatchDim)) return null;   // the runtime reports these
        var batch = Batch();
        var dims = target.Select(t => t == -1 ? Dim.Unknown : t == GraphNode.BatchDim ? batch : Dim.Of(t)).ToArray();
        long known = 1;
        var targetSymbols = new List<string>();
        for (int i = 0; i < dims.Length; i++)
        {
            if (target[i] == -1) continue;
            if (dims[i].IsFixed) known *= dims[i].Size;
            else if (dims[i].IsUnknown) return new GraphShape(dims);
            else targetSymbols.Add(dims[i].Symbol!);
        }
        if (s is null || !s.IsFullyKnown) return new GraphShape(dims);

        long fixedCount = 1;
        var symbols = new List<string>();
        foreach (var d in s.Dims)
        {
            if (d.IsFixed) fixedCount *= d.Size;
            else symbols.Add(d.Symbol!);
        }
        string count = symbols.Count == 0 ? fixedCount.ToString() : string.Join("·", symbols) + (fixedCount == 1 ? "" : "·" + fixedCount);
        string targetText = "[" + string.Join(", ", dims.Select((d, i) => target[i] == -1 ? "-1" : d.ToString())) + "]";
        string targetCount = targetSymbols.Count == 0 ? known.ToString() : string.Join("·", targetSymbols) + (known == 1 ? "" : "·" + known);

        // Symbols on both sides cancel (N·512 → [N, -1]); a symbol of the target the input does not have: no check.
        var remaining = new List<string>(symbols);
        foreach (var symbol in targetSymbols)
        {
            if (!remaining.Remove(symbol)) return new GraphShape(dims);
        }

        if (holes == 0)
        {
            if (remaining.Count == 0 && fixedCount != known)
            {
                Report(DiagnosticDescriptors.ViewElementCountId, node, node.Text, node.InputText(0), s.ToString(), count, targetText,
                    targetText + " has " + targetCount + " elements");
            }
            return new GraphShape(dims);
        }

        if (known == 0) return new GraphShape(dims);
        if (fixedCount % known != 0)
        {
            string reason = "the sizes other than -1 multiply to " + targetCount + ", which does not divide " + count
                            + (remaining.Count == 0 ? "" : " for every " + string.Join(", ", remaining));
            Report(DiagnosticDescriptors.ViewElementCountId, node, node.Text, node.InputText(0), s.ToString(), count, targetText, reason);
            return null;
        }
        long quotient = fixedCount / known;
        int hole = target.ToList().IndexOf(-1);
        dims[hole] = remaining.Count == 0 ? Dim.Of((int)quotient)
            : remaining.Count == 1 && quotient == 1 ? Dim.Sym(remaining[0])
            : Dim.Unknown;
        return new GraphShape(dims);
    }

    // ---- matmul and layers ------------------------------------------------------------------------------------

    private GraphShape? MatMul(GraphNode node)
    {
        if (In(node, 0) is not { Rank: > 0 } a || In(node, 1) is not { Rank: > 0 } b) return null;
        var left = a[a.Rank - 1];
        var right = b.Rank == 1 ? b[0] : b[b.Rank - 2];
        if (left.DefinitelyDiffers(right))
        {
            Report(DiagnosticDescriptors.MatMulInnerDimsId, node, node.Text, node.InputText(0), a.ToString(), node.InputText(1), b.ToString(), left.ToString(), right.ToString());
            return null;
        }
        if (a.Rank == 1 && b.Rank == 1) return GraphShape.Scalar;
        if (a.Rank == 1) return new GraphShape(b.Dims.Take(b.Rank - 2).Concat(new[] { b[b.Rank - 1] }).ToArray());
        if (b.Rank == 1) return new GraphShape(a.Dims.Take(a.Rank - 1).ToArray());
        var batchA = a.Dims.Take(a.Rank - 2).ToArray();
        var batchB = b.Dims.Take(b.Rank - 2).ToArray();
        var batch = batchA.Length >= batchB.Length ? batchA : batchB;   // batch broadcasting is checked at run time for now
        return new GraphShape(batch.Concat(new[] { a[a.Rank - 2], b[b.Rank - 1] }).ToArray());
    }

    private GraphShape? Linear(GraphNode node)
    {
        if (In(node, 0) is not { Rank: > 0 } s || Child(node) is not { } child) return null;
        int? inFeatures = child.Int("inFeatures"), outFeatures = child.Int("outFeatures");
        var last = s[s.Rank - 1];
        if (inFeatures is { } expected && last.DefinitelyDiffers(Dim.Of(expected)))
        {
            Report(DiagnosticDescriptors.LinearInFeaturesId, node, child.Name, $"Linear({expected}, {outFeatures?.ToString() ?? "…"})",
                expected.ToString(), node.InputText(0), s.ToString(), From(node, 0), $"Linear({last}, {outFeatures?.ToString() ?? "…"})");
            return null;
        }
        return Append(s.Dims.Take(s.Rank - 1), outFeatures is { } o ? Dim.Of(o) : Dim.Unknown);
    }

    private GraphShape? Conv(GraphNode node)
    {
        if (In(node, 0) is not { } s || Child(node) is not { } child) return null;
        int spatial = node.Op == "Conv1d" ? 1 : 2;
        if (s.Rank != spatial + 1 && s.Rank != spatial + 2) return null;   // the runtime names the expected rank
        int channelDim = s.Rank - spatial - 1;
        int? inChannels = child.Int("inChannels"), outChannels = child.Int("outChannels");
        var channels = s[channelDim];
        if (inChannels is { } expected && channels.DefinitelyDiffers(Dim.Of(expected)))
        {
            Report(DiagnosticDescriptors.ConvInChannelsId, node, child.Name, $"{child.Kind}({expected}, {outChannels?.ToString() ?? "…"}, …)",
                expected.ToString(), node.InputText(0), s.ToString(), From(node, 0), $"{child.Kind}({channels}, {outChannels?.ToString() ?? "…"}, …)");
            return null;
        }
        var kernel = child.Pair("kernelSize");
        var stride = child.Pair("stride") ?? (1, 1);
        var padding = child.Pair("padding") ?? (0, 0);
        var dilation = child.Pair("dilation") ?? (1, 1);
        var dims = s.Dims.Take(channelDim).ToList();
        dims.Add(outChannels is { } o ? Dim.Of(o) : Dim.Unknown);
        for (int i = 0; i < spatial; i++)
        {
            var size = s[channelDim + 1 + i];
            dims.Add(kernel is { } k && size.IsFixed
                ? OutputSize(size.Size, Pick(k, i), Pick(stride, i), Pick(padding, i), Pick(dilation, i), ceil: false)
                : Dim.Unknown);
        }
        return new GraphShape(dims.ToArray());
    }

    private GraphShape? Pool(GraphNode node)
    {
        if (In(node, 0) is not { Rank: 3 or 4 } s || Child(node) is not { } child) return null;
        var dims = s.Dims.Take(s.Rank - 2).ToList();
        if (node.Op == "AdaptiveAvgPool2d")
        {
            if (child.Pair("outputSize") is not { } output) return null;
            dims.Add(Dim.Of(output.H));
            dims.Add(Dim.Of(output.W));
            return new GraphShape(dims.ToArray());
        }
        var kernel = child.Pair("kernelSize");
        var stride = child.Pair("stride") ?? kernel;
        var padding = child.Pair("padding") ?? (0, 0);
        var dilation = node.Op == "MaxPool2d" ? child.Pair("dilation") ?? (1, 1) : (1, 1);
        bool ceil = child.Int("ceilMode") == 1;
        for (int i = 0; i < 2; i++)
        {
            var size = s[s.Rank - 2 + i];
            dims.Add(kernel is { } k && stride is { } st && size.IsFixed
                ? OutputSize(size.Size, Pick(k, i), Pick(st, i), Pick(padding, i), Pick(dilation, i), ceil)
                : Dim.Unknown);
        }
        return new GraphShape(dims.ToArray());
    }

    /// <summary>PyTorch's output size of a convolution or pooling window along one dim.</summary>
    private static Dim OutputSize(int size, int kernel, int stride, int padding, int dilation, bool ceil)
    {
        if (stride <= 0) return Dim.Unknown;
        int span = size + (2 * padding) - (dilation * (kernel - 1)) - 1;
        if (span < 0) return Dim.Unknown;   // the window does not fit; the runtime reports it
        int output = (ceil ? (span + stride - 1) / stride : span / stride) + 1;
        if (ceil && (output - 1) * stride >= size + padding) output--;
        return Dim.Of(output);
    }

    private static int Pick((int H, int W) pair, int i) => i == 0 ? pair.H : pair.W;

    // ---- helpers ----------------------------------------------------------------------------------------------

    /// <summary>" (from `h.View(-1, 512)`)" when input <paramref name="i"/> was produced by an expression other than the one written here.</summary>
    private string From(GraphNode node, int i)
    {
        var producer = _method.Nodes[node.Inputs[i]];
        if (producer.Kind == NodeKind.Input || producer.Text == node.InputText(i)) return "";
        return " (from `" + producer.Text + "`)";
    }

    private static Dim Product(IEnumerable<Dim> dims)
    {
        long product = 1;
        string? symbol = null;
        foreach (var d in dims)
        {
            if (d.IsFixed) product *= d.Size;
            else if (symbol is null && !d.IsUnknown) symbol = d.Symbol;
            else return Dim.Unknown;
        }
        if (symbol is null) return Dim.Of((int)product);
        return product == 1 ? Dim.Sym(symbol) : Dim.Unknown;
    }

    private static GraphShape Append(IEnumerable<Dim> dims, Dim last) => new(dims.Concat(new[] { last }).ToArray());

    private static int? Normalize(int dim, int rank)
    {
        int d = dim < 0 ? dim + rank : dim;
        return d >= 0 && d < rank ? d : null;
    }

    /// <summary>Reports at the node, unless it was inlined from a child that reports it itself (see <see cref="GraphMethod.Inlined"/>).</summary>
    private void Report(string id, GraphNode node, params string[] args)
    {
        if (_method.IsInlined(_current)) return;
        _diagnostics.Add(new DiagnosticInfo(id, node.Location, args.ToEquatableArray()));
    }

    /// <summary>The batch dim read at run time (<see cref="GraphNode.BatchDim"/>): dim 0 of the first tensor input, or the symbol N.</summary>
    private Dim Batch()
    {
        foreach (var input in _method.Inputs)
        {
            if (input.Shape is { Rank: > 0 } shape) return shape[0];
            break;
        }
        return Dim.Sym(Inliner.BatchSymbol);
    }
}
