// Shared source (runtime, generator, analyzers): see Dim.cs.
using System;
using System.Collections.Generic;

namespace SharpGrad.Ops;

/// <summary>How the generated ONNX export writes a node of a catalogue row (docs/onnx.md).</summary>
internal enum OnnxForm
{
    /// <summary>
    /// A child layer: <c>graph.Layer("path", child, x)</c>. The <c>OnnxGraphBuilder.Layer</c> overload for the layer's class
    /// adds its parameters and buffers under their state-dict names and writes its nodes (Linear's Gemm, BatchNorm's
    /// running statistics, LSTM's gate reordering). A functional call of such a row is refused.
    /// </summary>
    Layer,

    /// <summary>
    /// An <c>OnnxGraphBuilder</c> method: <c>graph.Method(arguments)</c>, the arguments named by
    /// <see cref="OnnxExport.Arguments"/>. The builder method writes PyTorch's op as ONNX nodes (GELU's decomposition
    /// below opset 20, Softplus's threshold, …).
    /// </summary>
    Call,

    /// <summary>A view (View, Reshape, Flatten, Unsqueeze, Squeeze): one <c>Reshape</c> to the shape inferred at build time.</summary>
    Reshape,

    /// <summary>The identity in evaluation mode (Dropout, Identity): no node, as <c>torch.onnx.export</c> writes them.</summary>
    Identity,
}

/// <summary>
/// The ONNX export of one catalogue row: the form of the builder call and, for <see cref="OnnxForm.Call"/>, the builder
/// method and its arguments. An argument is one of the row's tensor inputs by name (<c>input</c>, <c>other</c>,
/// <c>mask</c>: the value of that input), one of its scalar parameters by name (<c>negativeSlope</c>, <c>dim</c>: the
/// constant given in the call or the layer's constructor, else the row's default), <c>@inputs</c> (every tensor input, as
/// an array: <c>Cat</c>'s list), or <c>@dims</c> / <c>@keepDim</c> (a reduction's dims, all when none are given, and its
/// keepdim flag).
/// </summary>
internal sealed class OnnxExport
{
    public OnnxExport(OnnxForm form, string method, string[] arguments)
    {
        Form = form;
        Method = method;
        Arguments = arguments;
    }

    public OnnxForm Form { get; }

    /// <summary>The <c>OnnxGraphBuilder</c> method of a <see cref="OnnxForm.Call"/>.</summary>
    public string Method { get; }

    /// <summary>The method's arguments, in order.</summary>
    public IReadOnlyList<string> Arguments { get; }
}

internal static partial class OpCatalogue
{
    /// <summary>
    /// Each row's ONNX export, keyed by <see cref="OpRow.Name"/>: what the generator writes for a node of the row in a
    /// module's generated <c>BuildOnnxGraph</c>. A row without an entry is refused by that export, naming the op — giving
    /// an op ONNX export is one entry here (and, when no builder method writes it yet, that method in
    /// runtime/SharpGrad.Onnx/OnnxGraphBuilder.Ops.cs).
    /// </summary>
    private static readonly Dictionary<string, OnnxExport> OnnxExports = BuildOnnxExports();

    /// <summary>The ONNX export of the row named <paramref name="rowName"/>, or null when it has none yet.</summary>
    public static OnnxExport? OnnxExportOf(string rowName) => OnnxExports.TryGetValue(rowName, out var e) ? e : null;

    private static Dictionary<string, OnnxExport> BuildOnnxExports()
    {
        var d = new Dictionary<string, OnnxExport>(StringComparer.Ordinal);
        void Layer(string row) => d.Add(row, new OnnxExport(OnnxForm.Layer, "Layer", Array.Empty<string>()));
        void Call(string row, string method, params string[] arguments) => d.Add(row, new OnnxExport(OnnxForm.Call, method, arguments));
        void Form(string row, OnnxForm form) => d.Add(row, new OnnxExport(form, "", Array.Empty<string>()));

        // Layers whose parameters and options the builder reads from the layer object (OnnxGraphBuilder.Layers.cs,
        // OnnxGraphBuilder.Sequence.cs).
        Layer("Linear");
        Layer("Conv1d");
        Layer("Conv2d");
        Layer("ConvTranspose2d");
        Layer("MaxPool2d");
        Layer("AvgPool2d");
        Layer("AdaptiveAvgPool2d");
        Layer("BatchNorm1d");
        Layer("BatchNorm2d");
        Layer("LayerNorm");
        Layer("Embedding");
        Layer("TransformerEncoderLayer");
        Layer("Lstm");   // the builder's call returns (Output, h_n, c_n): the generated code takes .Output
        Layer("Gru");
        Layer("Rnn");

        // The identity in evaluation mode, and views (one Reshape to the inferred shape).
        Form("Dropout", OnnxForm.Identity);
        Form("Identity", OnnxForm.Identity);
        Form("Contiguous", OnnxForm.Identity);
        Form("View", OnnxForm.Reshape);
        Form("Reshape", OnnxForm.Reshape);
        Form("Flatten", OnnxForm.Reshape);
        Form("Unsqueeze", OnnxForm.Reshape);
        Form("Squeeze", OnnxForm.Reshape);
        Call("Transpose", "Transpose", "input", "dim0", "dim1");
        Call("Permute", "Permute", "input", "dims");

        // Slicing and joining (the windows of Tensor.Narrow/Slice/Select, torch.cat's list).
        Call("Narrow", "Narrow", "input", "dim", "start", "length");
        Call("Slice", "Slice", "input", "dim", "start", "end", "step");
        Call("Select", "Select", "input", "dim", "index");
        Call("Cat", "Cat", "@inputs", "dim");

        // Pointwise ops and activations (functional calls and their layers alike: a layer's options are its arguments).
        Call("Relu", "Relu", "input");
        Call("Relu6", "Relu6", "input");
        Call("Sigmoid", "Sigmoid", "input");
        Call("Tanh", "Tanh", "input");
        Call("LeakyRelu", "LeakyRelu", "input", "negativeSlope");
        Call("Elu", "Elu", "input", "alpha");
        Call("Gelu", "Gelu", "input", "approximate");
        Call("Silu", "Silu", "input");
        Call("Softplus", "Softplus", "input", "beta", "threshold");
        Call("Hardtanh", "Hardtanh", "input", "minVal", "maxVal");
        Call("LogSigmoid", "LogSigmoid", "input");
        Call("Exp", "Exp", "input");
        Call("Log", "Log", "input");
        Call("Sqrt", "Sqrt", "input");
        Call("Abs", "Abs", "input");
        Call("Neg", "Neg", "input");
        Call("PowScalar", "Pow", "input", "exponent");

        // Broadcasting binary ops (a number operand is a scalar constant), products, softmax, reductions, masks.
        Call("Add", "Add", "input", "other");
        Call("Sub", "Sub", "input", "other");
        Call("Mul", "Mul", "input", "other");
        Call("Div", "Div", "input", "other");
        Call("Maximum", "Maximum", "input", "other");
        Call("Minimum", "Minimum", "input", "other");
        Call("MatMul", "MatMul", "input", "other");
        Call("Softmax", "Softmax", "input", "dim");
        Call("LogSoftmax", "LogSoftmax", "input", "dim");
        Call("Sum", "Sum", "input", "@dims", "@keepDim");
        Call("Mean", "Mean", "input", "@dims", "@keepDim");
        Call("MaskedFill", "MaskedFill", "input", "mask", "value");
        return d;
    }
}
