using System.Globalization;
using SharpGrad.Ops;

namespace SharpGrad.Layers;

/// <summary>Applies ReLU elementwise (PyTorch: <c>torch.nn.ReLU</c>).</summary>
[Module]
public sealed partial class ReLU : Module
{
    /// <summary>Creates the layer with PyTorch's options and defaults.</summary>
    public ReLU(bool inplace = false)
    {
        Inplace = inplace;
    }

    /// <summary>The <c>inplace</c> option.</summary>
    public bool Inplace { get; }

    /// <summary>Applies the activation (PyTorch: <c>forward</c>).</summary>
    public Tensor Forward(Tensor input) => Inplace ? input.Relu_() : input.Relu();

    /// <inheritdoc/>
    protected override string ExtraRepr() => Inplace ? "inplace=True" : "";
}

/// <summary>Applies LeakyReLU elementwise (PyTorch: <c>torch.nn.LeakyReLU</c>).</summary>
[Module]
public sealed partial class LeakyReLU : Module
{
    /// <summary>Creates the layer with PyTorch's options and defaults.</summary>
    public LeakyReLU(double negativeSlope = OpDefaults.LeakyRelu.NegativeSlope, bool inplace = false)
    {
        NegativeSlope = negativeSlope;
        Inplace = inplace;
    }

    /// <summary>The <c>negativeSlope</c> option.</summary>
    public double NegativeSlope { get; }

    /// <summary>The <c>inplace</c> option.</summary>
    public bool Inplace { get; }

    /// <summary>Applies the activation (PyTorch: <c>forward</c>).</summary>
    public Tensor Forward(Tensor input) => Functional.LeakyRelu(input, NegativeSlope);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"negative_slope={Py(NegativeSlope)}" + (Inplace ? ", inplace=True" : "");

    private static string Py(double v) => PyRepr.Float(v);
}

/// <summary>Applies ELU elementwise (PyTorch: <c>torch.nn.ELU</c>).</summary>
[Module]
public sealed partial class ELU : Module
{
    /// <summary>Creates the layer with PyTorch's options and defaults.</summary>
    public ELU(double alpha = OpDefaults.Elu.Alpha, bool inplace = false)
    {
        Alpha = alpha;
        Inplace = inplace;
    }

    /// <summary>The <c>alpha</c> option.</summary>
    public double Alpha { get; }

    /// <summary>The <c>inplace</c> option.</summary>
    public bool Inplace { get; }

    /// <summary>Applies the activation (PyTorch: <c>forward</c>).</summary>
    public Tensor Forward(Tensor input) => Functional.Elu(input, Alpha);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"alpha={Py(Alpha)}" + (Inplace ? ", inplace=True" : "");

    private static string Py(double v) => PyRepr.Float(v);
}

/// <summary>Applies GELU elementwise (PyTorch: <c>torch.nn.GELU</c>).</summary>
[Module]
public sealed partial class GELU : Module
{
    /// <summary>Creates the layer with PyTorch's options and defaults.</summary>
    public GELU(string approximate = OpDefaults.Gelu.Approximate)
    {
        Approximate = approximate;
    }

    /// <summary>The <c>approximate</c> option.</summary>
    public string Approximate { get; }

    /// <summary>Applies the activation (PyTorch: <c>forward</c>).</summary>
    public Tensor Forward(Tensor input) => Functional.Gelu(input, Approximate);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"approximate='{Approximate}'";
}

/// <summary>Applies SiLU elementwise (PyTorch: <c>torch.nn.SiLU</c>).</summary>
[Module]
public sealed partial class SiLU : Module
{
    /// <summary>Creates the layer with PyTorch's options and defaults.</summary>
    public SiLU(bool inplace = false)
    {
        Inplace = inplace;
    }

    /// <summary>The <c>inplace</c> option.</summary>
    public bool Inplace { get; }

    /// <summary>Applies the activation (PyTorch: <c>forward</c>).</summary>
    public Tensor Forward(Tensor input) => Functional.Silu(input);

    /// <inheritdoc/>
    protected override string ExtraRepr() => Inplace ? "inplace=True" : "";
}

/// <summary>Applies Sigmoid elementwise (PyTorch: <c>torch.nn.Sigmoid</c>).</summary>
[Module]
public sealed partial class Sigmoid : Module
{
    /// <summary>Creates the layer with PyTorch's options and defaults.</summary>
    public Sigmoid()
    {
    }

    /// <summary>Applies the activation (PyTorch: <c>forward</c>).</summary>
    public Tensor Forward(Tensor input) => input.Sigmoid();

    /// <inheritdoc/>
    protected override string ExtraRepr() => "";
}

/// <summary>Applies Tanh elementwise (PyTorch: <c>torch.nn.Tanh</c>).</summary>
[Module]
public sealed partial class Tanh : Module
{
    /// <summary>Creates the layer with PyTorch's options and defaults.</summary>
    public Tanh()
    {
    }

    /// <summary>Applies the activation (PyTorch: <c>forward</c>).</summary>
    public Tensor Forward(Tensor input) => input.Tanh();

    /// <inheritdoc/>
    protected override string ExtraRepr() => "";
}

/// <summary>Applies Softplus elementwise (PyTorch: <c>torch.nn.Softplus</c>).</summary>
[Module]
public sealed partial class Softplus : Module
{
    /// <summary>Creates the layer with PyTorch's options and defaults.</summary>
    public Softplus(double beta = OpDefaults.Softplus.Beta, double threshold = OpDefaults.Softplus.Threshold)
    {
        Beta = beta;
        Threshold = threshold;
    }

    /// <summary>The <c>beta</c> option.</summary>
    public double Beta { get; }

    /// <summary>The <c>threshold</c> option.</summary>
    public double Threshold { get; }

    /// <summary>Applies the activation (PyTorch: <c>forward</c>).</summary>
    public Tensor Forward(Tensor input) => Functional.Softplus(input, Beta, Threshold);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"beta={Beta.ToString(CultureInfo.InvariantCulture)}, threshold={Threshold.ToString(CultureInfo.InvariantCulture)}";
}

/// <summary>Applies Hardtanh elementwise (PyTorch: <c>torch.nn.Hardtanh</c>).</summary>
[Module]
public sealed partial class Hardtanh : Module
{
    /// <summary>Creates the layer with PyTorch's options and defaults.</summary>
    public Hardtanh(double minVal = OpDefaults.Hardtanh.MinVal, double maxVal = OpDefaults.Hardtanh.MaxVal, bool inplace = false)
    {
        MinVal = minVal;
        MaxVal = maxVal;
        Inplace = inplace;
    }

    /// <summary>The <c>minVal</c> option.</summary>
    public double MinVal { get; }

    /// <summary>The <c>maxVal</c> option.</summary>
    public double MaxVal { get; }

    /// <summary>The <c>inplace</c> option.</summary>
    public bool Inplace { get; }

    /// <summary>Applies the activation (PyTorch: <c>forward</c>).</summary>
    public Tensor Forward(Tensor input) => Functional.Hardtanh(input, MinVal, MaxVal);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"min_val={Py(MinVal)}, max_val={Py(MaxVal)}" + (Inplace ? ", inplace=True" : "");

    private static string Py(double v) => PyRepr.Float(v);
}

/// <summary>Applies ReLU6 elementwise (PyTorch: <c>torch.nn.ReLU6</c>).</summary>
[Module]
public sealed partial class ReLU6 : Module
{
    /// <summary>Creates the layer with PyTorch's options and defaults.</summary>
    public ReLU6(bool inplace = false)
    {
        Inplace = inplace;
    }

    /// <summary>The <c>inplace</c> option.</summary>
    public bool Inplace { get; }

    /// <summary>Applies the activation (PyTorch: <c>forward</c>).</summary>
    public Tensor Forward(Tensor input) => Functional.Relu6(input);

    /// <inheritdoc/>
    protected override string ExtraRepr() => Inplace ? "inplace=True" : "";
}

/// <summary>Applies Softmax along a dimension (PyTorch: <c>torch.nn.Softmax</c>).</summary>
[Module]
public sealed partial class Softmax : Module
{
    /// <summary>Creates the layer with PyTorch's options and defaults.</summary>
    public Softmax(int dim)
    {
        Dim = dim;
    }

    /// <summary>The <c>dim</c> option.</summary>
    public int Dim { get; }

    /// <summary>Applies the activation (PyTorch: <c>forward</c>).</summary>
    public Tensor Forward(Tensor input) => Functional.Softmax(input, Dim);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"dim={Dim}";
}

/// <summary>Applies LogSoftmax along a dimension (PyTorch: <c>torch.nn.LogSoftmax</c>).</summary>
[Module]
public sealed partial class LogSoftmax : Module
{
    /// <summary>Creates the layer with PyTorch's options and defaults.</summary>
    public LogSoftmax(int dim)
    {
        Dim = dim;
    }

    /// <summary>The <c>dim</c> option.</summary>
    public int Dim { get; }

    /// <summary>Applies the activation (PyTorch: <c>forward</c>).</summary>
    public Tensor Forward(Tensor input) => Functional.LogSoftmax(input, Dim);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"dim={Dim}";
}

/// <summary>Applies LogSigmoid (PyTorch: <c>torch.nn.LogSigmoid</c>).</summary>
[Module]
public sealed partial class LogSigmoid : Module
{
    /// <summary>Creates the layer with PyTorch's options and defaults.</summary>
    public LogSigmoid()
    {
    }

    /// <summary>Applies the activation (PyTorch: <c>forward</c>).</summary>
    public Tensor Forward(Tensor input) => Functional.LogSigmoid(input);

    /// <inheritdoc/>
    protected override string ExtraRepr() => "";
}

/// <summary>Applies Softmin (PyTorch: <c>torch.nn.Softmin</c>).</summary>
[Module]
public sealed partial class Softmin : Module
{
    /// <summary>Creates the layer with PyTorch's options and defaults.</summary>
    public Softmin(int dim)
    {
        Dim = dim;
    }

    /// <summary>The <c>dim</c> option.</summary>
    public int Dim { get; }

    /// <summary>Applies the activation (PyTorch: <c>forward</c>).</summary>
    public Tensor Forward(Tensor input) => Functional.Softmin(input, Dim);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"dim={Dim}";
}

/// <summary>Applies Softsign (PyTorch: <c>torch.nn.Softsign</c>).</summary>
[Module]
public sealed partial class Softsign : Module
{
    /// <summary>Creates the layer with PyTorch's options and defaults.</summary>
    public Softsign()
    {
    }

    /// <summary>Applies the activation (PyTorch: <c>forward</c>).</summary>
    public Tensor Forward(Tensor input) => Functional.Softsign(input);

    /// <inheritdoc/>
    protected override string ExtraRepr() => "";
}

/// <summary>Applies SELU (PyTorch: <c>torch.nn.SELU</c>).</summary>
[Module]
public sealed partial class SELU : Module
{
    /// <summary>Creates the layer with PyTorch's options and defaults.</summary>
    public SELU(bool inplace = false)
    {
        Inplace = inplace;
    }

    /// <summary>The <c>inplace</c> option.</summary>
    public bool Inplace { get; }

    /// <summary>Applies the activation (PyTorch: <c>forward</c>).</summary>
    public Tensor Forward(Tensor input) => Functional.Selu(input);

    /// <inheritdoc/>
    protected override string ExtraRepr() => Inplace ? "inplace=True" : "";
}

/// <summary>Applies CELU (PyTorch: <c>torch.nn.CELU</c>).</summary>
[Module]
public sealed partial class CELU : Module
{
    /// <summary>Creates the layer with PyTorch's options and defaults.</summary>
    public CELU(double alpha = OpDefaults.Celu.Alpha, bool inplace = false)
    {
        Alpha = alpha;
        Inplace = inplace;
    }

    /// <summary>The <c>alpha</c> option.</summary>
    public double Alpha { get; }

    /// <summary>The <c>inplace</c> option.</summary>
    public bool Inplace { get; }

    /// <summary>Applies the activation (PyTorch: <c>forward</c>).</summary>
    public Tensor Forward(Tensor input) => Functional.Celu(input, Alpha);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"alpha={PyRepr.Float(Alpha)}" + (Inplace ? ", inplace=True" : "");
}

/// <summary>Applies Mish (PyTorch: <c>torch.nn.Mish</c>).</summary>
[Module]
public sealed partial class Mish : Module
{
    /// <summary>Creates the layer with PyTorch's options and defaults.</summary>
    public Mish(bool inplace = false)
    {
        Inplace = inplace;
    }

    /// <summary>The <c>inplace</c> option.</summary>
    public bool Inplace { get; }

    /// <summary>Applies the activation (PyTorch: <c>forward</c>).</summary>
    public Tensor Forward(Tensor input) => Functional.Mish(input);

    /// <inheritdoc/>
    protected override string ExtraRepr() => Inplace ? "inplace=True" : "";
}

/// <summary>Applies Hardsigmoid (PyTorch: <c>torch.nn.Hardsigmoid</c>).</summary>
[Module]
public sealed partial class Hardsigmoid : Module
{
    /// <summary>Creates the layer with PyTorch's options and defaults.</summary>
    public Hardsigmoid(bool inplace = false)
    {
        Inplace = inplace;
    }

    /// <summary>The <c>inplace</c> option.</summary>
    public bool Inplace { get; }

    /// <summary>Applies the activation (PyTorch: <c>forward</c>).</summary>
    public Tensor Forward(Tensor input) => Functional.Hardsigmoid(input);

    /// <inheritdoc/>
    protected override string ExtraRepr() => Inplace ? "inplace=True" : "";
}

/// <summary>Applies Hardswish (PyTorch: <c>torch.nn.Hardswish</c>).</summary>
[Module]
public sealed partial class Hardswish : Module
{
    /// <summary>Creates the layer with PyTorch's options and defaults.</summary>
    public Hardswish(bool inplace = false)
    {
        Inplace = inplace;
    }

    /// <summary>The <c>inplace</c> option.</summary>
    public bool Inplace { get; }

    /// <summary>Applies the activation (PyTorch: <c>forward</c>).</summary>
    public Tensor Forward(Tensor input) => Functional.Hardswish(input);

    /// <inheritdoc/>
    protected override string ExtraRepr() => Inplace ? "inplace=True" : "";
}
/// <summary>Applies Softshrink elementwise (PyTorch: <c>torch.nn.Softshrink</c>).</summary>
[Module]
public sealed partial class Softshrink : Module
{
    /// <summary>Creates the layer with PyTorch's options and defaults.</summary>
    public Softshrink(double lambd = OpDefaults.Softshrink.Lambd)
    {
        Lambd = lambd;
    }

    /// <summary>The <c>lambd</c> option.</summary>
    public double Lambd { get; }

    /// <summary>Applies the activation (PyTorch: <c>forward</c>).</summary>
    public Tensor Forward(Tensor input) => Functional.Softshrink(input, Lambd);

    /// <inheritdoc/>
    protected override string ExtraRepr() => PyRepr.Float(Lambd);
}

/// <summary>Applies Hardshrink elementwise (PyTorch: <c>torch.nn.Hardshrink</c>).</summary>
[Module]
public sealed partial class Hardshrink : Module
{
    /// <summary>Creates the layer with PyTorch's options and defaults.</summary>
    public Hardshrink(double lambd = OpDefaults.Hardshrink.Lambd)
    {
        Lambd = lambd;
    }

    /// <summary>The <c>lambd</c> option.</summary>
    public double Lambd { get; }

    /// <summary>Applies the activation (PyTorch: <c>forward</c>).</summary>
    public Tensor Forward(Tensor input) => Functional.Hardshrink(input, Lambd);

    /// <inheritdoc/>
    protected override string ExtraRepr() => PyRepr.Float(Lambd);
}

/// <summary>The gated linear unit along a dimension (PyTorch: <c>torch.nn.GLU</c>).</summary>
[Module]
public sealed partial class GLU : Module
{
    /// <summary>Creates the layer with PyTorch's options and defaults.</summary>
    public GLU(int dim = OpDefaults.Glu.Dim)
    {
        Dim = dim;
    }

    /// <summary>The <c>dim</c> option: the dimension halved.</summary>
    public int Dim { get; }

    /// <summary>Applies the activation (PyTorch: <c>forward</c>).</summary>
    public Tensor Forward(Tensor input) => Functional.Glu(input, Dim);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"dim={Dim}";
}

/// <summary>
/// PReLU with a learnable slope for negative inputs, one for all channels or one per channel (dim 1) (PyTorch:
/// <c>torch.nn.PReLU</c>).
/// </summary>
[Module]
public sealed partial class PReLU : Module
{
    /// <summary>Creates the layer (PyTorch: <c>nn.PReLU(num_parameters, init)</c>): every slope starts at <paramref name="init"/>.</summary>
    public PReLU(int numParameters = OpDefaults.Prelu.NumParameters, double init = OpDefaults.Prelu.Init, DType dtype = DType.Float32)
    {
        if (numParameters < 1)
        {
            throw new ArgumentException($"PReLU: num_parameters must be at least 1 (one slope, or one per channel), but got {numParameters}.", nameof(numParameters));
        }
        NumParameters = numParameters;
        Init = init;
        Weight = new Parameter(Tensor.Full([numParameters], init, dtype));
    }

    /// <summary>The number of slopes (PyTorch: <c>num_parameters</c>).</summary>
    public int NumParameters { get; }

    /// <summary>The initial slope (PyTorch: <c>init</c>).</summary>
    public double Init { get; }

    /// <summary>The slopes [num_parameters] (PyTorch: <c>weight</c>).</summary>
    public Parameter Weight { get; }

    /// <summary>Applies the activation (PyTorch: <c>forward</c>).</summary>
    public Tensor Forward(Tensor input) => Functional.Prelu(input, Weight);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"num_parameters={NumParameters}";
}

/// <summary>Formats numbers the way Python's repr does in PyTorch's module reprs.</summary>
file static class PyRepr
{
    public static string Float(double v)
    {
        if (v == Math.Floor(v) && Math.Abs(v) < 1e16) return v.ToString("F1", CultureInfo.InvariantCulture);
        return v.ToString("R", CultureInfo.InvariantCulture);
    }
}
