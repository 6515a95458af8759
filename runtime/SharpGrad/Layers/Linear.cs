namespace SharpGrad.Layers;

/// <summary>
/// Applies <c>y = x·Wᵀ + b</c> (PyTorch: <c>torch.nn.Linear</c>). Weight [out_features, in_features] and bias [out_features] start
/// like PyTorch's: kaiming_uniform(a = √5), i.e. U(±1/√in_features), and U(±1/√in_features).
/// </summary>
[Module]
public sealed partial class Linear : Module
{
    /// <summary>Creates the layer (PyTorch: <c>nn.Linear(in_features, out_features, bias)</c>).</summary>
    public Linear(int inFeatures, int outFeatures, bool bias = true, Rng? rng = null, DType dtype = DType.Float32)
    {
        if (inFeatures < 0 || outFeatures < 0)
        {
            throw new ArgumentException($"Linear: in_features ({inFeatures}) and out_features ({outFeatures}) must be non-negative.");
        }
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Weight = new Parameter(Tensor.Empty([outFeatures, inFeatures], dtype));
        Bias = bias ? new Parameter(Tensor.Empty([outFeatures], dtype)) : null;
        ResetParameters(rng);
    }

    /// <summary>The size of each input sample (PyTorch: <c>in_features</c>).</summary>
    public int InFeatures { get; }

    /// <summary>The size of each output sample (PyTorch: <c>out_features</c>).</summary>
    public int OutFeatures { get; }

    /// <summary>The weight [out_features, in_features] (PyTorch: <c>weight</c>).</summary>
    public Parameter Weight { get; }

    /// <summary>The bias [out_features], or null without one (PyTorch: <c>bias</c>).</summary>
    public Parameter? Bias { get; }

    /// <summary>Re-initialises the parameters like PyTorch's <c>reset_parameters()</c>.</summary>
    public void ResetParameters(Rng? rng = null) => LayerInit.KaimingDefault(Weight, Bias, rng);

    /// <summary>Applies the layer to [..., in_features] input (PyTorch: <c>forward</c>).</summary>
    public Tensor Forward(Tensor input) => Functional.Linear(input, Weight, Bias);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"in_features={InFeatures}, out_features={OutFeatures}, bias={Py.Bool(Bias is not null)}";
}

/// <summary>Formatting of values the way Python's <c>repr</c> shows them, for <c>ExtraRepr</c>.</summary>
internal static class Py
{
    public static string Bool(bool b) => b ? "True" : "False";

    public static string Float(double v)
    {
        if (double.IsPositiveInfinity(v)) return "inf";
        if (double.IsNegativeInfinity(v)) return "-inf";
        if (double.IsNaN(v)) return "nan";
        var s = v.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
        if (s.Contains('E'))
        {
            // 1E-05 → 1e-05; 1E+16 → 1e+16
            var parts = s.Split('E');
            var exp = int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
            return parts[0] + "e" + (exp < 0 ? "-" : "+") + Math.Abs(exp).ToString("00", System.Globalization.CultureInfo.InvariantCulture);
        }
        return s.Contains('.') ? s : s + ".0";
    }

    public static string Tuple(params int[] values) => values.Length == 1 ? $"({values[0]},)" : "(" + string.Join(", ", values) + ")";
}

/// <summary>PyTorch's default initialisation of Linear and convolution layers.</summary>
internal static class LayerInit
{
    /// <summary>weight: kaiming_uniform(a = √5); bias: U(±1/√fan_in) (fan_in from the weight).</summary>
    public static void KaimingDefault(Tensor weight, Tensor? bias, Rng? rng)
    {
        Init.KaimingUniform(weight, a: Math.Sqrt(5), rng: rng);
        if (bias is null) return;
        var (fanIn, _) = Init.CalculateFanInAndFanOut(weight);
        double bound = fanIn > 0 ? 1 / Math.Sqrt(fanIn) : 0;
        Init.Uniform(bias, -bound, bound, rng);
    }
}
