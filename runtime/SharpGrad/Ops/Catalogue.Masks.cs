// Shared source (runtime, generator, analyzers): see Dim.cs.
using System.Collections.Generic;

namespace SharpGrad.Ops;

internal static partial class OpCatalogue
{
    /// <summary>
    /// A data op (family <see cref="OpFamily.Data"/>): a tensor built from shapes, constants and data inputs (token ids, a
    /// mask), never differentiated. A compiled program evaluates it by calling the eager Tensor method itself (one
    /// definition), when every tensor it reads is data too. <see cref="OpRow.Variant"/>: a static Tensor method
    /// (<c>Tensor.Ones(…)</c>, <c>Tensor.OnesLike(t)</c>) rather than a method of its first input.
    /// </summary>
    private static OpRow Data(string name, string pyTorchName, int tensorArity, System.Func<ShapeCall, ShapeResult> shape, params ScalarParam[] parameters)
        => new(name, pyTorchName, OpFamily.Data, OpSurface.Tensor)
        {
            Inputs = tensorArity switch { 0 => In(), 1 => In("!input"), _ => In("!input", "!other") },
            TensorArity = tensorArity,
            Params = parameters,
            Shape = shape,
            Compiled = true,
            Differentiable = false,
            Variant = tensorArity == 0,
        };

    private static OpRow Static(OpRow row) => row with { Variant = true };

    /// <summary>A comparison with a scalar (<c>x.Eq(0)</c>) and with a tensor (<c>x.Eq(y)</c>, broadcast): a Bool tensor.</summary>
    private static IEnumerable<OpRow> Comparison(string name, string pyTorchName) =>
    [
        Data(name, pyTorchName, 1, ShapeRules.SameAsInput, Req("other", "other", ParamKind.Double)),
        Data(name + "Tensor", pyTorchName, 2, ShapeRules.Binary) with { Method = name },
    ];

    /// <summary>Mask builders and creation ops: Arange, Ones/Zeros/Full (of a shape, or like a tensor), Triu/Tril, comparisons, dtype conversion.</summary>
    private static IEnumerable<OpRow> DataRows() =>
    [
        Data("Arange", "arange", 0, ShapeRules.Arange,
            Opt("start", "start", ParamKind.Double, 0), Req("end", "end", ParamKind.Double), Opt("step", "step", ParamKind.Double, 1)),
        Data("Ones", "ones", 0, ShapeRules.Creation, Req("shape", "size", ParamKind.Ints)),
        Data("Zeros", "zeros", 0, ShapeRules.Creation, Req("shape", "size", ParamKind.Ints)),
        Data("Full", "full", 0, ShapeRules.Creation, Req("shape", "size", ParamKind.Ints), Req("value", "fill_value", ParamKind.Double)),
        Static(Data("OnesLike", "ones_like", 1, ShapeRules.SameAsInput)),
        Static(Data("ZerosLike", "zeros_like", 1, ShapeRules.SameAsInput)),
        Static(Data("FullLike", "full_like", 1, ShapeRules.SameAsInput, Req("value", "fill_value", ParamKind.Double))),
        Data("Triu", "triu", 1, ShapeRules.SameAsInput, Opt("diagonal", "diagonal", ParamKind.Int, 0)) with { Differentiable = true },
        Data("Tril", "tril", 1, ShapeRules.SameAsInput, Opt("diagonal", "diagonal", ParamKind.Int, 0)) with { Differentiable = true },
        .. Comparison("Eq", "eq"),
        .. Comparison("Ne", "ne"),
        .. Comparison("Lt", "lt"),
        .. Comparison("Le", "le"),
        .. Comparison("Gt", "gt"),
        .. Comparison("Ge", "ge"),
        Data("To", "to", 1, ShapeRules.SameAsInput, Req("dtype", "dtype", ParamKind.Int)),
    ];
}
