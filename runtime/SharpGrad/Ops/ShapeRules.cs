// Shared source (runtime, generator, analyzers): see Dim.cs.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace SharpGrad.Ops;

/// <summary>
/// The arguments of one op call as the shape rules see them, by C# parameter name (the Functional/Tensor/Losses
/// parameter, or the layer's constructor parameter for a layer), defaults included. Each consumer adapts its own view:
/// the generator its parsed constants, the analyzers an invocation's constant arguments, the runtime the actual values.
/// </summary>
internal interface IOpArguments
{
    /// <summary>A number (an int, a double, a bool as 0/1, an enum as its value) known at build time; null when not known or absent.</summary>
    double? Number(string name);

    /// <summary>An int list (a params array, an (H, W) pair, a single int as one element) known at build time; null when not.</summary>
    IReadOnlyList<int>? Ints(string name);

    /// <summary>A string argument (GELU's <c>approximate</c>) known at build time; null when not.</summary>
    string? Text(string name);

    /// <summary>True when the call has this parameter (given, or defaulted by its signature), known or not.</summary>
    bool Has(string name);
}

/// <summary>
/// Arguments that may be sizes bound when the module is built (<c>new Linear(4, hidden)</c> with <c>hidden</c> a
/// constructor parameter): the generator gives them as symbols (<c>hidden</c>, <c>2*hidden</c>).
/// </summary>
internal interface ISymbolicArguments
{
    /// <summary>The symbol of an int argument that is not a constant but a size known once the module is built; null otherwise.</summary>
    string? Symbol(string name);
}

/// <summary>No argument is known (the shape rule uses its row's defaults or gives up).</summary>
internal sealed class NoArguments : IOpArguments
{
    public static NoArguments Instance { get; } = new();

    public double? Number(string name) => null;

    public IReadOnlyList<int>? Ints(string name) => null;

    public string? Text(string name) => null;

    public bool Has(string name) => false;
}

/// <summary>One op call as a shape rule sees it: the input shapes (null when unknown), the arguments, the batch symbol.</summary>
internal sealed class ShapeCall
{
    public ShapeCall(OpRow op, IReadOnlyList<TensorShape?> inputs, IOpArguments arguments, Dim batch, bool isLayer = false)
    {
        Op = op;
        Inputs = inputs;
        Arguments = arguments;
        Batch = batch;
        IsLayer = isLayer;
    }

    /// <summary>True for a layer's Forward (the arguments are the layer's constructor arguments).</summary>
    public bool IsLayer { get; }

    public OpRow Op { get; }

    public IReadOnlyList<TensorShape?> Inputs { get; }

    public IOpArguments Arguments { get; }

    /// <summary>What a read of the batch size at run time (<c>x.Shape[0]</c> in a View) stands for.</summary>
    public Dim Batch { get; }

    /// <summary>
    /// What a read of another size at run time (<see cref="ShapeRules.SizeRead"/>: <c>tokens.Size(1)</c>, an <c>int t</c>
    /// holding one) stands for: the dim of the value it reads (a sequence length <c>T</c>); null where no one resolves it.
    /// </summary>
    public Func<int, Dim?>? Reads { get; init; }

    /// <summary>A size written in a shape argument as a dim: a constant, the batch, a size read (<see cref="Reads"/>); null otherwise.</summary>
    public Dim? SizeOf(int size)
        => size == ShapeRules.BatchRead ? Batch
            : ShapeRules.IsSizeRead(size) ? Reads?.Invoke(size) is { IsUnknown: false } read ? read : null
            : size >= 0 ? Dim.Of(size) : null;

    public TensorShape? Input(int i) => i < Inputs.Count ? Inputs[i] : null;

    /// <summary>The argument's value, or the row's default when the call does not have the argument; null when unknown.</summary>
    public double? Number(string name) => Arguments.Has(name) ? Arguments.Number(name) : Op.Param(name, IsLayer)?.DefaultNumber;

    /// <summary>An int argument (or the first of a pair), with the row's default.</summary>
    public int? Int(string name) => Ints(name) is { Count: > 0 } v ? v[0] : Number(name) is { } n ? (int)n : null;

    /// <summary>A size argument as a dim: its constant, or its symbol when it is bound when the module is built (<see cref="ISymbolicArguments"/>); null when unknown.</summary>
    public Dim? Size(string name)
        => Int(name) is { } v ? Dim.Of(v) : Arguments is ISymbolicArguments symbolic && symbolic.Symbol(name) is { } symbol ? Dim.Sym(symbol) : null;

    /// <summary>An int list or (H, W) pair argument, with the row's default.</summary>
    public IReadOnlyList<int>? Ints(string name) => Arguments.Has(name) ? Arguments.Ints(name) : Op.Param(name, IsLayer)?.DefaultInts;

    /// <summary>A (H, W) pair (a single int is used for both), with the row's default; null when unknown.</summary>
    public (int H, int W)? Pair(string name) => Ints(name) switch
    {
        { Count: 1 } v => (v[0], v[0]),
        { Count: 2 } v => (v[0], v[1]),
        _ => null,
    };

    /// <summary>A bool argument with the row's default (null when unknown).</summary>
    public bool? Flag(string name) => Number(name) is { } n ? n != 0 : null;
}

/// <summary>What a shape rule concludes: a shape (null = not known, never an error), or an error it can prove.</summary>
internal readonly struct ShapeResult
{
    private ShapeResult(TensorShape? shape, ShapeError? error)
    {
        Shape = shape;
        Error = error;
    }

    public TensorShape? Shape { get; }

    public ShapeError? Error { get; }

    public static ShapeResult Unknown => default;

    public static implicit operator ShapeResult(TensorShape? shape) => new(shape, null);

    public static implicit operator ShapeResult(ShapeError error) => new(null, error);
}

/// <summary>The mismatches a shape rule can prove; each is a build-time error (SG10xx) and a run-time exception.</summary>
internal enum ShapeErrorKind
{
    /// <summary>Args: expected in_features, out_features (or …), the input's last dim, the input shape.</summary>
    LinearInFeatures,

    /// <summary>Args: the layer kind, expected in_channels, out_channels (or …), the input's channels, the input shape.</summary>
    ConvInChannels,

    /// <summary>Args: the input shape, its element count, the target sizes, why they do not match.</summary>
    ViewElementCount,

    /// <summary>Args: the left shape, the right shape, the left inner dim, the right inner dim.</summary>
    MatMulInnerDims,

    /// <summary>Args: the left shape, the right shape, the left dim, the right dim, its position from the right (1-based).</summary>
    Broadcast,

    /// <summary>Args: the input shape, the target shape, what the target should be.</summary>
    LossShapes,

    /// <summary>Cat/Stack: args: tensor 0's shape, tensor i's shape, i, what must hold (equal sizes except in dim d).</summary>
    Join,

    /// <summary>A slicing op's window outside its dim: args: the input shape, what is wrong and the fix.</summary>
    Window,
}

/// <summary>A mismatch a rule proved, with the values its message names (see <see cref="ShapeErrorKind"/> for their order).</summary>
internal sealed class ShapeError
{
    public ShapeError(ShapeErrorKind kind, params string[] args)
    {
        Kind = kind;
        Args = args;
    }

    public ShapeErrorKind Kind { get; }

    public IReadOnlyList<string> Args { get; }
}

/// <summary>
/// A window along one dim: positions start, start + step, … (count of them); Squeeze removes the dim (Select). Along a dim
/// of fixed size the start is in range; along a symbolic one (a length T read at each call) a negative start counts from
/// the end (Select(1, -1): T − 1), and the window is checked against the size at each call.
/// </summary>
internal sealed class AxisWindow
{
    public AxisWindow(int dim, int start, int count, int step, bool squeeze)
    {
        Dim = dim;
        Start = start;
        Count = count;
        Step = step;
        Squeeze = squeeze;
    }

    public int Dim { get; }

    public int Start { get; }

    public int Count { get; }

    public int Step { get; }

    public bool Squeeze { get; }
}

/// <summary>
/// The shape rules: how each family of ops maps input shapes (fixed sizes, symbols, unknown dims) to its output shape,
/// and which mismatches it can prove. Every function is total: where a shape or an argument is not known it returns
/// an unknown result, never an error.
/// </summary>
internal static class ShapeRules
{
    /// <summary>In the ints of a View/Reshape: the batch size read at run time (<c>x.Shape[0]</c>), i.e. <see cref="ShapeCall.Batch"/>.</summary>
    public const int BatchRead = int.MinValue;

    /// <summary>The first code of a size read (<see cref="SizeRead"/>); codes run up to 2^30 above it, far below any size.</summary>
    private const int SizeReadBase = int.MinValue + 1;

    /// <summary>
    /// In the ints of a shape argument: a read at run time of dim <paramref name="dim"/> (−32 … 31) of the value of graph node
    /// <paramref name="node"/> (<c>int t = tokens.Size(1)</c>), resolved by shape inference to that value's dim (<see cref="ShapeCall.Reads"/>).
    /// </summary>
    public static int SizeRead(int node, int dim) => SizeReadBase + node * 64 + (dim + 32);

    /// <summary>True for a code made by <see cref="SizeRead"/>.</summary>
    public static bool IsSizeRead(int value) => value >= SizeReadBase && value < SizeReadBase + (1 << 30);

    /// <summary>The node and dim of a size read (<see cref="SizeRead"/>).</summary>
    public static (int Node, int Dim) SizeReadOf(int value) => ((value - SizeReadBase) / 64, (value - SizeReadBase) % 64 - 32);

    private static string S(long v) => v.ToString(CultureInfo.InvariantCulture);

    /// <summary>A dim index normalised to [0, rank), or null when out of range.</summary>
    public static int? Normalize(int dim, int rank)
    {
        int d = dim < 0 ? dim + rank : dim;
        return d >= 0 && d < rank ? d : null;
    }

    // ---- elementwise --------------------------------------------------------------------------------------------

    /// <summary>The output of a pointwise op: its first input's shape.</summary>
    public static ShapeResult SameAsInput(ShapeCall call) => call.Input(0);

    /// <summary>
    /// <c>Arange(start, end, step)</c>: [⌈(end − start) / step⌉] (PyTorch: <c>torch.arange</c>); unknown when an argument is not
    /// known at build time.
    /// </summary>
    public static ShapeResult Arange(ShapeCall call)
    {
        // Arange(t) of a size read at run time (t = tokens.Size(1)): [t].
        if (call.Ints("end") is [var read] && (read == BatchRead || IsSizeRead(read)) && call.Number("start") is 0 && call.Number("step") is 1)
        {
            return call.SizeOf(read) is { } length ? new TensorShape([length]) : ShapeResult.Unknown;
        }
        if (call.Number("start") is not { } start || call.Number("end") is not { } end || call.Number("step") is not { } step || step == 0) return ShapeResult.Unknown;
        return TensorShape.Of([(int)Math.Max(0, Math.Ceiling((end - start) / step))]);
    }

    /// <summary>A tensor created with the sizes of its <c>shape</c> argument (Ones, Zeros, Full); a batch read is the batch dim.</summary>
    public static ShapeResult Creation(ShapeCall call)
    {
        if (call.Ints("shape") is not { } sizes) return ShapeResult.Unknown;
        var dims = new List<Dim>();
        foreach (int size in sizes)
        {
            if (call.SizeOf(size) is { } dim) dims.Add(dim);
            else return ShapeResult.Unknown;
        }
        return new TensorShape(dims);
    }

    /// <summary>NumPy/PyTorch broadcasting of two shapes (PyTorch: <c>torch.broadcast_shapes</c>).</summary>
    public static ShapeResult Broadcast(TensorShape? a, TensorShape? b)
    {
        if (a is null || b is null) return ShapeResult.Unknown;
        int rank = Math.Max(a.Rank, b.Rank);
        var dims = new Dim[rank];
        for (int k = 1; k <= rank; k++)
        {
            var x = k <= a.Rank ? a[a.Rank - k] : Dim.Of(1);
            var y = k <= b.Rank ? b[b.Rank - k] : Dim.Of(1);
            if (x.DefinitelyDiffers(y) && !x.IsOne && !y.IsOne)
            {
                return new ShapeError(ShapeErrorKind.Broadcast, a.ToString(), b.ToString(), x.ToString(), y.ToString(), S(k));
            }
            dims[rank - k] = x.Equals(y) ? x
                : x.IsOne ? y
                : y.IsOne ? x
                : x.IsFixed ? x
                : y.IsFixed ? y
                : Dim.Unknown;
        }
        return new TensorShape(dims);
    }

    /// <summary>A binary op with broadcasting.</summary>
    public static ShapeResult Binary(ShapeCall call) => Broadcast(call.Input(0), call.Input(1));

    // ---- reductions -----------------------------------------------------------------------------------------------

    /// <summary>A reduction over <paramref name="dims"/> (all when empty); keepDim keeps them as size 1.</summary>
    public static ShapeResult Reduce(TensorShape? input, IReadOnlyList<int> dims, bool keepDim)
    {
        if (dims.Count == 0 && !keepDim) return TensorShape.Scalar;   // a full reduction is a scalar, whatever its input
        if (input is null) return ShapeResult.Unknown;
        var reduced = new HashSet<int>();
        if (dims.Count == 0) for (int i = 0; i < input.Rank; i++) reduced.Add(i);
        foreach (int d in dims)
        {
            if (Normalize(d, input.Rank) is not { } n) return ShapeResult.Unknown;
            reduced.Add(n);
        }
        var result = new List<Dim>();
        for (int i = 0; i < input.Rank; i++)
        {
            if (!reduced.Contains(i)) result.Add(input[i]);
            else if (keepDim) result.Add(Dim.Of(1));
        }
        return new TensorShape(result);
    }

    /// <summary><c>Sum</c>/<c>Mean</c>/… over <c>dim</c> or <c>dims</c> (all when the call has neither), with <c>keepDim</c>.</summary>
    public static ShapeResult ReduceCall(ShapeCall call)
    {
        var args = call.Arguments;
        IReadOnlyList<int> dims = Array.Empty<int>();
        if (args.Has("dims") || args.Has("dim"))
        {
            var given = args.Ints("dims") ?? args.Ints("dim");
            if (given is null) return ShapeResult.Unknown;
            dims = given;
        }
        if (args.Has("keepDim") && args.Number("keepDim") is null) return ShapeResult.Unknown;
        return Reduce(call.Input(0), dims, call.Flag("keepDim") ?? false);
    }

    // ---- movement -------------------------------------------------------------------------------------------------

    /// <summary>
    /// The product of some dims: fixed, or a symbolic term (a constant times named sizes, <c>[2*c, 2, 2]</c> ⇒ <c>8*c</c>,
    /// <c>[T, c]</c> ⇒ <c>T*c</c>, atoms in ordinal order as <see cref="Dim.Term"/> reads them), or unknown when a dim is.
    /// </summary>
    public static Dim Product(IEnumerable<Dim> dims)
    {
        long product = 1;
        var atoms = new List<string>();
        foreach (var d in dims)
        {
            if (d.IsFixed) product *= d.Size;
            else if (d.IsUnknown || !Dim.Term(d.Symbol!, out int coefficient, out string term)) return Dim.Unknown;
            else
            {
                product *= coefficient;
                atoms.AddRange(Atoms(term));
            }
        }
        if (product > int.MaxValue) return Dim.Unknown;
        if (atoms.Count == 0) return Dim.Of((int)product);
        if (product == 0) return Dim.Of(0);
        atoms.Sort(StringComparer.Ordinal);
        string joined = string.Join("*", atoms);
        return Dim.Sym(product == 1 ? joined : S(product) + "*" + joined);
    }

    /// <summary>
    /// The named sizes of a product (<c>heads*width</c>, <c>(d/h)*T</c>), split at the <c>*</c> outside parentheses (the
    /// generator's symbolic sizes use it too: this file is linked into the generator).
    /// </summary>
    internal static List<string> Atoms(string product)
    {
        var atoms = new List<string>();
        int depth = 0, start = 0;
        for (int i = 0; i < product.Length; i++)
        {
            if (product[i] == '(') depth++;
            else if (product[i] == ')') depth--;
            else if (product[i] == '*' && depth == 0)
            {
                atoms.Add(product.Substring(start, i - start));
                start = i + 1;
            }
        }
        atoms.Add(product.Substring(start));
        return atoms;
    }

    /// <summary>
    /// <c>View</c>/<c>Reshape</c> to <paramref name="target"/> (-1 inferred; <see cref="BatchRead"/> = the batch): symbols
    /// on both sides cancel (N·512 → [N, -1]); a symbol of the target the input does not have is not checked.
    /// </summary>
    public static ShapeResult View(TensorShape? input, IReadOnlyList<int> target, Dim batch, Func<int, Dim?>? reads = null)
    {
        int holes = 0;
        foreach (int t in target)
        {
            if (t == -1) holes++;
            else if (IsSizeRead(t) && reads?.Invoke(t) is not { IsUnknown: false }) return ShapeResult.Unknown;
            else if (t < -1 && t != BatchRead && !IsSizeRead(t)) return ShapeResult.Unknown;   // the runtime reports these
        }
        if (holes > 1) return ShapeResult.Unknown;
        var dims = new Dim[target.Count];
        for (int i = 0; i < dims.Length; i++) dims[i] = target[i] == -1 ? Dim.Unknown : target[i] == BatchRead ? batch : IsSizeRead(target[i]) ? reads!(target[i])!.Value : Dim.Of(target[i]);
        long known = 1;
        var targetSymbols = new List<string>();
        for (int i = 0; i < dims.Length; i++)
        {
            if (target[i] == -1) continue;
            if (dims[i].IsFixed) known *= dims[i].Size;
            else if (dims[i].IsUnknown) return new TensorShape(dims);
            else targetSymbols.Add(dims[i].Symbol!);
        }
        if (input is null || !input.IsFullyKnown) return new TensorShape(dims);

        long fixedCount = 1;
        var symbols = new List<string>();
        foreach (var d in input.Dims)
        {
            if (d.IsFixed) fixedCount *= d.Size;
            else symbols.Add(d.Symbol!);
        }
        string count = symbols.Count == 0 ? S(fixedCount) : string.Join("·", symbols) + (fixedCount == 1 ? "" : "·" + S(fixedCount));
        var targetParts = new string[dims.Length];
        for (int i = 0; i < dims.Length; i++) targetParts[i] = target[i] == -1 ? "-1" : dims[i].ToString();
        string targetText = "[" + string.Join(", ", targetParts) + "]";
        string targetCount = targetSymbols.Count == 0 ? S(known) : string.Join("·", targetSymbols) + (known == 1 ? "" : "·" + S(known));

        var remaining = new List<string>(symbols);
        foreach (var symbol in targetSymbols)
        {
            if (!remaining.Remove(symbol)) return new TensorShape(dims);
        }

        if (holes == 0)
        {
            if (remaining.Count == 0 && fixedCount != known)
            {
                return new ShapeError(ShapeErrorKind.ViewElementCount, input.ToString(), count, targetText, targetText + " has " + targetCount + " elements");
            }
            return new TensorShape(dims);
        }

        if (known == 0) return new TensorShape(dims);
        if (remaining.Count > 0)
        {
            // Symbols left over ([N, 2*c, 2, 2] viewed as [N, -1]): the hole is their product with the constants that
            // remain (8*c), when the constants divide; else the build cannot tell (the runtime checks the count).
            var rest = Product(remaining.Select(Dim.Sym).Append(Dim.Of((int)fixedCount)));
            if (rest.IsSymbol && Dim.Term(rest.Symbol!, out int c, out string p) && c % known == 0)
            {
                int hole0 = 0;
                while (target[hole0] != -1) hole0++;
                dims[hole0] = Product([Dim.Of((int)(c / known)), Dim.Sym(p)]);
                return new TensorShape(dims);
            }
        }
        if (fixedCount % known != 0)
        {
            string reason = "the sizes other than -1 multiply to " + targetCount + ", which does not divide " + count
                            + (remaining.Count == 0 ? "" : " for every " + string.Join(", ", remaining));
            return new ShapeError(ShapeErrorKind.ViewElementCount, input.ToString(), count, targetText, reason);
        }
        long quotient = fixedCount / known;
        int hole = 0;
        while (target[hole] != -1) hole++;
        dims[hole] = remaining.Count == 0 ? Dim.Of((int)quotient)
            : remaining.Count == 1 && quotient == 1 ? Dim.Sym(remaining[0])
            : Dim.Unknown;
        return new TensorShape(dims);
    }

    /// <summary><c>Flatten(startDim, endDim)</c>.</summary>
    public static ShapeResult Flatten(TensorShape? s, int start, int end)
    {
        if (s is null) return ShapeResult.Unknown;
        if (s.Rank == 0) return new TensorShape(Dim.Of(1));
        if (Normalize(start, s.Rank) is not { } a || Normalize(end, s.Rank) is not { } b || a > b) return ShapeResult.Unknown;
        var dims = new List<Dim>();
        for (int i = 0; i < a; i++) dims.Add(s[i]);
        var middle = new List<Dim>();
        for (int i = a; i <= b; i++) middle.Add(s[i]);
        dims.Add(Product(middle));
        for (int i = b + 1; i < s.Rank; i++) dims.Add(s[i]);
        return new TensorShape(dims);
    }

    /// <summary>
    /// nn.Unflatten(dim, sizes): dim <paramref name="dim"/> becomes <paramref name="sizes"/> (one −1 inferred); unknown when
    /// that dim is not a fixed size the sizes divide.
    /// </summary>
    public static ShapeResult Unflatten(TensorShape? s, int dim, IReadOnlyList<int> sizes)
    {
        if (s is null || Normalize(dim, s.Rank) is not { } d || !s[d].IsFixed || sizes.Count == 0) return ShapeResult.Unknown;
        long known = 1;
        int infer = -1;
        for (int i = 0; i < sizes.Count; i++)
        {
            if (sizes[i] == -1 && infer < 0) infer = i;
            else if (sizes[i] < 0) return ShapeResult.Unknown;
            else known *= sizes[i];
        }
        if (infer >= 0 ? known == 0 || s[d].Size % known != 0 : known != s[d].Size) return ShapeResult.Unknown;   // the layer's own error, at run time
        var dims = new List<Dim>();
        for (int i = 0; i < d; i++) dims.Add(s[i]);
        for (int i = 0; i < sizes.Count; i++) dims.Add(Dim.Of(i == infer ? (int)(s[d].Size / known) : sizes[i]));
        for (int i = d + 1; i < s.Rank; i++) dims.Add(s[i]);
        return new TensorShape(dims);
    }

    /// <summary>ZeroPad2d((left, right, top, bottom), or one int for all four): the last two dims grow; unknown when a size would not be positive.</summary>
    public static ShapeResult ZeroPad2d(TensorShape? s, IReadOnlyList<int>? padding)
    {
        if (s is not { Rank: 3 or 4 } || padding is not { Count: 1 or 4 } p) return ShapeResult.Unknown;
        int Side(int k) => p.Count == 1 ? p[0] : p[k];
        Dim Grow(Dim size, int before, int after) => size.IsFixed && size.Size + before + after > 0 ? Dim.Of(size.Size + before + after) : Dim.Unknown;
        return s.With(s.Rank - 2, Grow(s[s.Rank - 2], Side(2), Side(3))).With(s.Rank - 1, Grow(s[s.Rank - 1], Side(0), Side(1)));
    }

    /// <summary>
    /// Upsample / interpolate of a 3-d [N, C, L] or 4-d [N, C, H, W] input: each spatial dim becomes <paramref name="size"/>
    /// (one value for all, or one per dim) or ⌊in·<paramref name="scale"/>⌋; unknown otherwise.
    /// </summary>
    public static ShapeResult Interpolate(TensorShape? s, IReadOnlyList<int>? size, double? scale)
    {
        if (s is not { Rank: 3 or 4 }) return ShapeResult.Unknown;
        int spatial = s.Rank - 2;
        var result = s;
        for (int d = 0; d < spatial; d++)
        {
            Dim outDim;
            if (size is { Count: > 0 } && (size.Count == 1 || size.Count == spatial)) outDim = Dim.Of(size[size.Count == 1 ? 0 : d]);
            else if (size is not { Count: > 0 } && scale is { } f && f > 0 && s[2 + d].IsFixed && System.Math.Floor(s[2 + d].Size * f) is var o && o >= 1 && o < int.MaxValue)
                outDim = Dim.Of((int)o);
            else return ShapeResult.Unknown;
            result = result.With(2 + d, outDim);
        }
        return result;
    }

    /// <summary>The permutation as non-negative dims, or null when it is not one.</summary>
    public static int[]? Permutation(IReadOnlyList<int> order, int rank)
    {
        if (order.Count != rank) return null;
        var result = new int[rank];
        var seen = new bool[rank];
        for (int i = 0; i < rank; i++)
        {
            if (Normalize(order[i], rank) is not { } d || seen[d]) return null;
            seen[d] = true;
            result[i] = d;
        }
        return result;
    }

    /// <summary><c>Permute(dims)</c>.</summary>
    public static ShapeResult Permute(TensorShape? s, IReadOnlyList<int> order)
    {
        if (s is null || Permutation(order, s.Rank) is not { } perm) return ShapeResult.Unknown;
        var dims = new Dim[s.Rank];
        for (int i = 0; i < dims.Length; i++) dims[i] = s[perm[i]];
        return new TensorShape(dims);
    }

    /// <summary>The permutation of a <c>Transpose(dim0, dim1)</c> on rank <paramref name="rank"/>, or null.</summary>
    public static int[]? TransposePermutation(int rank, int dim0, int dim1)
    {
        if (Normalize(dim0, rank) is not { } a || Normalize(dim1, rank) is not { } b) return null;
        var perm = new int[rank];
        for (int i = 0; i < rank; i++) perm[i] = i;
        (perm[a], perm[b]) = (perm[b], perm[a]);
        return perm;
    }

    /// <summary><c>Unsqueeze(dim)</c>.</summary>
    public static ShapeResult Unsqueeze(TensorShape? s, int dim)
    {
        if (s is null || Normalize(dim, s.Rank + 1) is not { } at) return ShapeResult.Unknown;
        var dims = new List<Dim>(s.Dims);
        dims.Insert(at, Dim.Of(1));
        return new TensorShape(dims);
    }

    /// <summary><c>Squeeze()</c> (all size-1 dims; <paramref name="dim"/> null) or <c>Squeeze(dim)</c>.</summary>
    public static ShapeResult Squeeze(TensorShape? s, int? dim)
    {
        if (s is null) return ShapeResult.Unknown;
        var dims = new List<Dim>();
        if (dim is null)
        {
            foreach (var d in s.Dims)
            {
                if (!d.IsFixed) return ShapeResult.Unknown;
                if (d.Size != 1) dims.Add(d);
            }
            return new TensorShape(dims);
        }
        if (Normalize(dim.Value, s.Rank) is not { } at || !s[at].IsFixed) return ShapeResult.Unknown;
        if (s[at].Size != 1) return s;
        for (int i = 0; i < s.Rank; i++) if (i != at) dims.Add(s[i]);
        return new TensorShape(dims);
    }

    // ---- slicing and joining ------------------------------------------------------------------------------------

    /// <summary>
    /// The window along one dim a slicing op reads, normalised against the input's shape: Narrow(dim, start, length),
    /// Slice(dim, start, end, step) with Python's clamping, Select(dim, index) (the dim removed), and part
    /// <c>item</c> of Chunk(chunks, dim), Split(splitSize, dim), Split(splitSizes, dim), Unbind(dim). Null when the dim's
    /// size or an argument is not known, or when the window is outside the dim (the runtime says so).
    /// </summary>
    public static AxisWindow? Window(ShapeCall c) => Window(c, out _);

    /// <summary>
    /// <see cref="Window(ShapeCall)"/>, with <paramref name="problem"/> saying why a window whose arguments and dim size are
    /// known is outside the dim (an index out of range, split sizes that do not add up): a build-time error.
    /// </summary>
    public static AxisWindow? Window(ShapeCall c, out string? problem)
    {
        problem = null;
        if (c.Input(0) is not { Rank: > 0 } s || c.Int("dim") is not { } dim) return null;
        // A part of Chunk/Split/Unbind reports only what is wrong with the part; the call itself reports the rest.
        int item = c.Arguments.Number("item") is { } it ? (int)it : -1;
        bool part = item >= 0;
        if (Normalize(dim, s.Rank) is not { } d)
        {
            if (!part) problem = "dim " + S(dim) + " is out of range for " + S(s.Rank) + " dims (use a dim in [" + S(-s.Rank) + ", " + S(s.Rank - 1) + "])";
            return null;
        }
        if (!s[d].IsFixed)
        {
            // A dim not known at build time (a length T): Select of a constant index and Narrow of a constant length have a
            // shape the build knows; whether the window fits is known only at each call (Chunk, Split, Slice: not even the shape).
            if (part || !s[d].IsSymbol) return null;
            if (c.Op.Name == "Select" && c.Int("index") is { } at) return new AxisWindow(d, at, 1, 1, true);
            if (c.Op.Name == "Narrow" && c.Int("start") is { } from && c.Int("length") is { } count && count >= 0) return new AxisWindow(d, from, count, 1, false);
            return null;
        }
        int size = s[d].Size;
        string where = "dim " + S(d) + " has size " + S(size);
        switch (c.Op.Name)
        {
            case "Narrow":
            {
                if (c.Int("start") is not { } start0 || c.Int("length") is not { } length) return null;
                int start = start0 < 0 ? start0 + size : start0;
                if (start >= 0 && length >= 0 && start + length <= size) return new AxisWindow(d, start, length, 1, false);
                problem = "[" + S(start0) + ", " + S(start0 + length) + ") is outside " + where + " (use start + length ≤ " + S(size) + ")";
                return null;
            }
            case "Slice":
            {
                if (c.Int("start") is not { } a0 || c.Int("end") is not { } b0 || c.Int("step") is not { } step) return null;
                if (step <= 0)
                {
                    problem = "the step must be positive, but it is " + S(step);
                    return null;
                }
                int a = Math.Min(Math.Max(a0 < 0 ? a0 + size : a0, 0), size);
                int b = Math.Min(Math.Max(b0 < 0 ? b0 + size : b0, a), size);
                return new AxisWindow(d, a, (b - a + step - 1) / step, step, false);
            }
            case "Select":
            case "Unbind":
            {
                int index0 = item;
                if (c.Op.Name == "Select")
                {
                    if (c.Int("index") is not { } given) return null;
                    index0 = given;
                }
                int index = index0 < 0 ? index0 + size : index0;
                if (index >= 0 && index < size) return new AxisWindow(d, index, 1, 1, true);
                problem = "index " + S(index0) + " is out of range: " + where + " (use an index in [" + S(-size) + ", " + S(size - 1) + "])";
                return null;
            }
            case "Chunk":
            {
                if (c.Int("chunks") is not { } chunks || chunks <= 0) return null;
                return Part(c, size, d, Math.Max((size + chunks - 1) / chunks, 1), item, out problem);
            }
            case "Split":
                return c.Int("splitSize") is { } each && each > 0 ? Part(c, size, d, each, item, out problem) : null;
            case "SplitSizes":
            {
                if (c.Ints("splitSizes") is not { } sizes) return null;
                int total = 0, at = 0;
                for (int k = 0; k < sizes.Count; k++)
                {
                    if (sizes[k] < 0) return null;
                    if (k < item) at += sizes[k];
                    total += sizes[k];
                }
                if (total != size)
                {
                    if (!part) problem = "the split sizes add up to " + S(total) + ", but " + where + " (make them add up to " + S(size) + ")";
                    return null;
                }
                if (item >= 0 && item < sizes.Count) return new AxisWindow(d, at, sizes[item], 1, false);
                if (item >= 0) problem = "part " + S(item) + " does not exist: there are " + S(sizes.Count) + " parts";
                return null;
            }
            default:
                return null;
        }

        static AxisWindow? Part(ShapeCall c, int size, int d, int each, int item, out string? problem)
        {
            problem = null;
            int count = (size + each - 1) / each;
            if (item >= 0 && item < count) return new AxisWindow(d, item * each, Math.Min(each, size - item * each), 1, false);
            if (item >= 0) problem = "part " + S(item) + " does not exist: dim " + S(d) + " of size " + S(size) + " gives " + S(count) + " parts";
            return null;
        }
    }

    /// <summary>The output of a slicing op: the input with the window's dim resized (or removed by Select/Unbind).</summary>
    public static ShapeResult Slice(ShapeCall c)
    {
        if (Window(c, out var problem) is not { } w)
        {
            return problem is null ? ShapeResult.Unknown : new ShapeError(ShapeErrorKind.Window, c.Input(0)!.ToString(), problem);
        }
        var s = c.Input(0)!;
        var dims = new List<Dim>();
        for (int k = 0; k < s.Rank; k++)
        {
            if (k != w.Dim) dims.Add(s[k]);
            else if (!w.Squeeze) dims.Add(Dim.Of(w.Count));
        }
        return new TensorShape(dims);
    }

    /// <summary>
    /// Cat(tensors, dim) (<paramref name="stack"/>: Stack, a new dim of size count): every input of one rank, equal except
    /// along dim (Stack: equal); the output's dim is their sum. A provable mismatch is an error naming both shapes.
    /// </summary>
    public static ShapeResult Join(ShapeCall c, bool stack)
    {
        if (c.Inputs.Count == 0 || c.Input(0) is not { } first || c.Int("dim") is not { } dim) return ShapeResult.Unknown;
        if (Normalize(dim, first.Rank + (stack ? 1 : 0)) is not { } d || (!stack && first.Rank == 0)) return ShapeResult.Unknown;
        var dims = new List<Dim>(first.Dims);
        if (stack) dims.Insert(d, Dim.Of(c.Inputs.Count));
        bool known = true;
        int total = 0;
        string? product = null;   // sizes bound when the module is built, of one product (2*c and 2*c: 4*c)
        int coefficients = 0;
        for (int i = 0; i < c.Inputs.Count; i++)
        {
            if (c.Input(i) is not { } t) return ShapeResult.Unknown;
            if (t.Rank != first.Rank) return new ShapeError(ShapeErrorKind.Join, first.ToString(), t.ToString(), S(i), "the same number of dims");
            for (int k = 0; k < t.Rank; k++)
            {
                if ((stack || k != d) && t[k].DefinitelyDiffers(first[k]))
                {
                    return new ShapeError(ShapeErrorKind.Join, first.ToString(), t.ToString(), S(i), stack ? "equal shapes" : "equal sizes except in dim " + S(d));
                }
            }
            if (!stack)
            {
                if (t[d].IsFixed) total += t[d].Size;
                else if (t[d].IsSymbol && Dim.Term(t[d].Symbol!, out int coefficient, out string p) && (product is null || product == p))
                {
                    product = p;
                    coefficients += coefficient;
                }
                else known = false;
            }
        }
        if (!stack) dims[d] = !known ? Dim.Unknown : product is null ? Dim.Of(total)
            : total == 0 ? Dim.Sym(coefficients == 1 ? product : coefficients.ToString(System.Globalization.CultureInfo.InvariantCulture) + "*" + product) : Dim.Unknown;
        return new TensorShape(dims);
    }

    // ---- products and layers --------------------------------------------------------------------------------------

    /// <summary><c>MatMul</c> with PyTorch's rules: 1-d operands, and batch dims that broadcast (a provable mismatch is an error).</summary>
    public static ShapeResult MatMul(TensorShape? a, TensorShape? b)
    {
        if (a is not { Rank: > 0 } || b is not { Rank: > 0 }) return ShapeResult.Unknown;
        var left = a.Last;
        var right = b.Rank == 1 ? b[0] : b[b.Rank - 2];
        if (left.DefinitelyDiffers(right))
        {
            return new ShapeError(ShapeErrorKind.MatMulInnerDims, a.ToString(), b.ToString(), left.ToString(), right.ToString());
        }
        var dims = new List<Dim>();
        if (a.Rank == 1 && b.Rank == 1) return TensorShape.Scalar;
        if (a.Rank == 1)
        {
            for (int i = 0; i < b.Rank - 2; i++) dims.Add(b[i]);
            dims.Add(b.Last);
            return new TensorShape(dims);
        }
        if (b.Rank == 1)
        {
            for (int i = 0; i < a.Rank - 1; i++) dims.Add(a[i]);
            return new TensorShape(dims);
        }
        // The batch dims broadcast ([1, T, T] · [N, T, D] → [N, T, D]; [B, H, T, D] · [D, E] → [B, H, T, E]).
        var batch = Broadcast(new TensorShape(Prefix(a)), new TensorShape(Prefix(b)));
        if (batch.Error is not null) return batch;
        dims.AddRange(batch.Shape!.Dims);
        dims.Add(a[a.Rank - 2]);
        dims.Add(b.Last);
        return new TensorShape(dims);
    }

    /// <summary>The dims of <paramref name="s"/> before its last two (a matrix product's batch dims).</summary>
    private static Dim[] Prefix(TensorShape s)
    {
        var dims = new Dim[s.Rank - 2];
        for (int i = 0; i < dims.Length; i++) dims[i] = s[i];
        return dims;
    }

    /// <summary>A Linear layer: [..., in] → [..., out].</summary>
    public static ShapeResult Linear(TensorShape? s, int? inFeatures, int? outFeatures)
        => Linear(s, inFeatures is { } i ? Dim.Of(i) : null, outFeatures is { } o ? Dim.Of(o) : null);

    /// <summary>A Linear layer whose sizes may be symbols bound when the module is built (<c>Linear(4, hidden)</c>).</summary>
    public static ShapeResult Linear(TensorShape? s, Dim? inFeatures, Dim? outFeatures)
    {
        if (s is not { Rank: > 0 }) return ShapeResult.Unknown;
        var last = s.Last;
        string outText = outFeatures?.ToString() ?? "…";
        if (inFeatures is { } expected && last.DefinitelyDiffers(expected))
        {
            return new ShapeError(ShapeErrorKind.LinearInFeatures, expected.ToString(), outText, last.ToString(), s.ToString());
        }
        return s.With(s.Rank - 1, outFeatures ?? Dim.Unknown);
    }

    /// <summary>
    /// PyTorch's output size of a convolution or pooling window along one dim, or null when the (dilated) window does not
    /// fit the padded input or the stride is not positive.
    /// </summary>
    public static int? OutputSize(int size, int kernel, int stride, int padding, int dilation, bool ceil)
    {
        if (stride <= 0) return null;
        int span = size + (2 * padding) - (dilation * (kernel - 1)) - 1;
        if (span < 0) return null;
        int output = (ceil ? (span + stride - 1) / stride : span / stride) + 1;
        if (ceil && (output - 1) * stride >= size + padding) output--;
        return output;
    }

    /// <summary>
    /// The output size of a transposed convolution along one dim (PyTorch: <c>conv_transpose2d</c>): the input size of
    /// the convolution it is the adjoint of, plus <paramref name="outputPadding"/>.
    /// </summary>
    public static int TransposedOutputSize(int size, int kernel, int stride, int padding, int dilation, int outputPadding)
        => ((size - 1) * stride) - (2 * padding) + (dilation * (kernel - 1)) + outputPadding + 1;

    private static Dim OutputDim(Dim size, int? kernel, int stride, int padding, int dilation, bool ceil)
        => kernel is { } k && size.IsFixed && OutputSize(size.Size, k, stride, padding, dilation, ceil) is { } o ? Dim.Of(o) : Dim.Unknown;

    /// <summary>
    /// A Conv1d/Conv2d layer (<paramref name="spatial"/> 1 or 2): [N, C, …] → [N, O, …]; the input's channels must be
    /// in_channels. Unbatched inputs ([C, …]) are accepted as at run time.
    /// </summary>
    public static ShapeResult Conv(TensorShape? s, int spatial, string kind, Dim? inChannels, Dim? outChannels,
        (int H, int W)? kernel, (int H, int W) stride, (int H, int W) padding, (int H, int W) dilation)
    {
        if (s is null || (s.Rank != spatial + 1 && s.Rank != spatial + 2)) return ShapeResult.Unknown;
        int channelDim = s.Rank - spatial - 1;
        var channels = s[channelDim];
        string outText = outChannels?.ToString() ?? "…";
        if (inChannels is { } expected && channels.DefinitelyDiffers(expected))
        {
            return new ShapeError(ShapeErrorKind.ConvInChannels, kind, expected.ToString(), outText, channels.ToString(), s.ToString());
        }
        var dims = new List<Dim>();
        for (int i = 0; i < channelDim; i++) dims.Add(s[i]);
        dims.Add(outChannels ?? Dim.Unknown);
        for (int i = 0; i < spatial; i++)
        {
            int? k = kernel is { } kk ? Pick(kk, i) : null;
            dims.Add(OutputDim(s[channelDim + 1 + i], k, Pick(stride, i), Pick(padding, i), Pick(dilation, i), ceil: false));
        }
        return new TensorShape(dims);
    }

    /// <summary>MaxPool2d/AvgPool2d over the last two dims of a 3-d or 4-d input; with <paramref name="spatial"/> 1, MaxPool1d/AvgPool1d over the last dim of a 2-d or 3-d input.</summary>
    public static ShapeResult Pool(TensorShape? s, (int H, int W)? kernel, (int H, int W)? stride, (int H, int W) padding, (int H, int W) dilation, bool ceil,
        int spatial = 2)
    {
        if (s is null || (s.Rank != spatial + 1 && s.Rank != spatial + 2)) return ShapeResult.Unknown;
        var dims = new List<Dim>();
        for (int i = 0; i < s.Rank - spatial; i++) dims.Add(s[i]);
        for (int i = 0; i < spatial; i++)
        {
            int? k = kernel is { } kk ? Pick(kk, i) : null;
            var size = s[s.Rank - spatial + i];
            dims.Add(stride is { } st ? OutputDim(size, k, Pick(st, i), Pick(padding, i), Pick(dilation, i), ceil) : Dim.Unknown);
        }
        return new TensorShape(dims);
    }

    /// <summary>AdaptiveAvgPool2d: the last two dims become the output size.</summary>
    public static ShapeResult AdaptivePool(TensorShape? s, (int H, int W)? output)
    {
        if (s is not { Rank: 3 or 4 } || output is not { } o) return ShapeResult.Unknown;
        var dims = new List<Dim>();
        for (int i = 0; i < s.Rank - 2; i++) dims.Add(s[i]);
        dims.Add(Dim.Of(o.H));
        dims.Add(Dim.Of(o.W));
        return new TensorShape(dims);
    }

    /// <summary>An embedding lookup: indices.shape + [embedding_dim].</summary>
    public static ShapeResult Embedding(TensorShape? indices, int? dim) => Embedding(indices, dim is { } d ? Dim.Of(d) : null);

    /// <summary>An embedding whose size may be a symbol bound when the module is built (<c>Embedding(vocab, d)</c>).</summary>
    public static ShapeResult Embedding(TensorShape? indices, Dim? dim)
    {
        if (indices is null || dim is not { } d) return ShapeResult.Unknown;
        var dims = new List<Dim>(indices.Dims) { d };
        return new TensorShape(dims);
    }

    /// <summary>GLU along <paramref name="dim"/>: that dim is halved (it must be even).</summary>
    public static ShapeResult Glu(TensorShape? s, int dim)
    {
        if (s is null || Normalize(dim, s.Rank) is not { } d) return ShapeResult.Unknown;
        var size = s[d];
        if (!size.IsFixed || size.Size % 2 != 0) return ShapeResult.Unknown;   // odd sizes: the runtime names them
        return s.With(d, Dim.Of(size.Size / 2));
    }

    // ---- losses -----------------------------------------------------------------------------------------------------

    /// <summary>
    /// The input/target rule of a loss and its output: class-index losses take input [N, C, …] and target [N, …] (or
    /// class probabilities of the input's shape); elementwise losses a target of the input's shape. The output is a
    /// scalar for reduction Mean/Sum, per sample ([N, …]) for class-index losses with None, the input's shape otherwise.
    /// </summary>
    public static ShapeResult Loss(TensorShape? input, TensorShape? target, bool classIndex, double? reduction)
    {
        if (input is not null && target is not null)
        {
            string? expected = null;
            if (classIndex)
            {
                if (input.Rank >= 1 && !SameDims(input, target) && ClassIndexTarget(input) is var indices && !SameDims(indices, target))
                {
                    expected = indices + " (class indices) or " + input + " (class probabilities)";
                }
            }
            else if (!SameDims(input, target))
            {
                expected = input.ToString();
            }
            if (expected is not null) return new ShapeError(ShapeErrorKind.LossShapes, input.ToString(), target.ToString(), expected);
        }
        if (reduction is not { } r) return ShapeResult.Unknown;
        if (r != 0) return TensorShape.Scalar;
        if (input is not { Rank: >= 1 }) return ShapeResult.Unknown;
        return classIndex ? ClassIndexTarget(input) : input;
    }

    /// <summary>
    /// The shape of class-index targets for an input [N, C, d1, …]: [N, d1, …] (dim 1 holds the classes); a 1-d input [C]
    /// is one sample, whose target is 0-d.
    /// </summary>
    public static TensorShape ClassIndexTarget(TensorShape input)
    {
        if (input.Rank <= 1) return TensorShape.Scalar;
        var want = new List<Dim> { input[0] };
        for (int d = 2; d < input.Rank; d++) want.Add(input[d]);
        return new TensorShape(want);
    }

    /// <summary>Same rank, and no dim certainly different.</summary>
    public static bool SameDims(TensorShape a, TensorShape b)
    {
        if (a.Rank != b.Rank) return false;
        for (int d = 0; d < a.Rank; d++) if (a[d].DefinitelyDiffers(b[d])) return false;
        return true;
    }

    private static int Pick((int H, int W) pair, int i) => i == 0 ? pair.H : pair.W;
}
