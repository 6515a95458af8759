using System.Runtime.InteropServices;
using Google.Protobuf;
using Proto = global::Onnx;

namespace SharpGrad.Onnx;

/// <summary>Builds an ONNX graph node by node: graph inputs with fixed and symbolic dims, a module's parameters as
/// initializers under their PyTorch names, one call per op of <c>Forward</c> (in evaluation mode), the outputs.</summary>
/// <remarks>
/// The op methods (<c>OnnxGraphBuilder.Ops.cs</c>) take PyTorch's ops and arguments — <see cref="Linear"/>,
/// <see cref="Conv2d"/>, <see cref="BatchNorm"/>, <see cref="Softmax"/>, … — and write the ONNX opset 17 nodes that compute
/// them, as <c>torch.onnx.export</c> does. The builder tracks each value's shape (fixed, symbolic or unknown dims) to
/// choose between mappings (Gemm for a 2-d Linear input, MatMul otherwise) and to fill the outputs' types. It is the
/// runtime half of ONNX export: <see cref="IOnnxExportable"/> implementations call it, <see cref="OnnxExporter"/> writes
/// the result. No reflection.
/// </remarks>
public sealed partial class OnnxGraphBuilder
{
    /// <summary>The opset written by default (PyTorch 2's <c>torch.onnx.export</c> default is 17 as well).</summary>
    public const int DefaultOpset = 17;

    /// <summary>The lowest opset this builder writes (LayerNormalization is an ONNX op from opset 17).</summary>
    public const int MinOpset = 17;

    /// <summary>The highest opset this builder writes.</summary>
    public const int MaxOpset = 20;

    private readonly Proto.GraphProto _graph = new();
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Tensor> _parameters = new(StringComparer.Ordinal);
    private readonly Stack<string> _scopes = new();
    private readonly Dictionary<string, int> _counters = new(StringComparer.Ordinal);

    /// <summary>A builder for a graph named <paramref name="graphName"/> at <paramref name="opset"/>.</summary>
    public OnnxGraphBuilder(string graphName, int opset = DefaultOpset)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(graphName);
        if (opset is < MinOpset or > MaxOpset)
        {
            throw new ArgumentOutOfRangeException(nameof(opset), opset,
                $"SharpGrad writes ONNX opsets {MinOpset} to {MaxOpset}; got opset {opset}. Pass opset: {DefaultOpset} (the default), which ONNX Runtime 1.14 and later run.");
        }
        _graph.Name = graphName;
        Opset = opset;
    }

    /// <summary>The ONNX opset of the graph.</summary>
    public int Opset { get; }

    /// <summary>The graph inputs declared so far.</summary>
    public IReadOnlyList<string> InputNames => _graph.Input.Select(i => i.Name).ToArray();

    /// <summary>The graph outputs declared so far.</summary>
    public IReadOnlyList<string> OutputNames => _graph.Output.Select(o => o.Name).ToArray();

    /// <summary>Declares a float32 graph input (PyTorch: an entry of <c>input_names</c>, with its <c>dynamic_axes</c> as
    /// symbolic dims).</summary>
    /// <param name="name">The input's name, e.g. <c>"input"</c>.</param>
    /// <param name="shape">Its dims: ints are fixed sizes, strings symbolic ones (<c>"N"</c>).</param>
    public OnnxValue Input(string name, params OnnxDim[] shape) => Input(name, OnnxElementType.Float32, shape);

    /// <summary>Declares a graph input of the given element type (<see cref="OnnxElementType.Int64"/> for token ids).</summary>
    public OnnxValue Input(string name, OnnxElementType elementType, params OnnxDim[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        Claim(name, "graph input");
        _graph.Input.Add(ValueInfo(name, elementType, shape));
        return new OnnxValue(this, name, elementType, (OnnxDim[])shape.Clone());
    }

    /// <summary>Declares <paramref name="value"/> a graph output named <paramref name="name"/> (PyTorch:
    /// <c>output_names</c>), with the shape the builder tracked or, when given, <paramref name="shape"/>.</summary>
    public void Output(OnnxValue value, string name = "output", params OnnxDim[]? shape)
    {
        Own(value);
        var dims = shape is { Length: > 0 } ? shape : value.Shape?.ToArray();
        if (dims is not null && value.Shape is { } tracked)
            CheckCompatible(name, dims, tracked);
        if (value.Name != name)
        {
            Claim(name, "graph output");
            AddNode("Identity", [value.Name], [name], [], NodeName(NewName("Identity")));
        }
        _graph.Output.Add(ValueInfo(name, value.ElementType, dims));
    }

    /// <summary>Adds a parameter or buffer as an initializer named <paramref name="name"/> — its PyTorch state-dict name
    /// (<c>"fc1.weight"</c>, <c>"bn1.running_mean"</c>) — holding its current values. The same tensor added twice under
    /// the same name (a shared parameter) gives the same value.</summary>
    public OnnxValue Parameter(string name, Tensor value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (_parameters.TryGetValue(name, out var existing))
        {
            return ReferenceEquals(existing, value)
                ? new OnnxValue(this, name, ElementTypeOf(value, name), ToDims(value.Shape))
                : throw new ArgumentException($"The initializer '{name}' was already added with another tensor: each parameter name must name one tensor.", nameof(name));
        }
        Claim(name, "initializer");
        _parameters.Add(name, value);
        _graph.Initializer.Add(ToTensorProto(name, value));
        return new OnnxValue(this, name, ElementTypeOf(value, name), ToDims(value.Shape));
    }

    /// <summary>Adds the parameter or buffer of <paramref name="root"/> whose state-dict name is <paramref name="name"/>
    /// (<c>"scale"</c>, <c>"block.pos_embedding"</c>) as an initializer: what generated export code writes for a parameter
    /// or buffer that <c>Forward</c> reads itself.</summary>
    public OnnxValue Parameter(string name, Module root)
    {
        ArgumentNullException.ThrowIfNull(root);
        foreach (var (n, t) in root.NamedParameters().Concat(root.NamedBuffers()))
            if (n == name) return Parameter(name, t);
        throw new ArgumentException($"{root.GetType().Name} has no parameter or buffer named '{name}'; its state dict holds: {string.Join(", ", root.StateDict().Keys)}.", nameof(name));
    }

    /// <summary>Opens a naming scope (PyTorch's exporter names nodes <c>/fc1/Gemm</c> after the submodule): values and
    /// nodes created until the returned handle is disposed are named under <c>/<paramref name="name"/>/</c>.</summary>
    public IDisposable Scope(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        _scopes.Push(name);
        return new ScopeHandle(this, _scopes.Count);
    }

    /// <summary>Adds a node of any ONNX op (domain <c>ai.onnx</c>) — for what the PyTorch-level methods do not cover.</summary>
    /// <param name="opType">The ONNX op, e.g. <c>"Erf"</c>.</param>
    /// <param name="inputs">Its inputs in ONNX order; null for an omitted optional input.</param>
    /// <param name="attributes">Its attributes.</param>
    /// <param name="outputShape">The output's shape if known (null: unknown rank).</param>
    /// <param name="elementType">The output's element type (default: the first input's).</param>
    public OnnxValue Node(string opType, IReadOnlyList<OnnxValue?> inputs, IReadOnlyList<OnnxAttribute>? attributes = null,
        IReadOnlyList<OnnxDim>? outputShape = null, OnnxElementType? elementType = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(opType);
        ArgumentNullException.ThrowIfNull(inputs);
        foreach (var input in inputs)
            if (input is not null) Own(input);
        var type = elementType ?? inputs.FirstOrDefault(i => i is not null)?.ElementType ?? OnnxElementType.Float32;
        var output = NewName(opType);
        AddNode(opType, inputs.Select(i => i?.Name ?? "").ToArray(), [output], attributes ?? [], NodeName(output));
        return new OnnxValue(this, output, type, outputShape?.ToArray());
    }

    /// <summary>The ONNX model: the graph, the opset import and the producer (SharpGrad).</summary>
    internal Proto.ModelProto ToModel()
    {
        if (_graph.Input.Count == 0)
            throw new InvalidOperationException($"The ONNX graph '{_graph.Name}' has no input: call graph.Input(name, dims) for each input of Forward.");
        if (_graph.Output.Count == 0)
            throw new InvalidOperationException($"The ONNX graph '{_graph.Name}' has no output: call graph.Output(value, name) for what Forward returns.");
        var model = new Proto.ModelProto
        {
            IrVersion = Opset <= 18 ? 8 : 9, // the IR version that introduced each opset (onnx/helper.py's VERSION_TABLE)
            ProducerName = "SharpGrad",
            ProducerVersion = typeof(OnnxGraphBuilder).Assembly.GetName().Version?.ToString(3) ?? "",
            Graph = _graph.Clone(),
        };
        model.OpsetImport.Add(new Proto.OperatorSetIdProto { Domain = "", Version = Opset });
        return model;
    }

    /// <summary>The ONNX model file's bytes.</summary>
    public byte[] ToBytes() => ToModel().ToByteArray();

    /// <summary>Writes the ONNX model file.</summary>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        File.WriteAllBytes(path, ToBytes());
    }

    // ---------------- internals ----------------

    internal OnnxValue Add(string opType, OnnxValue?[] inputs, OnnxAttribute[] attributes, OnnxDim[]? shape, OnnxElementType? type = null)
        => Node(opType, inputs, attributes, shape, type);

    /// <summary>A node with several outputs (LSTM's Y, Y_h, Y_c): the first output is named like a one-output node's,
    /// the others after it with <c>_1</c>, <c>_2</c>, ….</summary>
    internal OnnxValue[] AddMulti(string opType, OnnxValue?[] inputs, OnnxAttribute[] attributes, OnnxDim[]?[] shapes)
    {
        foreach (var input in inputs)
            if (input is not null) Own(input);
        var type = inputs.First(i => i is not null)!.ElementType;
        var first = NewName(opType);
        var outputs = new string[shapes.Length];
        outputs[0] = first;
        for (int i = 1; i < outputs.Length; i++)
        {
            outputs[i] = first + "_" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            Claim(outputs[i], "node output");
        }
        int count = inputs.Length;
        while (count > 0 && inputs[count - 1] is null) count--; // omitted trailing optional inputs are left out
        AddNode(opType, inputs.Take(count).Select(i => i?.Name ?? "").ToArray(), outputs, attributes, NodeName(first));
        return outputs.Select((o, i) => new OnnxValue(this, o, type, shapes[i])).ToArray();
    }

    /// <summary>The naming scope of a layer called <paramref name="name"/>: its path relative to the enclosing layer's
    /// (<c>graph.Layer("encoder.self_attn", …)</c> inside the scope <c>encoder</c> names nodes <c>/encoder/self_attn/…</c>).</summary>
    private IDisposable LayerScope(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var path = string.Join(".", _scopes.Reverse());
        return Scope(path.Length > 0 && name.StartsWith(path + ".", StringComparison.Ordinal) ? name[(path.Length + 1)..] : name);
    }

    // A node is named after its output ("/fc1/Gemm" makes "/fc1/Gemm_output"), as PyTorch's exporter names them.
    private static string NodeName(string outputName) => outputName[..^"_output".Length];

    private void AddNode(string opType, string[] inputs, string[] outputs, IReadOnlyList<OnnxAttribute> attributes, string nodeName)
    {
        var node = new Proto.NodeProto { OpType = opType, Name = nodeName };
        node.Input.Add(inputs);
        node.Output.Add(outputs);
        foreach (var a in attributes) node.Attribute.Add(a.ToProto());
        _graph.Node.Add(node);
    }

    private string NewName(string stem)
    {
        var prefix = _scopes.Count == 0 ? "/" : "/" + string.Join("/", _scopes.Reverse()) + "/";
        var key = prefix + stem;
        _counters.TryGetValue(key, out int n);
        string name;
        do
        {
            name = n == 0 ? $"{key}_output" : $"{key}_{n}_output";
            n++;
        } while (_names.Contains(name));
        _counters[key] = n;
        _names.Add(name);
        return name;
    }

    internal OnnxValue Constant(string stem, OnnxElementType type, long[] dims, ReadOnlySpan<byte> raw)
    {
        var name = NewName(stem);
        var t = new Proto.TensorProto { Name = name, DataType = (int)type, RawData = ByteString.CopyFrom(raw) };
        t.Dims.Add(dims);
        _graph.Initializer.Add(t);
        return new OnnxValue(this, name, type, dims.Select(d => OnnxDim.Fixed(d)).ToArray());
    }

    private void Claim(string name, string what)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (!_names.Add(name))
            throw new ArgumentException($"The name '{name}' is already used in the ONNX graph '{_graph.Name}'; each {what} needs a name of its own.", nameof(name));
    }

    private void Own(OnnxValue value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (!ReferenceEquals(value.Owner, this))
            throw new ArgumentException($"The value '{value.Name}' belongs to another OnnxGraphBuilder: values are used only with the builder that made them.", nameof(value));
    }

    private static void CheckCompatible(string name, OnnxDim[] declared, IReadOnlyList<OnnxDim> tracked)
    {
        bool ok = declared.Length == tracked.Count;
        for (int i = 0; ok && i < declared.Length; i++)
            ok = !(declared[i].Value is { } a && tracked[i].Value is { } b && a != b);
        if (!ok)
            throw new ArgumentException($"The output '{name}' is declared with shape {OnnxDim.Format(declared)}, but the graph computes {OnnxDim.Format(tracked)}.", nameof(declared));
    }

    private static Proto.ValueInfoProto ValueInfo(string name, OnnxElementType type, IReadOnlyList<OnnxDim>? shape)
    {
        var tensor = new Proto.TypeProto.Types.Tensor { ElemType = (int)type };
        if (shape is not null)
        {
            var s = new Proto.TensorShapeProto();
            foreach (var d in shape)
            {
                var dim = new Proto.TensorShapeProto.Types.Dimension();
                if (d.Value is { } v) dim.DimValue = v;
                else if (d.Param is { } p) dim.DimParam = p;
                s.Dim.Add(dim);
            }
            tensor.Shape = s;
        }
        return new Proto.ValueInfoProto { Name = name, Type = new Proto.TypeProto { TensorType = tensor } };
    }

    private static OnnxElementType ElementTypeOf(Tensor t, string name) => t.DType switch
    {
        DType.Float32 => OnnxElementType.Float32,
        DType.Int64 => OnnxElementType.Int64,
        DType.Bool => OnnxElementType.Bool,
        _ => throw new NotSupportedException($"The initializer '{name}' is a {t.DType} tensor; ONNX export writes Float32 parameters (and Int64 indices, Bool masks). Convert the model with .To(DType.Float32) first."),
    };

    private static Proto.TensorProto ToTensorProto(string name, Tensor value)
    {
        var type = ElementTypeOf(value, name);
        var t = new Proto.TensorProto { Name = name, DataType = (int)type };
        t.Dims.Add(value.Shape.Select(d => (long)d));
        // raw_data is little-endian, as ONNX requires; .NET on every platform SharpGrad runs on is little-endian.
        t.RawData = type switch
        {
            OnnxElementType.Float32 => ByteString.CopyFrom(MemoryMarshal.AsBytes(value.Detach().ToArray().AsSpan())),
            OnnxElementType.Int64 => ByteString.CopyFrom(MemoryMarshal.AsBytes(value.ToLongArray().AsSpan())),
            _ => ByteString.CopyFrom(MemoryMarshal.AsBytes(value.ToBoolArray().AsSpan())), // one byte per bool, 0 or 1
        };
        return t;
    }

    internal static OnnxDim[] ToDims(int[] shape) => shape.Select(d => OnnxDim.Fixed(d)).ToArray();

    private sealed class ScopeHandle(OnnxGraphBuilder owner, int depth) : IDisposable
    {
        private bool _disposed;

        public void Dispose()
        {
            if (_disposed) return;
            if (owner._scopes.Count != depth)
                throw new InvalidOperationException("ONNX builder scopes must be closed in the reverse order of opening (use `using`).");
            owner._scopes.Pop();
            _disposed = true;
        }
    }
}
