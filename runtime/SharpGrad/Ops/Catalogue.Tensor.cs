// Shared source (runtime, generator, analyzers): see Dim.cs.
using System.Collections.Generic;

namespace SharpGrad.Ops;

internal static partial class OpCatalogue
{
    private static OpRow Binary(string name, string pyTorchName, BackwardReads reads, bool compiled = true)
        => new(name, pyTorchName, OpFamily.Binary, OpSurface.Tensor)
        {
            Inputs = In("input", "other"),
            TensorArity = 2,
            Shape = ShapeRules.Binary,
            Reads = reads,
            Kernel = name + "Op",
            Compiled = compiled,
        };

    private static OpRow Reduction(string name, string pyTorchName, OpFamily family = OpFamily.Reduce, bool compiled = false)
        => new(name, pyTorchName, family, OpSurface.Tensor)
        {
            Inputs = In("input"),
            Params =
            [
                Opt("dim", "dim", ParamKind.Int, null), Opt("dims", "dim", ParamKind.Ints, null),
                Opt("keepDim", "keepdim", ParamKind.Bool, false),
            ],
            Shape = ShapeRules.ReduceCall,
            Compiled = compiled,
        };

    /// <summary>Var / Std over dims with Bessel's correction (family <see cref="OpFamily.Variance"/>; Variant: the standard deviation).</summary>
    private static OpRow Variance(string name, string pyTorchName, bool std)
        => Reduction(name, pyTorchName, OpFamily.Variance, compiled: true) with
        {
            Params =
            [
                Opt("dim", "dim", ParamKind.Int, null), Opt("dims", "dim", ParamKind.Ints, null), Opt("correction", "correction", ParamKind.Double, 1.0),
                Opt("unbiased", "unbiased", ParamKind.Bool, true), Opt("keepDim", "keepdim", ParamKind.Bool, false),
            ],
            Reads = BackwardReads.Input | BackwardReads.Output, Kernel = "VarianceKernel", Variant = std,
        };

    /// <summary>ArgMax / ArgMin along <c>dim</c>, or of the flattened tensor without one (family <see cref="OpFamily.ArgExtreme"/>; Variant: the maximum).</summary>
    private static OpRow ArgExtreme(string name, string pyTorchName, bool max)
        => new(name, pyTorchName, OpFamily.ArgExtreme, OpSurface.Tensor)
        {
            Inputs = In("input"),
            Params = [Opt("dim", "dim", ParamKind.Int, null), Opt("keepDim", "keepdim", ParamKind.Bool, false)],
            Shape = ShapeRules.ReduceCall,
            Outputs = ["indices"],
            Kernel = "ReduceKernel",
            Variant = max,
            Differentiable = false,
            Compiled = true,
        };

    private static OpRow Movement(string name, string pyTorchName, System.Func<ShapeCall, ShapeResult> shape, params ScalarParam[] parameters)
        => new(name, pyTorchName, OpFamily.View, OpSurface.Tensor)
        {
            Inputs = In("input"),
            Params = parameters,
            Shape = shape,
            Compiled = true,
        };

    /// <summary>
    /// A window along one dim (family <see cref="OpFamily.Slice"/>): Narrow, Slice, Select, and the parts of Chunk, Split
    /// and Unbind (the compiler reads <c>parts[i]</c> as the window of part i). Shape and window: <see cref="ShapeRules.Window(ShapeCall)"/>.
    /// </summary>
    private static OpRow Window(string name, string pyTorchName, params ScalarParam[] parameters)
        => new(name, pyTorchName, OpFamily.Slice, OpSurface.Tensor)
        {
            Inputs = In("input"),
            Params = parameters,
            Shape = ShapeRules.Slice,
            Kernel = "AxisCopyKernel",
            Compiled = true,
        };

    /// <summary>Cat / Stack of a list of tensors along a dim (family <see cref="OpFamily.Concat"/>).</summary>
    private static OpRow Join(string name, string pyTorchName, bool stack)
        => new(name, pyTorchName, OpFamily.Concat, OpSurface.Tensor)
        {
            Inputs = In("tensors"),
            TensorArity = -1,
            Params = [Opt("dim", "dim", ParamKind.Int, 0)],
            Shape = stack ? static c => ShapeRules.Join(c, stack: true) : static c => ShapeRules.Join(c, stack: false),
            Kernel = "AxisCopyKernel",
            Variant = stack,
            Compiled = true,
        };

    private static OpRow EagerOp(string name, string pyTorchName, OpSurface surface, int tensorArity, System.Func<ShapeCall, ShapeResult>? shape = null)
        => new(name, pyTorchName, OpFamily.Eager, surface) { TensorArity = tensorArity, Shape = shape };

    private static ShapeResult ViewRule(ShapeCall c) => c.Ints("shape") is { } sizes ? ShapeRules.View(c.Input(0), sizes, c.Batch, c.Reads) : ShapeResult.Unknown;

    private static ShapeResult TransposeRule(ShapeCall c)
        => c.Input(0) is { } s && c.Int("dim0") is { } a && c.Int("dim1") is { } b && ShapeRules.TransposePermutation(s.Rank, a, b) is { } perm
            ? ShapeRules.Permute(s, perm)
            : ShapeResult.Unknown;

    /// <summary>Elementwise arithmetic, reductions, views and products: tensor methods and operators.</summary>
    private static IEnumerable<OpRow> TensorRows() =>
    [
        Binary("Add", "add", BackwardReads.None) with { Operator = "+", Onnx = "Add" },
        Binary("Sub", "sub", BackwardReads.None) with { Operator = "-", Onnx = "Sub" },
        Binary("Mul", "mul", BackwardReads.Input | BackwardReads.OtherInputs) with { Operator = "*", Onnx = "Mul" },
        Binary("Div", "div", BackwardReads.Input | BackwardReads.OtherInputs) with { Operator = "/", Onnx = "Div" },
        Binary("Maximum", "maximum", BackwardReads.Input | BackwardReads.OtherInputs) with { Onnx = "Max" },
        Binary("Minimum", "minimum", BackwardReads.Input | BackwardReads.OtherInputs) with { Onnx = "Min" },
        Binary("PowTensor", "pow", BackwardReads.Input | BackwardReads.OtherInputs) with { Method = "Pow", Kernel = "PowOp", Onnx = "Pow" },

        Reduction("Sum", "sum", compiled: true) with { Onnx = "ReduceSum" },
        Reduction("Mean", "mean", compiled: true) with { Variant = true, Onnx = "ReduceMean" },
        Reduction("Prod", "prod") with { Family = OpFamily.Eager, Reads = BackwardReads.Input | BackwardReads.Output },
        Reduction("Amax", "amax") with { Family = OpFamily.Eager, Reads = BackwardReads.Input | BackwardReads.Output },
        Reduction("Amin", "amin") with { Family = OpFamily.Eager, Reads = BackwardReads.Input | BackwardReads.Output },
        Reduction("LogSumExp", "logsumexp") with { Family = OpFamily.Composite },
        Variance("Var", "var", std: false),
        Variance("Std", "std", std: true),
        Reduction("Max", "max", OpFamily.ExtremeAll, compiled: true) with { Reads = BackwardReads.Input | BackwardReads.Output, Params = [], Variant = true },
        Reduction("Min", "min", OpFamily.ExtremeAll, compiled: true) with { Reads = BackwardReads.Input | BackwardReads.Output, Params = [] },
        Reduction("MaxDim", "max", OpFamily.ReduceIndexed, compiled: true) with
        {
            Method = "Max", Overload = "dim", Outputs = ["values", "indices"], Reads = BackwardReads.Saved, Saves = ["indices"], Variant = true,
        },
        Reduction("MinDim", "min", OpFamily.ReduceIndexed, compiled: true) with
        {
            Method = "Min", Overload = "dim", Outputs = ["values", "indices"], Reads = BackwardReads.Saved, Saves = ["indices"],
        },
        // The int64 positions of the extremes (PyTorch's argmax/argmin, and the indices of max(dim)/min(dim)): the kernel of
        // MaxDim/MinDim, a result of the program, never differentiated.
        ArgExtreme("ArgMax", "argmax", max: true),
        ArgExtreme("ArgMin", "argmin", max: false),

        Movement("View", "view", ViewRule, Req("shape", "size", ParamKind.Ints)) with { Onnx = "Reshape" },
        Movement("Reshape", "reshape", ViewRule, Req("shape", "shape", ParamKind.Ints)) with { Onnx = "Reshape" },
        Movement("Flatten", "flatten",
            static c => c.Int("startDim") is { } a && c.Int("endDim") is { } b ? ShapeRules.Flatten(c.Input(0), a, b) : ShapeResult.Unknown,
            Opt("startDim", "start_dim", ParamKind.Int, 0, ParamUse.Function), Opt("endDim", "end_dim", ParamKind.Int, -1, ParamUse.Function),
            Opt("startDim", "start_dim", ParamKind.Int, 1, ParamUse.Layer) with { Property = "StartDim" },
            Opt("endDim", "end_dim", ParamKind.Int, -1, ParamUse.Layer) with { Property = "EndDim" })
            with { Layer = "Flatten", Onnx = "Flatten" },
        Movement("Transpose", "transpose", TransposeRule, Req("dim0", "dim0", ParamKind.Int), Req("dim1", "dim1", ParamKind.Int))
            with { Family = OpFamily.Permute, Onnx = "Transpose" },
        Movement("Permute", "permute", static c => c.Ints("dims") is { } d ? ShapeRules.Permute(c.Input(0), d) : ShapeResult.Unknown,
            Req("dims", "dims", ParamKind.Ints)) with { Family = OpFamily.Permute, Onnx = "Transpose" },
        Movement("Unsqueeze", "unsqueeze", static c => c.Int("dim") is { } d ? ShapeRules.Unsqueeze(c.Input(0), d) : ShapeResult.Unknown,
            Req("dim", "dim", ParamKind.Int)) with { Onnx = "Unsqueeze" },
        Movement("Squeeze", "squeeze", static c => c.Arguments.Has("dim") && c.Int("dim") is null ? ShapeResult.Unknown : ShapeRules.Squeeze(c.Input(0), c.Int("dim")),
            Opt("dim", "dim", ParamKind.Int, null)) with { Onnx = "Squeeze" },
        Movement("Contiguous", "contiguous", ShapeRules.SameAsInput) with { Onnx = "Identity" },
        Movement("T", "t", static c => c.Input(0) is { Rank: 2 } s ? ShapeRules.Permute(s, [1, 0]) : ShapeResult.Unknown)
            with { Family = OpFamily.Permute, Compiled = false },
        EagerOp("Expand", "expand", OpSurface.Tensor, 1),
        Window("Narrow", "narrow", Req("dim", "dim", ParamKind.Int), Req("start", "start", ParamKind.Int), Req("length", "length", ParamKind.Int))
            with { Onnx = "Slice" },
        Window("Slice", "slice", Req("dim", "dim", ParamKind.Int), Req("start", "start", ParamKind.Int), Req("end", "end", ParamKind.Int),
            Opt("step", "step", ParamKind.Int, 1)) with { Onnx = "Slice" },
        Window("Select", "select", Req("dim", "dim", ParamKind.Int), Req("index", "index", ParamKind.Int)) with { Onnx = "Gather" },
        Window("Chunk", "chunk", Req("chunks", "chunks", ParamKind.Int), Opt("dim", "dim", ParamKind.Int, 0)) with { Outputs = ["parts"] },
        Window("Split", "split", Req("splitSize", "split_size_or_sections", ParamKind.Int), Opt("dim", "dim", ParamKind.Int, 0))
            with { Outputs = ["parts"] },
        Window("SplitSizes", "split", Req("splitSizes", "split_size_or_sections", ParamKind.Ints), Opt("dim", "dim", ParamKind.Int, 0))
            with { Method = "Split", Overload = "splitSizes", Outputs = ["parts"] },
        Window("Unbind", "unbind", Opt("dim", "dim", ParamKind.Int, 0)) with { Outputs = ["parts"] },

        new OpRow("MatMul", "matmul", OpFamily.MatMul, OpSurface.Tensor)
        {
            Inputs = In("input", "other"), TensorArity = 2, Shape = static c => ShapeRules.MatMul(c.Input(0), c.Input(1)),
            Reads = BackwardReads.Input | BackwardReads.OtherInputs, Compiled = true, Onnx = "MatMul",
        },
        // mm and bmm: MatMul's rule and kernel on the ranks they take (eager throws on any other; here the shape is not known,
        // so the statement runs eagerly and throws there). Bmm's batch dims must be equal: it does not broadcast.
        new OpRow("Mm", "mm", OpFamily.MatMul, OpSurface.Tensor)
        {
            Inputs = In("input", "mat2"), TensorArity = 2, Reads = BackwardReads.Input | BackwardReads.OtherInputs, Compiled = true,
            Shape = static c => c.Input(0) is { Rank: 2 } a && c.Input(1) is { Rank: 2 } b ? ShapeRules.MatMul(a, b) : ShapeResult.Unknown,
        },
        new OpRow("Bmm", "bmm", OpFamily.MatMul, OpSurface.Tensor)
        {
            Inputs = In("input", "mat2"), TensorArity = 2, Reads = BackwardReads.Input | BackwardReads.OtherInputs, Compiled = true,
            Shape = static c => c.Input(0) is { Rank: 3 } a && c.Input(1) is { Rank: 3 } b && (a[0].IsFixed || a[0].IsSymbol) && a[0].Equals(b[0]) ? ShapeRules.MatMul(a, b) : ShapeResult.Unknown,
        },

        Join("Cat", "cat", stack: false) with { Onnx = "Concat" },
        Join("Stack", "stack", stack: true),
        new OpRow("Where", "where", OpFamily.Where, OpSurface.Tensor)
        {
            Inputs = In("!condition", "input", "other"), TensorArity = 3, Kernel = "WhereKernel", Compiled = true, Onnx = "Where",
            Shape = static c => ShapeRules.Broadcast(c.Input(0), c.Input(1)) is { Error: null, Shape: var cx } ? ShapeRules.Broadcast(cx, c.Input(2)) : ShapeRules.Broadcast(c.Input(0), c.Input(1)),
        },
        // Where(condition, x, 0.0) or Where(condition, 0.0, y): the scalar branch is the x or y argument the call has.
        new OpRow("WhereScalar", "where", OpFamily.Where, OpSurface.Tensor)
        {
            Method = "Where", Inputs = In("!condition", "input"), TensorArity = 2, Compiled = true,
            Params = [Opt("x", "input", ParamKind.Double, null), Opt("y", "other", ParamKind.Double, null)],
            Kernel = "MaskedFillKernel", Shape = static c => ShapeRules.Broadcast(c.Input(0), c.Input(1)),
        },
        new OpRow("MaskedFill", "masked_fill", OpFamily.Mask, OpSurface.Tensor)
        {
            Inputs = In("input", "!mask"), TensorArity = 2, Params = [Req("value", "value", ParamKind.Double)],
            Shape = ShapeRules.SameAsInput, Kernel = "MaskedFillKernel", Compiled = true, Onnx = "Where",
        },
        EagerOp("Gather", "gather", OpSurface.Tensor, 2) with { Inputs = In("input", "!index") },
        EagerOp("IndexSelect", "index_select", OpSurface.Tensor, 2) with { Inputs = In("input", "!index") },
        EagerOp("Scatter", "scatter", OpSurface.Tensor, 3) with { Inputs = In("input", "!index", "src") },
        EagerOp("ScatterAdd", "scatter_add", OpSurface.Tensor, 3) with { Inputs = In("input", "!index", "src") },
        EagerOp("IndexAdd", "index_add", OpSurface.Tensor, 3) with { Inputs = In("input", "!index", "source") },
    ];
}
