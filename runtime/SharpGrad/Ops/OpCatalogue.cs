// Shared source (runtime, generator, analyzers): see Dim.cs.
using System;
using System.Collections.Generic;

namespace SharpGrad.Ops;

/// <summary>
/// The op catalogue: one row per op and layer (<see cref="OpRow"/>), the single source of truth for names, PyTorch names,
/// scalar parameters and their defaults, shape rules and what each backward reads. Linked as source into the runtime,
/// the generator and the analyzers (as dotnet/runtime links its Regex parser into the Regex generator). The rows are
/// in the <c>Catalogue.*.cs</c> files by family; docs/architecture.md says how to add one.
/// </summary>
internal static partial class OpCatalogue
{
    private static readonly Dictionary<string, OpRow> ByName = new(StringComparer.Ordinal);
    private static readonly Dictionary<string, OpRow> ByLayer = new(StringComparer.Ordinal);
    private static readonly Dictionary<string, List<OpRow>> ByMethod = new(StringComparer.Ordinal);

    static OpCatalogue()
    {
        var rows = new List<OpRow>();
        rows.AddRange(PointwiseRows());
        rows.AddRange(TensorRows());
        rows.AddRange(DataRows());
        rows.AddRange(LayerRows());
        rows.AddRange(PrimitiveLayerRows());
        rows.AddRange(SequenceRows());
        rows.AddRange(LossRows());
        foreach (var row in rows)
        {
            ByName.Add(row.Name, row);
            if (row.Layer is { } layer) ByLayer.Add(layer, row);
            if (row.Surface != OpSurface.None)
            {
                if (!ByMethod.TryGetValue(row.MethodName, out var list)) ByMethod[row.MethodName] = list = new List<OpRow>();
                list.Add(row);
            }
        }
        All = rows;
    }

    /// <summary>Every row, in catalogue order.</summary>
    public static IReadOnlyList<OpRow> All { get; }

    /// <summary>The row named <paramref name="name"/> (<see cref="OpRow.Name"/>), or null.</summary>
    public static OpRow? Find(string name) => ByName.TryGetValue(name, out var row) ? row : null;

    /// <summary>The row of the layer class <paramref name="layer"/> (<c>LeakyReLU</c>), or null.</summary>
    public static OpRow? ForLayer(string layer) => ByLayer.TryGetValue(layer, out var row) ? row : null;

    /// <summary>
    /// The row a call of <paramref name="method"/> on <paramref name="surface"/> with <paramref name="tensorArity"/> tensor
    /// arguments stands for, given which parameters the chosen overload has (<paramref name="hasParam"/>): <c>x.Max()</c>
    /// is Max, <c>x.Max(1)</c> is MaxDim. Null when no row matches.
    /// </summary>
    public static OpRow? ForCall(OpSurface surface, string method, int tensorArity, Func<string, bool> hasParam)
    {
        if (!ByMethod.TryGetValue(method, out var candidates)) return null;
        OpRow? fallback = null;
        foreach (var row in candidates)
        {
            if ((row.Surface & surface) == 0) continue;
            if (row.TensorArity >= 0 && row.TensorArity != tensorArity) continue;
            if (row.Overload is { } required)
            {
                if (hasParam(required)) return row;
                continue;
            }
            fallback ??= row;
        }
        return fallback;
    }

    // ---- helpers for the rows ---------------------------------------------------------------------------------------

    private static ScalarParam Opt(string name, string pyTorchName, ParamKind kind, object? defaultValue, ParamUse use = ParamUse.Both)
        => new(name, pyTorchName, kind, defaultValue, HasDefault: true, use);

    private static ScalarParam Req(string name, string pyTorchName, ParamKind kind, ParamUse use = ParamUse.Both)
        => new(name, pyTorchName, kind, null, HasDefault: false, use);

    private static TensorParam[] In(params string[] names)
    {
        var result = new TensorParam[names.Length];
        for (int i = 0; i < names.Length; i++)
        {
            string n = names[i];
            bool optional = n.EndsWith("?", StringComparison.Ordinal);
            bool constant = n.StartsWith("!", StringComparison.Ordinal);
            n = n.Trim('?', '!');
            result[i] = new TensorParam(n, optional, differentiable: !constant);
        }
        return result;
    }

    /// <summary>The <c>inplace</c> flag of an activation layer (accepted and reported like PyTorch's; the op runs out of place).</summary>
    private static ScalarParam Inplace() => Opt("inplace", "inplace", ParamKind.Bool, false, ParamUse.Layer) with { Property = "Inplace" };
}
