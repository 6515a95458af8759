// Shared source (runtime, generator, analyzers): see Dim.cs.
using System;
using System.Collections.Generic;

namespace SharpGrad.Ops;

/// <summary>
/// How an op computes, which decides its kernel interface and its compiled rule: adding an op of an existing family is
/// a catalogue row and a kernel; a new family is a new rule (generator/Rules) and kernel interface.
/// </summary>
internal enum OpFamily
{
    /// <summary>y = f(x) elementwise, up to two scalar parameters: one kernel type with its forward and its derivative.</summary>
    Pointwise,

    /// <summary>y = f(a, b) elementwise with NumPy broadcasting.</summary>
    Binary,

    /// <summary>A sum or mean over dims.</summary>
    Reduce,

    /// <summary><c>Var</c>/<c>Std</c> over dims with Bessel's correction (the variance kernel).</summary>
    Variance,

    /// <summary><c>Max(dim)</c>/<c>Min(dim)</c>: values and indices (two outputs).</summary>
    ReduceIndexed,

    /// <summary><c>Max()</c>/<c>Min()</c> of all elements: a 0-d result whose gradient is split evenly among ties.</summary>
    ExtremeAll,

    /// <summary>
    /// <c>ArgMax</c>/<c>ArgMin</c> (and the <c>Indices</c> of <c>Max(dim)</c>/<c>Min(dim)</c>): the int64 position of the
    /// extreme along a dim, or in the flattened tensor; not differentiable.
    /// </summary>
    ArgExtreme,

    /// <summary>A view of the input's elements in the same order (View, Reshape, Flatten, Unsqueeze, Squeeze): no copy.</summary>
    View,

    /// <summary>A permutation of the input's dims (Transpose, Permute), materialised.</summary>
    Permute,

    /// <summary>
    /// A window of the input along one dim, copied (Narrow, Slice, Select, and the parts of Chunk, Split and Unbind):
    /// the axis-copy kernel reads it; the backward adds the gradient back into the window.
    /// </summary>
    Slice,

    /// <summary>Cat / Stack: the inputs placed one after another along a dim (Stack: a new dim); the axis-copy kernel.</summary>
    Concat,

    /// <summary>Batched matrix product.</summary>
    MatMul,

    Linear,
    Conv,

    /// <summary>ConvTranspose1d/2d: the adjoint of a convolution (the convolution kernel's input-gradient path).</summary>
    ConvTranspose,
    MaxPool,
    AvgPool,
    AdaptivePool,

    /// <summary>AdaptiveMaxPool2d: the maximum of each adaptive window, its position kept for the backward.</summary>
    AdaptiveMaxPool,

    /// <summary>Upsample (interpolate's layer): nearest, nearest-exact or (bi)linear resampling of the spatial dims.</summary>
    Resample,

    /// <summary>Dropout2d: whole channels zeroed (one draw per sample and channel), the rest scaled by 1/(1 − p).</summary>
    ChannelDropout,

    /// <summary>ZeroPad2d: the last two dims padded with zeros (a gather from the input, its adjoint a scatter).</summary>
    Pad,
    BatchNorm,
    LayerNorm,

    /// <summary>GroupNorm and InstanceNorm1d/2d (groups = channels): per-sample statistics of channel groups, a per-channel affine.</summary>
    GroupNorm,

    /// <summary>RMSNorm: each row of the normalized shape scaled by its reciprocal root mean square, then by the weight.</summary>
    RmsNorm,
    Embedding,
    Dropout,

    /// <summary>Softmax / log-softmax along one dim.</summary>
    Softmax,

    /// <summary>Gated linear unit: the input halved along a dim, a · σ(b).</summary>
    Glu,

    /// <summary>PReLU: a pointwise op with a learnable per-channel weight.</summary>
    Prelu,

    /// <summary>A loss of logits/log-probabilities against class indices (CrossEntropy, Nll).</summary>
    ClassIndexLoss,

    /// <summary>A loss of an input against a target of its shape (Mse, L1, BCE with logits, …).</summary>
    ElementwiseLoss,

    /// <summary><c>MaskedFill</c>: the input where a boolean mask is false, a scalar where it is true (the mask repeated over leading dims).</summary>
    Mask,

    /// <summary><c>Where(condition, x, y)</c>: x where a boolean condition is true, y elsewhere (the condition read as data).</summary>
    Where,

    /// <summary>A recurrent stack (RNN, LSTM, GRU) over a sequence: one kernel per layer and direction, the time loop inside.</summary>
    Recurrent,

    /// <summary>A Transformer layer (self-attention, feed-forward, residuals and LayerNorms) as one fused kernel.</summary>
    TransformerLayer,

    /// <summary>MultiheadAttention: the packed in-projection, softmax(q·kᵀ/√d + masks)·v per head and the out-projection.</summary>
    Attention,

    /// <summary>
    /// A tensor built from shapes, constants and data (Arange, Ones/Zeros/Full, Triu/Tril, comparisons, a dtype
    /// conversion): never differentiated; a compiled program calls the eager method when every tensor it reads is data.
    /// </summary>
    Data,

    /// <summary>Returns its input (Identity).</summary>
    Identity,

    /// <summary>Built from other ops in eager code: no kernel of its own, not compiled.</summary>
    Composite,

    /// <summary>An op with its own eager kernel that the compiler has no rule for yet.</summary>
    Eager,
}

/// <summary>Where the op is called from: tensor method, <c>Functional</c>, <c>Losses</c> (flags: a row may be both a tensor method and a Functional).</summary>
[Flags]
internal enum OpSurface
{
    None = 0,
    Tensor = 1,
    Functional = 2,
    Losses = 4,
}

/// <summary>What the op's backward reads besides the output gradient (what eager saves and the compiler keeps alive).</summary>
[Flags]
internal enum BackwardReads
{
    None = 0,

    /// <summary>Its first tensor input.</summary>
    Input = 1,

    /// <summary>Its output.</summary>
    Output = 2,

    /// <summary>Its other tensor inputs (a product reads both factors).</summary>
    OtherInputs = 4,

    /// <summary>Values the forward computed for it (<see cref="OpRow.Saves"/>: softmax probabilities, indices, statistics).</summary>
    Saved = 8,
}

/// <summary>The C# type of a scalar parameter.</summary>
internal enum ParamKind
{
    Double,
    Int,
    Bool,

    /// <summary>A string out of <see cref="ScalarParam.Choices"/>; its index is the number the kernel sees.</summary>
    Choice,

    /// <summary>An int or an (H, W) pair.</summary>
    IntPair,

    /// <summary>A list of ints (<c>params int[]</c>, a normalized shape).</summary>
    Ints,

    /// <summary>The <c>Reduction</c> enum (None = 0, Mean = 1, Sum = 2).</summary>
    Reduction,
}

/// <summary>Where a scalar parameter appears.</summary>
[Flags]
internal enum ParamUse
{
    /// <summary>In the Functional/Tensor/Losses signature.</summary>
    Function = 1,

    /// <summary>In the layer's constructor (and its serialization).</summary>
    Layer = 2,

    Both = Function | Layer,
}

/// <summary>A non-tensor parameter of an op: its C# and PyTorch names, type and default (written once, here).</summary>
/// <param name="Name">The C# parameter name (<c>negativeSlope</c>).</param>
/// <param name="PyTorchName">PyTorch's name (<c>negative_slope</c>): the serialized architecture's key.</param>
/// <param name="Kind">Its C# type.</param>
/// <param name="Default">The default (double, int, bool, string, int[] or null); meaningful when <paramref name="HasDefault"/>.</param>
/// <param name="HasDefault">False for a required parameter.</param>
/// <param name="Use">Where it appears (Functional signature, layer constructor, or both).</param>
internal sealed record ScalarParam(string Name, string PyTorchName, ParamKind Kind, object? Default, bool HasDefault, ParamUse Use)
{
    /// <summary>The layer property holding it (<c>NegativeSlope</c>); null when the layer does not expose it.</summary>
    public string? Property { get; init; }

    /// <summary>For <see cref="ParamKind.Choice"/>: the accepted strings, in the order the kernel numbers them.</summary>
    public IReadOnlyList<string>? Choices { get; init; }

    /// <summary>For pointwise kernels: which scalar slot (0 = a, 1 = b) of the kernel receives it; -1 when none.</summary>
    public int KernelSlot { get; init; } = -1;

    /// <summary>The default as a number (bools 0/1, choices their index), or null.</summary>
    public double? DefaultNumber => HasDefault ? ToNumber(Default) : null;

    /// <summary>The default as an int list (an int is a one-element list), or null.</summary>
    public IReadOnlyList<int>? DefaultInts => HasDefault ? Default switch
    {
        int i => new[] { i },
        int[] a => a,
        _ => null,
    } : null;

    /// <summary>A value of this parameter as the number kernels and shape rules see.</summary>
    public double? ToNumber(object? value) => value switch
    {
        double d => d,
        float f => f,
        int i => i,
        long l => l,
        bool b => b ? 1 : 0,
        string s when Choices is not null => IndexOf(Choices, s) is var k && k >= 0 ? k : null,
        _ => null,
    };

    private static int IndexOf(IReadOnlyList<string> list, string s)
    {
        for (int i = 0; i < list.Count; i++) if (list[i] == s) return i;
        return -1;
    }
}

/// <summary>A tensor parameter of an op.</summary>
internal sealed class TensorParam
{
    public TensorParam(string name, bool optional = false, bool differentiable = true)
    {
        Name = name;
        Optional = optional;
        Differentiable = differentiable;
    }

    public string Name { get; init; }

    /// <summary>May be null (a bias, class weights).</summary>
    public bool Optional { get; }

    /// <summary>Gradients flow to it (false for class-index targets, indices, masks).</summary>
    public bool Differentiable { get; }
}

/// <summary>
/// One row of the op catalogue: everything the runtime, the generator and the analyzers must agree on about an op and
/// its layer. The arithmetic is not here: it is the op's kernel (<see cref="Kernel"/>), one per op, called by eager code
/// and by generated code alike.
/// </summary>
internal sealed record OpRow
{
    public OpRow(string name, string pyTorchName, OpFamily family, OpSurface surface)
    {
        Name = name;
        PyTorchName = pyTorchName;
        Family = family;
        Surface = surface;
    }

    /// <summary>The C# name on its surface (<c>LeakyRelu</c>: <c>Functional.LeakyRelu</c>), unique in the catalogue.</summary>
    public string Name { get; init; }

    /// <summary>PyTorch's name (<c>torch.nn.functional.leaky_relu</c> → <c>leaky_relu</c>); also names generated buffers.</summary>
    public string PyTorchName { get; init; }

    public OpFamily Family { get; init; }

    public OpSurface Surface { get; init; }

    /// <summary>The method name on its surface when it differs from <see cref="Name"/> (overloads: <c>Max</c> for MaxDim).</summary>
    public string? Method { get; init; }

    /// <summary>For one overload of a method: the parameter the call must have for this row to apply (<c>dim</c> for MaxDim).</summary>
    public string? Overload { get; init; }

    /// <summary>The layer class in <c>SharpGrad.Layers</c> (PyTorch's <c>torch.nn</c> class name), or null when PyTorch has none.</summary>
    public string? Layer { get; init; }

    /// <summary>The tensor parameters, in order (the first is the input).</summary>
    public IReadOnlyList<TensorParam> Inputs { get; init; } = Array.Empty<TensorParam>();

    /// <summary>The outputs: one for most ops; <c>values</c> and <c>indices</c> for Max(dim); several for Chunk/Split.</summary>
    public IReadOnlyList<string> Outputs { get; init; } = new[] { "out" };

    /// <summary>The scalar parameters with their defaults.</summary>
    public IReadOnlyList<ScalarParam> Params { get; init; } = Array.Empty<ScalarParam>();

    /// <summary>The shape rule (output shape and provable mismatches); null when no rule is written yet (shape unknown).</summary>
    public Func<ShapeCall, ShapeResult>? Shape { get; init; }

    /// <summary>For a layer: the shape of its input implied by its arguments (<c>Linear(784, …)</c> ⇒ [N, 784]), for inputs without [Shape].</summary>
    public Func<ShapeCall, TensorShape?>? InputHint { get; init; }

    /// <summary>What its backward reads.</summary>
    public BackwardReads Reads { get; init; }

    /// <summary>What its forward saves for the backward besides inputs and output (names of the saved values).</summary>
    public IReadOnlyList<string> Saves { get; init; } = Array.Empty<string>();

    /// <summary>The kernel type in <c>SharpGrad.Kernels</c> (a pointwise op's <c>IPointwiseOp</c> type), when generated code names it.</summary>
    public string? Kernel { get; init; }

    /// <summary>True when the code generator has a rule for it (a compiled program may contain it).</summary>
    public bool Compiled { get; init; }

    /// <summary>
    /// The kernel's scalar arguments (a, b) that no parameter gives, fixed by the row: a row that is another kernel with a
    /// constant (<c>Square</c>: <c>PowScalarOp</c> with exponent 2; <c>ClampMin</c>: <c>ClampOp</c> with no upper bound,
    /// NaN). A parameter's <see cref="ScalarParam.KernelSlot"/> overrides its entry. Null: the row's own kernel.
    /// </summary>
    public IReadOnlyList<double>? KernelArguments { get; init; }

    /// <summary>True when the analyzers may treat its result as an op result that preserves autograd (every row but plumbing).</summary>
    public bool Differentiable { get; init; } = true;

    /// <summary>
    /// What tells rows of one family apart for their family's kernel: log-softmax (Softmax), the mean (Reduce), the
    /// maximum (ReduceIndexed), log-softmax before the loss (ClassIndexLoss).
    /// </summary>
    public bool Variant { get; init; }

    /// <summary>
    /// True when the compiled rule tells the optional tensor arguments given apart by the names of those left out (the
    /// parser's list of omitted tensors), so a literal <c>null</c> may stand before a tensor given after it:
    /// <c>Functional.BatchNorm(x, null, null, weight, bias, training: true)</c>.
    /// </summary>
    public bool TensorsByName { get; init; }

    /// <summary>
    /// True for a pointwise op the GEMM and convolution kernels can apply in their epilogue (<c>GemmActivation</c>): the
    /// code generator fuses it into the Linear/Conv before it.
    /// </summary>
    public bool FusesIntoGemm { get; init; }

    /// <summary>The C# operator of an elementwise op a compiled loop writes inline (<c>+</c>, <c>-</c>, <c>*</c>, <c>/</c>; <c>-</c> for Neg).</summary>
    public string? Operator { get; init; }

    /// <summary>The ONNX operator it maps to (reserved for the exporter; null when none is written yet).</summary>
    public string? Onnx { get; init; }

    /// <summary>The method name on the op's surface.</summary>
    public string MethodName => Method ?? Name;

    /// <summary>The number of tensor arguments of the C# call, the receiver included (Pow(x, 2) vs Pow(x, y)); -1 for a params list.</summary>
    public int TensorArity { get; init; } = 1;

    /// <summary>The parameter named <paramref name="name"/> of the Functional call (or of the layer, when <paramref name="layer"/>).</summary>
    public ScalarParam? Param(string name, bool layer = false)
    {
        var use = layer ? ParamUse.Layer : ParamUse.Function;
        foreach (var p in Params) if (p.Name == name && (p.Use & use) != 0) return p;
        foreach (var p in Params) if (p.Name == name) return p;
        return null;
    }

    /// <summary>The parameter whose PyTorch name is <paramref name="pyTorchName"/>.</summary>
    public ScalarParam? ParamByPyTorchName(string pyTorchName)
    {
        foreach (var p in Params) if (p.PyTorchName == pyTorchName) return p;
        return null;
    }

    public override string ToString() => Name;
}
