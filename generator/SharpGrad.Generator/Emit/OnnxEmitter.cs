using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace SharpGrad.Generator.Emit;

/// <summary>
/// Emits a module's ONNX export (<c>Net.Onnx.g.cs</c>): the class implements <c>SharpGrad.Onnx.IOnnxExportable</c>, and
/// its <c>BuildOnnxGraph</c> writes the static graph of <c>Forward</c> after inlining, in evaluation mode, one
/// <c>OnnxGraphBuilder</c> call per node — no tracing, no reflection. What each op becomes is its catalogue row's entry in
/// <c>OpCatalogue.OnnxExportOf</c> (runtime/SharpGrad/Ops/Catalogue.Onnx.cs). Emitted only when the compilation references
/// SharpGrad.Onnx (<see cref="ExportInterface"/>), so SharpGrad itself does not depend on it. A module this cannot write
/// gets a <c>BuildOnnxGraph</c> that throws <c>NotSupportedException</c> saying why: its graph breaks (listed), an op
/// without ONNX export (named), a shape not known at build time — never a silent wrong graph.
/// </summary>
internal static class OnnxEmitter
{
    /// <summary>The interface <c>OnnxExporter.Export</c> calls; the generator emits exports when the compilation has it.</summary>
    public const string ExportInterface = "SharpGrad.Onnx.IOnnxExportable";

    private const string Onnx = "global::SharpGrad.Onnx";

    /// <summary>The ONNX name of the batch dim (PyTorch's <c>dynamic_axes={"input": {0: "batch"}}</c>).</summary>
    public const string BatchAxis = "batch";

    public static string HintName(ModuleSpec spec) => ModuleEmitter.HintName(spec).Replace(".g.cs", ".Onnx.g.cs");

    /// <summary>The export of <paramref name="spec"/> (a module after inlining and shape inference), or null when it gets none.</summary>
    public static string? Emit(ModuleSpec spec)
    {
        if (!spec.CanEmit || spec.IsSequential || (spec.HandWritten & HandWritten.OnnxExport) != 0) return null;
        string cls = spec.ClassName;
        if (spec.Graph is not { } graph)
        {
            return spec.Compile ? null : Refusal(spec, Text(
                $"{cls} cannot be exported to ONNX: it is marked [Module(Compile = false)], so the generator does not read its Forward and has no graph to write. Remove Compile = false (docs/onnx.md)."));
        }
        if (!graph.IsCompilable) return Refusal(spec, Breaks(cls, graph.NotCompilable));
        var forward = graph.Methods.Where(m => m.Name == "Forward").ToList();
        if (forward.Count != 1 || forward[0].Output < 0)
        {
            return Refusal(spec, Text($"{cls} cannot be exported to ONNX: the generator found {(forward.Count == 0 ? "no" : forward.Count > 1 ? "several" : "no complete")} Forward(Tensor …) to write."));
        }
        var body = new Writer(spec, graph, forward[0]);
        return body.Problems.Count > 0
            ? Refusal(spec, Text($"{cls} cannot be exported to ONNX: {string.Join("; ", body.Problems)}. (An op's ONNX export is one entry of OpCatalogue.OnnxExportOf in runtime/SharpGrad/Ops/Catalogue.Onnx.cs; docs/onnx.md.)"))
            : File(spec, w => w.WriteIndented(body.Code.ToString()));
    }

    private static string File(ModuleSpec spec, System.Action<IndentedWriter> body)
    {
        var w = ModuleEmitter.BeginFile(spec);
        using (w.Block($"{spec.DeclarationKeywords} {spec.ClassName} : global::{ExportInterface}"))
        {
            w.WriteLine("/// <summary>");
            w.WriteLine("/// Writes this module's inference graph (evaluation mode) for <c>SharpGrad.Onnx.OnnxExporter.Export</c>: generated at build");
            w.WriteLine("/// time from the static graph of <c>Forward</c> (PyTorch: what <c>torch.onnx.export</c> traces). Parameters and buffers");
            w.WriteLine("/// are initializers under their state-dict names; the batch dim is the dynamic axis \"batch\" (docs/onnx.md).");
            w.WriteLine("/// </summary>");
            w.WriteLine(GeneratorInfo.GeneratedCodeAttribute);
            using (w.Block($"void global::{ExportInterface}.BuildOnnxGraph({Onnx}.OnnxGraphBuilder graph)"))
            {
                body(w);
            }
        }
        return ModuleEmitter.EndFile(w, spec);
    }

    /// <summary>A <c>BuildOnnxGraph</c> that throws <c>NotSupportedException</c> with a message: the lines of a C# string expression.</summary>
    private static string Refusal(ModuleSpec spec, IReadOnlyList<string> message)
        => File(spec, w =>
        {
            w.WriteLine("throw new global::System.NotSupportedException(");
            w.Indent();
            foreach (var line in message) w.WriteLine(line);
            w.Dedent();
        });

    /// <summary>A message as string literals of at most 100 characters joined by <c>+</c>, one per line, closing the call.</summary>
    private static List<string> Text(string message) => CompiledEmitter.Pieces(message, ");").ToList();

    /// <summary>The message listing the graph breaks, each as <c>GraphBreak.ToString()</c> shows it (as <c>Compile().Explanation</c> lists them).</summary>
    private static List<string> Breaks(string cls, EquatableArray<GraphIssue> breaks)
    {
        var lines = CompiledEmitter.Pieces(
            $"{cls} cannot be exported to ONNX: its graph breaks ({breaks.Count} graph break(s), SG1019), so the generator has no static graph of it to write. Rewrite each as its fix says:",
            " +").ToList();
        lines.Add("global::System.Environment.NewLine + string.Join(global::System.Environment.NewLine, new global::SharpGrad.GraphBreak[]");
        lines.Add("{");
        foreach (var b in breaks)
        {
            lines.Add($"    new({Literal(b.Method)}, {Literal(b.At)},");
            foreach (var piece in CompiledEmitter.Pieces(b.What, ",")) lines.Add("        " + piece);
            foreach (var piece in CompiledEmitter.Pieces(b.Reason, "),")) lines.Add("        " + piece);
        }
        lines.Add("}));");
        return lines;
    }

    private static string Literal(string text) => CompiledEmitter.Literal(text);

    /// <summary>Writes the builder calls of one method's graph, or collects why it cannot.</summary>
    private sealed class Writer
    {
        private readonly ModuleGraph _graph;
        private readonly GraphMethod _method;
        private readonly TensorShape?[] _shapes;
        private readonly string _batch;

        public Writer(ModuleSpec spec, ModuleGraph graph, GraphMethod method)
        {
            _graph = graph;
            _method = method;
            _shapes = ShapeInference.InferNodes(spec, method, new List<DiagnosticInfo>());
            _batch = ShapeInference.BatchOf(method).Symbol ?? "";
            Code.Indent();
            Code.Indent();
            for (int k = 0; k < spec.ContainingTypes.Count; k++) Code.Indent();
            Write();
        }

        public IndentedWriter Code { get; } = new();

        public List<string> Problems { get; } = new();

        private IReadOnlyList<GraphNode> Nodes => _method.Nodes;

        private static string V(int i) => "v" + i.ToString(CultureInfo.InvariantCulture);

        private void Write()
        {
            int count = Nodes.Count;
            // The nodes evaluation needs: `if (Training)` takes its evaluation branch, as torch.onnx.export's TrainingMode.EVAL.
            var live = new bool[count];
            live[_method.Output] = true;
            for (int i = count - 1; i >= 0; i--)
            {
                if (!live[i]) continue;
                var node = Nodes[i];
                if (node.Kind == NodeKind.Select) live[node.Inputs[1]] = true;
                else foreach (var input in node.Inputs) live[input] = true;
            }
            for (int i = 0; i < count; i++)
            {
                if (live[i]) Node(i, live);
            }
            var output = _shapes[_method.Output];
            if (output is { } s && Dims(s, "the output") is { } dims) Code.Call("graph.Output", [V(_method.Output), "\"output\"", dims]);
            else Code.Call("graph.Output", [V(_method.Output), "\"output\""]);
        }

        private void Node(int i, bool[] live)
        {
            var node = Nodes[i];
            switch (node.Kind)
            {
                case NodeKind.Input when node.Op == "Input":
                {
                    var input = _method.Inputs[node.IntArgs[0]];
                    if (_shapes[i] is not { } shape || Dims(shape, $"the input '{input.Name}'") is not { } dims)
                    {
                        Problems.Add($"the shape of the input '{input.Name}' is not known at build time: declare it, e.g. [Shape(\"N\", 784)] Tensor {input.Name}");
                        return;
                    }
                    Builder(i, "Input", Literal(input.Name), $"{Onnx}.OnnxElementType.{ElementType(i, live)}", dims);
                    return;
                }
                case NodeKind.Input:
                    // A parameter or buffer Forward reads itself: an initializer under its state-dict name.
                    Builder(i, "Parameter", Literal(node.Child ?? node.Text), "this");
                    return;
                case NodeKind.Constant:
                    Code.WriteLine($"var {V(i)} = graph.Scalar({MethodDraft.F32(node.Value)});");
                    return;
                case NodeKind.Select:
                    Code.Comment($"{node.Text}: its value in evaluation");
                    Code.WriteLine($"var {V(i)} = {V(node.Inputs[1])};");
                    return;
            }
            var child = node.Child is { } name && name != "this" ? _graph.FindChild(name) : null;
            var row = NodeArguments.RowOf(node, child);
            string where = node.Location is { } l ? " at " + l.Display : "";
            if (row is null)
            {
                Problems.Add($"`{node.Text}`{where} ({(child is null ? node.Kind + " " + node.Op : "the Forward of '" + child.Path + "', a " + child.Kind)}) has no ONNX export");
                return;
            }
            if (OpCatalogue.OnnxExportOf(row.Name) is not { } export)
            {
                Problems.Add($"`{node.Text}`{where} ({row.Name}, PyTorch's {row.PyTorchName}) has no ONNX export yet");
                return;
            }
            string x = node.Inputs.Count > 0 ? V(node.Inputs[0]) : "";
            switch (export.Form)
            {
                case OnnxForm.Identity:
                    Code.Comment($"{node.Text}: the identity in evaluation");
                    Code.WriteLine($"var {V(i)} = {x};");
                    return;
                case OnnxForm.Reshape:
                    if (_shapes[i] is not { } shape) Problems.Add($"the shape of `{node.Text}`{where} is not known at build time");
                    else if (Dims(shape, $"`{node.Text}`{where}") is { } dims) Builder(i, "Reshape", x, dims);
                    return;
                case OnnxForm.Layer:
                    if (child is not { IsBuiltIn: true })
                    {
                        Problems.Add($"`{node.Text}`{where} ({row.Name} called as a function, not as a layer) has no ONNX export yet");
                        return;
                    }
                    string type = "global::SharpGrad.Layers." + child.Kind;
                    // A recurrent layer's builder call returns (Output, final states): the compiled node is the output sequence.
                    string layer = $"global::SharpGrad.CompiledSupport.Submodule<{type}>(this, {Literal(child.Path)})";
                    if (row.Family != OpFamily.Recurrent) Builder(i, "Layer", Literal(child.Path), layer, x);
                    else
                    {
                        Code.Comment(node.Text);
                        Code.Call($"var {V(i)} = graph.Layer", [Literal(child.Path), layer, x], ").Output;");
                    }
                    return;
                default:
                    var args = new List<string>();
                    foreach (var a in export.Arguments)
                    {
                        if (Argument(i, row, child, a, where) is not { } value) return;
                        args.Add(value);
                    }
                    Builder(i, export.Method, args.ToArray());
                    return;
            }
        }

        /// <summary>Node <paramref name="i"/>'s value: its source text as a comment, then <c>var v{i} = graph.Method(arguments);</c>.</summary>
        private void Builder(int i, string method, params string[] arguments)
        {
            if (Nodes[i].Kind != NodeKind.Input) Code.Comment(Nodes[i].Text);
            Code.Call($"var {V(i)} = graph.{method}", arguments);
        }

        /// <summary>One argument of a builder call (see <see cref="OnnxExport"/>): a tensor input's value, a scalar's constant, a reduction's dims or flag.</summary>
        private string? Argument(int i, OpRow row, ChildSpec? child, string name, string where)
        {
            var node = Nodes[i];
            if (name == "@dims") return "new int[] { " + string.Join(", ", node.IntArgs.Select(d => d.ToString(CultureInfo.InvariantCulture))) + " }";
            if (name == "@keepDim") return node.Flag ? "true" : "false";
            if (name == "@inputs") return $"new {Onnx}.OnnxValue[] {{ {string.Join(", ", node.Inputs.Select(V))} }}";
            for (int k = 0; k < row.Inputs.Count; k++)
            {
                if (row.Inputs[k].Name != name) continue;
                if (k < node.Inputs.Count) return V(node.Inputs[k]);
                Problems.Add($"`{node.Text}`{where}: its input '{name}' is missing");
                return null;
            }
            var p = row.Param(name, layer: child is not null);
            if (p is null)
            {
                Problems.Add($"the ONNX export of {row.Name} names '{name}', which is neither an input nor a parameter of the row");
                return null;
            }
            var args = new NodeArguments(node, child);
            bool given = args.Has(name);
            string? literal = p.Kind switch
            {
                ParamKind.Double => (given ? args.Number(name) : p.DefaultNumber) is { } d ? Double(d) : null,
                ParamKind.Int => (given ? args.Number(name) : p.DefaultNumber) is { } n ? ((int)n).ToString(CultureInfo.InvariantCulture) : null,
                ParamKind.Bool => (given ? args.Number(name) : p.DefaultNumber) is { } b ? (b != 0 ? "true" : "false") : null,
                ParamKind.Choice => (given ? args.Text(name) : p.Default as string) is { } s ? Literal(s) : null,
                ParamKind.Ints => (given ? args.Ints(name) : p.DefaultInts) is { } list
                    ? "new int[] { " + string.Join(", ", list.Select(v => v.ToString(CultureInfo.InvariantCulture))) + " }"
                    : null,
                _ => null,
            };
            if (literal is null) Problems.Add($"`{node.Text}`{where}: its argument '{name}' is not a constant the generator can read");
            return literal;
        }

        private static string Double(double d)
            => double.IsNaN(d) ? "double.NaN"
               : double.IsPositiveInfinity(d) ? "double.PositiveInfinity"
               : double.IsNegativeInfinity(d) ? "double.NegativeInfinity"
               : d.ToString("R", CultureInfo.InvariantCulture) is var s && s.IndexOfAny(new[] { '.', 'E' }) < 0 ? s + ".0" : d.ToString("R", CultureInfo.InvariantCulture);

        /// <summary>
        /// An input's element type: Int64 for indices (an input a row reads as data, such as an embedding's), Bool for a
        /// mask, Float32 otherwise.
        /// </summary>
        private string ElementType(int input, bool[] live)
        {
            for (int c = input + 1; c < Nodes.Count; c++)
            {
                if (!live[c]) continue;
                var node = Nodes[c];
                var child = node.Child is { } name && name != "this" ? _graph.FindChild(name) : null;
                if (NodeArguments.RowOf(node, child) is not { } row) continue;
                for (int s = 0; s < node.Inputs.Count; s++)
                {
                    if (node.Inputs[s] != input || !MethodDraft.ReadsAsData(row, s)) continue;
                    return s < row.Inputs.Count && row.Inputs[s].Name == "mask" ? "Bool" : "Int64";
                }
            }
            return "Float32";
        }

        /// <summary>A shape as OnnxDim arguments (<c>new OnnxDim[] { "batch", 784 }</c>: the batch symbol named "batch", other
        /// symbols by their names), or null (and a problem) when a dim is unknown at build time.</summary>
        private string? Dims(TensorShape shape, string what)
        {
            var dims = new List<string>();
            foreach (var d in shape.Dims)
            {
                if (d.IsFixed) dims.Add(d.Size.ToString(CultureInfo.InvariantCulture));
                else if (d.IsSymbol) dims.Add(Literal(d.Symbol == _batch ? BatchAxis : d.Symbol!));
                else
                {
                    Problems.Add($"the shape of {what} is not known at build time ({shape})");
                    return null;
                }
            }
            return $"new {Onnx}.OnnxDim[] {{ {string.Join(", ", dims)} }}";
        }
    }
}
