namespace SharpGrad.Generator.Planning;

/// <summary>
/// The rule that emits a node (one per op family, <see cref="Rules.Rule"/>). Chosen by the planner from the node's kind
/// and its catalogue row's family.
/// </summary>
internal enum RuleKind
{
    /// <summary>Not needed by the method's output in any mode, or a constant folded into its reader.</summary>
    None,
    Input,
    /// <summary>A tensor input read as data (class-index targets, embedding indices), not differentiated.</summary>
    Raw,
    Constant,
    /// <summary>A view (View, Reshape, Flatten, …) or an identity layer: the input's buffer, no copy.</summary>
    View,
    /// <summary>The identity after an inlined child: where its hooks run.</summary>
    Boundary,
    Pointwise,
    /// <summary>Same-shape + − · / and negation, written inline in one loop (chains fused).</summary>
    Elementwise,
    /// <summary>A binary op with broadcasting (and Maximum, Minimum, PReLU).</summary>
    Broadcast,
    Linear,
    /// <summary><c>Functional.Linear(x, weight, bias)</c> with the module's own parameters: one GEMM with the weight's value.</summary>
    FunctionalLinear,
    /// <summary><c>Functional.LayerNorm(x, shape, weight, bias)</c> with the module's own parameters (or none).</summary>
    FunctionalLayerNorm,
    Conv,
    MaxPool,
    AvgPool,
    AdaptivePool,
    BatchNorm,
    LayerNorm,
    Embedding,
    Dropout,
    Softmax,
    Glu,
    Reduce,
    /// <summary>Var / Std over adjacent non-batch dims, with Bessel's correction.</summary>
    Variance,
    Extreme,
    /// <summary>Max() / Min() of all elements (the batch's too): a 0-d result, the gradient split evenly among ties.</summary>
    ExtremeAll,
    Permute,
    MatMul,
    /// <summary><c>MaskedFill</c> with a mask read as data.</summary>
    MaskedFill,
    /// <summary>A MatMul with one operand shared by every matrix of the other (broadcast batch dims).</summary>
    BroadcastMatMul,
    /// <summary><c>Where(condition, x, y)</c> with a condition read as data.</summary>
    Where,
    /// <summary><c>Where(condition, x, 0.0)</c> / <c>Where(condition, 0.0, y)</c>: a MaskedFill of the tensor branch.</summary>
    WhereScalar,
    /// <summary>A Parameter/Buffer of the module itself read in Forward (a Buffer used only as a mask is read as data).</summary>
    Member,
    /// <summary>A window along one dim (Narrow, Slice, Select, a part of Chunk/Split/Unbind), copied.</summary>
    Slice,
    /// <summary>Cat / Stack along a dim.</summary>
    Join,
    /// <summary><c>if (Training)</c>: the value of the branch taken.</summary>
    Select,
    ClassIndexLoss,
    ElementwiseLoss,
    /// <summary>An RNN/LSTM/GRU stack: the fused recurrent kernel.</summary>
    Recurrent,
    /// <summary>A TransformerEncoderLayer as one fused kernel.</summary>
    TransformerLayer,
    /// <summary>ConvTranspose1d/2d: the convolution's adjoint.</summary>
    ConvTranspose,
    /// <summary>GroupNorm, InstanceNorm1d/2d (groups = channels).</summary>
    GroupNorm,
    /// <summary>RMSNorm over the trailing normalized shape.</summary>
    RmsNorm,
    /// <summary>AdaptiveMaxPool2d (the maxima's positions kept, as MaxPool).</summary>
    AdaptiveMaxPool,
    /// <summary>Upsample: nearest or (bi)linear resampling.</summary>
    Resample,
    /// <summary>ZeroPad2d.</summary>
    Pad,
    /// <summary>Dropout2d.</summary>
    ChannelDropout,
    /// <summary>A data op over data (<see cref="Rules.DataRule"/>): planned as <see cref="Raw"/>, the eager call in generated code.</summary>
    Data,
    /// <summary>A data op read only by arithmetic (<c>h * tokens.Ne(pad).To(DType.Float32)</c>): its float32 copy, no gradient.</summary>
    DataValue,
    /// <summary>A MultiheadAttention layer's self-attention (packed projection, attention kernel, out-projection) as one fused kernel.</summary>
    SelfAttention,
    /// <summary>A final state (h_n, c_n) of a recurrent node, read from its workspace (<see cref="Rules.RecurrentStateRule"/>).</summary>
    RecurrentState,
    /// <summary>A MultiheadAttention call other than the packed, biased, dropout-free self-attention (key ≠ query or ≠ value, kdim/vdim, bias=False, dropout) as one fused kernel.</summary>
    CrossAttention,
    /// <summary><c>Functional.Conv1d/Conv2d(x, weight, bias, …)</c> with the module's own parameters of fixed shape.</summary>
    FunctionalConv,
    /// <summary><c>Functional.GroupNorm(x, groups, weight, bias)</c> with the module's own parameters (or none).</summary>
    FunctionalGroupNorm,
    /// <summary>ArgMax/ArgMin, the indices of Max(dim)/Min(dim): int64 positions, a result of the program (<see cref="Rules.ArgExtremeRule"/>).</summary>
    ArgExtreme,
    /// <summary>A MultiheadAttention call's returned weights, read from its <see cref="CrossAttention"/> node's workspace (<see cref="Rules.AttentionWeightsRule"/>).</summary>
    AttentionWeights,
}

/// <summary>A child module the compiled program reads (a field of <c>Compiled</c> resolved once in its constructor).</summary>
internal sealed record ModuleRef(string Field, string Type, string Path, string Member);

/// <summary>
/// A parameter the program differentiates: its index among the tape inputs after the float inputs, its gradient buffer.
/// A group (<see cref="IsGroup"/>) is a child's parameters whose number is known only when the module is built (a recurrent
/// stack of constructor-sized <c>num_layers</c>): <see cref="Expr"/> is its list of lists (<c>_lstm.AllWeights</c>), kept in a
/// <c>CompiledParameterGroup</c> field (<see cref="Emit.EmitContext.Group"/>) that holds each parameter's gradient binding;
/// its parameters are that many tape inputs in a row.
/// </summary>
internal sealed record ParamSlot(int Index, string Path, string Expr, string Name)
{
    public bool IsGroup { get; init; }
}

/// <summary>The geometry a rule computed for a node (one record type per family): what generated code passes its kernel.</summary>
internal abstract record Geometry
{
    /// <summary>
    /// True when the rule's constant (<see cref="Rules.Rule.Constant"/>) reads the built layer (an option the build does not know,
    /// a TransformerEncoderLayer's <c>layer_norm_eps</c> from a constructor parameter): computed per instance, not static.
    /// </summary>
    public bool ReadsLayer { get; init; }
}

/// <summary>[rows = n·RowsPerItem, In] · weightᵀ → [rows, Out].</summary>
internal sealed record LinearGeometry(int InFeatures, int OutFeatures, int RowsPerItem) : Geometry
{
    /// <summary>For sizes bound when the module is built: the C# expression of in_features (<c>_sym_hidden</c>), else null.</summary>
    public string? InText { get; init; }

    /// <summary>For sizes bound when the module is built: the C# expression of out_features, else null.</summary>
    public string? OutText { get; init; }

    /// <summary>When the dims between the batch and the features are symbolic (<c>[N, T, 8]</c>): the C# expression of the rows per item (<c>_sym_T</c>), else null.</summary>
    public string? RowsText { get; init; }
}

/// <summary>
/// A convolution of [C, H, W] images (1-d: H = KH = 1). The channel counts and groups are C# text: constants, or the
/// expressions of sizes bound when the module is built (<c>_sym_planes</c>).
/// </summary>
internal sealed record ConvGeometry(string C, int H, int W, string O, int KH, int KW, int SH, int SW, int PH, int PW, int DH, int DW, string Groups, int HO, int WO)
    : Geometry;

/// <summary>A pooling window over [C, H, W] images (adaptive: no window); the channel count is C# text (a constant or a bound size).</summary>
internal sealed record PoolGeometry(string C, int H, int W, int HO, int WO, int KH, int KW, int SH, int SW, int PH, int PW, int DH, int DW,
    bool CeilMode, bool CountIncludePad) : Geometry;

/// <summary>A tensor seen as [Outer, Size, Inner] around one dim; <see cref="Batched"/>: Outer counts per batch item.</summary>
internal sealed record AxisGeometry(int Outer, int Size, int Inner, bool Batched) : Geometry
{
    /// <summary>For dims not fixed at build time (a sequence length <c>T</c>, a size bound in <c>Compile()</c>): the C# of <see cref="Outer"/>, else null.</summary>
    public string? OuterText { get; init; }

    /// <summary>The C# of <see cref="Size"/> when it is not fixed at build time, else null.</summary>
    public string? SizeText { get; init; }

    /// <summary>The C# of <see cref="Inner"/> when it is not fixed at build time, else null.</summary>
    public string? InnerText { get; init; }
}

/// <summary>A sum or mean: over the batch dim too (<see cref="OverBatch"/>), then [Outer, Size, Inner] per item.</summary>
internal sealed record ReduceGeometry(bool OverBatch, int Outer, int Size, int Inner) : Geometry
{
    /// <summary>For dims not fixed at build time: the C# of <see cref="Outer"/>, else null.</summary>
    public string? OuterText { get; init; }

    /// <summary>The C# of <see cref="Size"/> when it is not fixed at build time, else null.</summary>
    public string? SizeText { get; init; }

    /// <summary>The C# of <see cref="Inner"/> when it is not fixed at build time, else null.</summary>
    public string? InnerText { get; init; }

    /// <summary>
    /// Over dims before the batch's (the steps of a batch-second [T, N, E], <c>Mean(0)</c>): the batch is in the inner count (n·inner),
    /// not the outer; the counts leave the batch's dim out either way.
    /// </summary>
    public bool BatchInner { get; init; }
}

/// <summary>Per item [M, K] · [K, N].</summary>
internal sealed record MatMulGeometry(int M, int K, int N, int Groups) : Geometry
{
    /// <summary>For dims not fixed at build time (a sequence length <c>T</c>): the C# of M, K, N and Groups (null where fixed).</summary>
    public string? MText { get; init; }

    /// <summary>The C# of K when it is not fixed at build time, else null.</summary>
    public string? KText { get; init; }

    /// <summary>The C# of N when it is not fixed at build time, else null.</summary>
    public string? NText { get; init; }

    /// <summary>The C# of Groups when it is not fixed at build time, else null.</summary>
    public string? GroupsText { get; init; }

    /// <summary>The kernel shape's arguments (<c>M: 5</c>, or <c>M: _sym_T</c>).</summary>
    public string[] ShapeArguments => [$"M: {MText ?? M.ToString(System.Globalization.CultureInfo.InvariantCulture)}",
        $"K: {KText ?? K.ToString(System.Globalization.CultureInfo.InvariantCulture)}", $"N: {NText ?? N.ToString(System.Globalization.CultureInfo.InvariantCulture)}"];

    /// <summary>The number of matrices: the batch times the dims between it and the last two (<c>n * 4</c>).</summary>
    public string Matrices => Emit.EmitContext.Count(true, Groups, GroupsText);

    /// <summary>The geometry of [.., m, k] · [.., k, q] (<paramref name="a"/>, <paramref name="b"/>) with the batch dims from <paramref name="from"/> to the last two.</summary>
    public static MatMulGeometry Of(MethodDraft m, TensorShape a, TensorShape b, TensorShape batched, int from)
        => new(MethodDraft.Product(a, a.Rank - 2, a.Rank - 1), MethodDraft.Product(a, a.Rank - 1, a.Rank), MethodDraft.Product(b, b.Rank - 1, b.Rank),
            MethodDraft.Product(batched, from, batched.Rank - 2))
        {
            MText = m.ProductText(a, a.Rank - 2, a.Rank - 1), KText = m.ProductText(a, a.Rank - 1, a.Rank), NText = m.ProductText(b, b.Rank - 1, b.Rank),
            GroupsText = m.ProductText(batched, from, batched.Rank - 2),
        };
}

/// <summary>A MaskedFill: the mask's shape (its sizes as C#: constants, <c>-1</c> for a batch, <c>_sym_T</c> for a length read at each call) and the fill value.</summary>
internal sealed record MaskGeometry(EquatableArray<string> MaskShape, double Value) : Geometry
{
    /// <summary>
    /// For a mask that broadcasts other than by repetition (a batched key-padding mask [N, 1, 1, T] over [N, H, T, T], a
    /// [T, 1] column): the value's dims after the batch, which the mask is expanded to at each call. Empty when the mask
    /// is the value's trailing dims, repeated over the leading ones.
    /// </summary>
    public EquatableArray<string> Over { get; init; }

    /// <summary>True when the value is batched (the expanded mask has n rows of <see cref="Over"/>).</summary>
    public bool OverBatched { get; init; }
}

/// <summary>The permutation of a Transpose/Permute (the batch dim stays first).</summary>
internal sealed record PermuteGeometry(EquatableArray<int> Permutation) : Geometry;

/// <summary>A normalisation: [n, Channels, Length] for batch norm, rows of <see cref="Channels"/> for layer norm.</summary>
internal sealed record NormGeometry(int Channels, int Length) : Geometry
{
    /// <summary>For a size bound when the module is built (<c>LayerNorm(d)</c>, <c>BatchNorm2d(planes)</c>): the C# expression of <see cref="Channels"/>, else null.</summary>
    public string? ChannelsText { get; init; }

    /// <summary><see cref="Channels"/> as C# text: its bound expression, or the constant.</summary>
    public string ChannelsCode => ChannelsText ?? Planning.MethodDraft.I(Channels);
}

/// <summary>An embedding of <see cref="Dim"/> per index.</summary>
internal sealed record EmbeddingGeometry(int Dim) : Geometry
{
    /// <summary>For a size bound when the module is built (<c>Embedding(vocab, d)</c>): the C# expression of <see cref="Dim"/>, else null.</summary>
    public string? DimText { get; init; }

    /// <summary>
    /// The field of the recurrent layer that reads this lookup alone and adds the table's gradient in its own backward
    /// (<see cref="Rules.RecurrentRule.MarkEmbeddedInput"/>), or null; the lookup's backward then runs only when that layer's
    /// backward hooks or the lookup's own need that gradient (<c>CompiledSupport.EmbeddingAfterRecurrent</c>, read at run time).
    /// </summary>
    public string? IntoRecurrent { get; init; }
}

/// <summary>A loss: class count (class-index losses), reduction and ignored index as C# expressions.</summary>
internal sealed record LossGeometry(int Classes, string Reduction, string IgnoreIndex) : Geometry
{
    /// <summary>A class-index loss's rows as a C# expression: <c>n</c> for a batched input, its fixed row count for a value without the batch.</summary>
    public string Rows { get; init; } = "n";
}

/// <summary>
/// The plan of one node: its rule and geometry, the names of its value and gradient in generated code, and what the
/// fusion passes decided. Plain data with value equality (the planned program is a cached incremental step).
/// </summary>
internal sealed record NodePlan(int Index, RuleKind Rule)
{
    /// <summary>The name of the node's value in generated code (<c>fc1_out</c>); its gradient is <c>fc1_out_grad</c>.</summary>
    public string Name { get; init; } = "";

    /// <summary>The source expression, for comments.</summary>
    public string Text { get; init; } = "";

    /// <summary>For a method input: the index of its parameter (-1 otherwise).</summary>
    public int Parameter { get; init; } = -1;

    public EquatableArray<int> Inputs { get; init; }

    /// <summary>For a boundary: the inlined call's arguments (what the child's hooks see as its inputs).</summary>
    public EquatableArray<int> CallArguments { get; init; }

    public TensorShape? Shape { get; init; }

    /// <summary>True when a dim is the batch (dim <see cref="BatchAxis"/>; sizes are then per batch item, times n).</summary>
    public bool Batched { get; init; }

    /// <summary>The batch's dim when <see cref="Batched"/>: 0, or 1 for a recurrent layer's states ([L·D, N, H], PyTorch's h_0, h_n).</summary>
    public int BatchAxis { get; init; }

    /// <summary>Elements per batch item (batched) or in all.</summary>
    public int Features { get; init; }

    /// <summary>The C# factor of the size bound when the module is built (<c>_sym_hidden</c>) multiplying <see cref="Features"/>, or "".</summary>
    public string Symbolic { get; init; } = "";

    /// <summary>When it runs: 1 in training, 2 in evaluation, 3 in both.</summary>
    public int Mode { get; init; } = 3;

    /// <summary>The kernel type generated code names (a pointwise op's <c>IPointwiseOp</c>, a loss's op), from the catalogue row.</summary>
    public string? Kernel { get; init; }

    /// <summary>The row's C# operator for inline loops.</summary>
    public string? Operator { get; init; }

    /// <summary>The row's variant flag (log-softmax, mean, maximum).</summary>
    public bool Variant { get; init; }

    /// <summary>What the row says the backward reads (rules refine it in <see cref="Rules.Rule.Reads"/>).</summary>
    public BackwardReads Reads { get; init; }

    /// <summary>The child whose layer this node runs (hooks, parameters, options).</summary>
    public ModuleRef? Module { get; init; }

    public ParamSlot? Weight { get; init; }

    public ParamSlot? Bias { get; init; }

    public Geometry? Geometry { get; init; }

    /// <summary>The kernel's scalar arguments as C# literals (a pointwise op's a and b).</summary>
    public EquatableArray<string> Args { get; init; }

    /// <summary>The run-time expression of a training flag (Dropout's, a Select's).</summary>
    public string Training { get; init; } = "";

    /// <summary>The node whose buffer holds this node's value (a view holds its input's).</summary>
    public int ValueRoot { get; init; }

    /// <summary>The node whose gradient buffer holds this node's gradient.</summary>
    public int GradRoot { get; init; }

    /// <summary>Elementwise chains: the node whose loop computes this one inline (-1: none).</summary>
    public int FusedInto { get; init; } = -1;

    /// <summary>On a Linear/Conv: the ReLU its epilogue computes (-1: none).</summary>
    public int Epilogue { get; init; } = -1;

    /// <summary>On a ReLU: the Linear/Conv whose epilogue computes it (-1: none).</summary>
    public int EpilogueOf { get; init; } = -1;

    /// <summary>
    /// On a Linear whose epilogue computes a ReLU read only by the next Linear: that Linear, which one sample's pass
    /// computes with this one (<c>CompiledSupport.LinearReluLinearForward</c>; -1: none).
    /// </summary>
    public int PairNext { get; init; } = -1;

    /// <summary>On the second Linear of such a pair: the first (-1: none).</summary>
    public int PairOf { get; init; } = -1;

    /// <summary>On a Linear: the residual Add its epilogue computes (-1: none).</summary>
    public int ResidualAdd { get; init; } = -1;

    /// <summary>On that Add: the operand the epilogue adds (-1: none).</summary>
    public int ResidualOperand { get; init; } = -1;

    /// <summary>True when some backward rule reads this node's value (the forward keeps it).</summary>
    public bool Saved { get; init; }

    /// <summary>The field holding the value's buffer (null: no buffer of its own lineage, e.g. a constant).</summary>
    public string? ValueField { get; init; }

    /// <summary>The field holding the gradient's buffer.</summary>
    public string? GradField { get; init; }

    /// <summary>When its gradient's buffer is shared: the node whose backward writes it first (it is cleared there); -1 otherwise.</summary>
    public int GradFirstWrite { get; init; } = -1;

    /// <summary>
    /// On a gradient root: the node whose backward writes the gradient first and overwrites it in full
    /// (<see cref="Rule.OverwritesInputGrad"/>), so the buffer is not cleared before; -1 otherwise (cleared, then added to).
    /// </summary>
    public int GradOverwriter { get; init; } = -1;
}

/// <summary>A buffer of a compiled method: its field, what it holds (value or gradient), its size and the nodes sharing it.</summary>
internal sealed record BufferPlan(string Field, bool IsGradient, bool Batched, int Features, EquatableArray<int> Holders)
{
    /// <summary>The factor of its size bound when the module is built (<see cref="NodePlan.Symbolic"/>), or "".</summary>
    public string Symbolic { get; init; } = "";
}

/// <summary>The plan of one compiled method (<c>Forward</c>, a <c>[Compiled]</c> method).</summary>
internal sealed record MethodPlan(string Name, string Prefix, EquatableArray<GraphInput> Inputs, EquatableArray<NodePlan> Nodes, int Output)
{
    /// <summary>The batch symbol (dim 0 of the first batched input).</summary>
    public string Batch { get; init; } = "";

    /// <summary>True for a method whose output is a scalar (a loss): it also gets the fused <c>…Backward</c> entry.</summary>
    public bool ScalarOutput { get; init; }

    public EquatableArray<int> FloatInputs { get; init; }

    public EquatableArray<int> RawInputs { get; init; }

    public EquatableArray<BufferPlan> Buffers { get; init; }

    /// <summary>True when a node runs in one mode only, or reads the training flag.</summary>
    public bool UsesTraining { get; init; }

    public LocationInfo? Location { get; init; }

    /// <summary>True for a static region of a broken method: an internal entry the region runner calls, no fused backward.</summary>
    public bool IsRegion { get; init; }
}

/// <summary>
/// A module's compiled program: the children and parameters it binds, its compiled methods (whole methods and the
/// static regions of broken ones), the methods run eagerly, the methods run region by region, and the explanation.
/// </summary>
internal sealed record ProgramPlan(EquatableArray<ModuleRef> Modules, EquatableArray<ParamSlot> Params, EquatableArray<MethodPlan> Methods)
{
    /// <summary>Parsed methods that run eagerly as a whole (a stand-in calls the module's own method).</summary>
    public EquatableArray<GraphMethod> Eager { get; init; }

    /// <summary>Methods with graph breaks whose static regions are compiled (<see cref="GraphMethod.Segments"/>).</summary>
    public EquatableArray<GraphMethod> Runners { get; init; }

    /// <summary>The compiled regions, as the explanation lists them.</summary>
    public EquatableArray<string> Regions { get; init; }

    /// <summary>The size symbols the program binds when <c>Compile()</c> is called, then the sizes it checks there.</summary>
    public EquatableArray<SizeBinding> Sizes { get; init; }

    /// <summary>The size atoms the program reads from its inputs at each call (a sequence length <c>T</c>), in ordinal order.</summary>
    public EquatableArray<string> PerCallSizes { get; init; }

    /// <summary>Every graph break, parse and planning alike.</summary>
    public EquatableArray<GraphIssue> Breaks { get; init; }

    /// <summary>True when every parsed method is compiled whole.</summary>
    public bool IsWhole => Eager.IsEmpty && Runners.IsEmpty && Breaks.IsEmpty;
}

/// <summary>
/// The planning step's result for one module (the incremental step after shape inference): the spec to emit, the
/// program when every node has a rule, and SG1017 as data when one does not.
/// </summary>
internal sealed record PlannedModule(ModuleSpec Spec, ProgramPlan? Program, EquatableArray<DiagnosticInfo> Breaks);
