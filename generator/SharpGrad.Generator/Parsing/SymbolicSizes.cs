using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace SharpGrad.Generator.Parsing;

/// <summary>
/// Sizes known once a module is built, as PyTorch users pass them (<c>nn.Linear(4, hidden)</c> in <c>__init__</c>): an
/// int constructor parameter, a readonly int field of the module, or products of them with constants
/// (<c>hidden * 2</c>). Each becomes a symbol (<c>hidden</c>, <c>2*hidden</c>) that shape inference carries like the
/// batch symbol, and the compiled program binds when <c>Compile()</c> is called (from the built children's sizes).
/// A quotient or sum of such sizes (<c>dModel / nHeads</c>) is a symbol of its own, in parentheses.
/// </summary>
internal static class SymbolicSizes
{
    /// <summary>
    /// True when the built-in layer's constructor argument <paramref name="parameter"/> may be a symbol: a size its rule
    /// compiles symbolically. A recurrent stack's <c>num_layers</c> is one (session 11): its parameters are one group the
    /// program reads at run time (<c>ParamSlot.IsGroup</c>), its kernel loops over the layers. Windows (kernel sizes,
    /// strides) stay constants.
    /// </summary>
    public static bool Accepts(string layerKind, string parameter) => layerKind switch
    {
        "Linear" or "LayerNorm" or "Embedding" => true,
        "RNN" or "LSTM" or "GRU" => parameter is "inputSize" or "hiddenSize" or "numLayers",
        "TransformerEncoderLayer" => parameter is "dModel" or "nhead" or "dimFeedforward",
        "MultiheadAttention" => parameter is "embedDim" or "numHeads",
        "Conv1d" or "Conv2d" or "ConvTranspose1d" or "ConvTranspose2d" => parameter is "inChannels" or "outChannels" or "groups",
        "BatchNorm1d" or "BatchNorm2d" or "InstanceNorm1d" or "InstanceNorm2d" => parameter is "numFeatures",
        "GroupNorm" => parameter is "numGroups" or "numChannels",
        _ => false,
    };

    /// <summary>The layers of <see cref="Accepts"/>, for messages.</summary>
    public const string Layers = "Linear, LayerNorm, Embedding, RNN/LSTM/GRU (input and hidden sizes, num_layers) and TransformerEncoderLayer (d_model, nhead, dim_feedforward), MultiheadAttention (embed_dim, num_heads), Conv/ConvTranspose (channels, groups), BatchNorm/InstanceNorm (num_features) and GroupNorm";

    /// <summary>The symbol of a size expression, or null when it is not one (a constant is not a symbol).</summary>
    public static string? Of(IOperation value)
        => Term(value) is { Atoms.Count: > 0, Coefficient: > 0 } t ? Text(t.Coefficient, t.Atoms) : null;

    /// <summary>The canonical text of a term: <c>hidden</c>, <c>2*hidden</c>, <c>heads*width</c> (atoms in ordinal order).</summary>
    public static string Text(int coefficient, IEnumerable<string> atoms)
    {
        var sorted = atoms.OrderBy(a => a, System.StringComparer.Ordinal);
        string product = string.Join("*", sorted);
        if (product.Length == 0) return coefficient.ToString(CultureInfo.InvariantCulture);
        return coefficient == 1 ? product : coefficient.ToString(CultureInfo.InvariantCulture) + "*" + product;
    }

    /// <summary>
    /// A symbol with each atom replaced by <paramref name="atoms"/>' text for it (a symbol or a constant), in canonical
    /// form again (<c>d*expand</c> with d ⇒ <c>a</c>, expand ⇒ <c>2</c> is <c>2*a</c>; all constants give a number).
    /// </summary>
    public static string Substitute(string symbol, System.Func<string, string> atoms)
    {
        if (!Dim.Term(symbol, out int coefficient, out string product)) return symbol;
        var result = new List<string>();
        foreach (var atom in Planning.SizeSymbols.Atoms(product))
        {
            if (atom.StartsWith("(", System.StringComparison.Ordinal))
            {
                result.Add(System.Text.RegularExpressions.Regex.Replace(atom, @"[A-Za-z_][A-Za-z0-9_.]*", m => atoms(m.Value)));
                continue;
            }
            string replaced = atoms(atom);
            if (int.TryParse(replaced, NumberStyles.None, CultureInfo.InvariantCulture, out int constant))
            {
                coefficient *= constant;
                continue;
            }
            Dim.Term(replaced, out int c, out string p);
            coefficient *= c;
            result.AddRange(Planning.SizeSymbols.Atoms(p));
        }
        return Text(coefficient, result);
    }

    /// <summary>
    /// A symbol with each of its atoms that <paramref name="atoms"/> names replaced, whole, by the size given for it (a symbol or a
    /// constant), in canonical form again: <c>2*(bidirectional?2*hidden:hidden)</c> with that atom ⇒ <c>2*hidden</c> is
    /// <c>4*hidden</c>. Unlike <see cref="Substitute"/>, an atom in parentheses is replaced as one (a size a condition chooses,
    /// <see cref="Conditions.Size"/>), not inside.
    /// </summary>
    public static string Replace(string symbol, IReadOnlyDictionary<string, string> atoms)
    {
        if (atoms.Count == 0 || !Dim.Term(symbol, out int coefficient, out string product)) return symbol;
        var result = new List<string>();
        bool changed = false;
        foreach (var atom in Planning.SizeSymbols.Atoms(product))
        {
            if (!atoms.TryGetValue(atom, out var to))
            {
                result.Add(atom);
                continue;
            }
            changed = true;
            if (int.TryParse(to, NumberStyles.None, CultureInfo.InvariantCulture, out int constant))
            {
                coefficient *= constant;
                continue;
            }
            if (!Dim.Term(to, out int c, out string p)) return symbol;
            coefficient *= c;
            result.AddRange(Planning.SizeSymbols.Atoms(p).Where(a => a.Length > 0));
        }
        return changed ? Text(coefficient, result) : symbol;
    }

    private static (int Coefficient, List<string> Atoms)? Term(IOperation value)
    {
        while (value is IConversionOperation { ConstantValue.HasValue: false } conversion) value = conversion.Operand;
        if (value.ConstantValue is { HasValue: true, Value: int constant }) return (constant, new List<string>());
        switch (value)
        {
            case IParameterReferenceOperation { Parameter: { Type.SpecialType: SpecialType.System_Int32, ContainingSymbol: IMethodSymbol { MethodKind: MethodKind.Constructor } } parameter }:
                return (1, new List<string> { parameter.Name });
            case IFieldReferenceOperation { Field: { Type.SpecialType: SpecialType.System_Int32, IsStatic: false, IsReadOnly: true } field, Instance: IInstanceReferenceOperation or null }:
                return (1, new List<string> { field.Name });
            case IBinaryOperation { OperatorKind: BinaryOperatorKind.Multiply } product
                when Term(product.LeftOperand) is { } left && Term(product.RightOperand) is { } right:
                return (left.Coefficient * right.Coefficient, left.Atoms.Concat(right.Atoms).ToList());
            case IBinaryOperation { OperatorKind: BinaryOperatorKind.Divide or BinaryOperatorKind.Add or BinaryOperatorKind.Subtract } other
                when Term(other.LeftOperand) is { } left && Term(other.RightOperand) is { } right:
            {
                string op = other.OperatorKind switch { BinaryOperatorKind.Divide => "/", BinaryOperatorKind.Add => "+", _ => "-" };
                return (1, new List<string> { "(" + Text(left.Coefficient, left.Atoms) + op + Text(right.Coefficient, right.Atoms) + ")" });
            }
        }
        return null;
    }
}
