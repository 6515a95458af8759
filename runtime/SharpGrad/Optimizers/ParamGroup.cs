namespace SharpGrad.Optimizers;

/// <summary>
/// A set of parameters with its own hyper-parameters (PyTorch: one entry of <c>optimizer.param_groups</c>, the dicts
/// passed as <c>[{"params": ..., "lr": ...}]</c>). Options left null take the optimizer's defaults.
/// Hyper-parameters are stored under PyTorch's names (<c>"lr"</c>, <c>"momentum"</c>, <c>"betas"</c>, …) in <see cref="Options"/>.
/// </summary>
public sealed class ParamGroup
{
    private readonly List<Tensor> _params;

    /// <summary>Creates a group; every option given here overrides the optimizer's default for these parameters.</summary>
    /// <param name="parameters">The parameters of the group (PyTorch: <c>"params"</c>).</param>
    /// <param name="lr">Learning rate (PyTorch: <c>"lr"</c>).</param>
    /// <param name="weightDecay">Weight decay (PyTorch: <c>"weight_decay"</c>).</param>
    /// <param name="momentum">Momentum (Sgd, RmsProp) (PyTorch: <c>"momentum"</c>).</param>
    /// <param name="dampening">Dampening (Sgd) (PyTorch: <c>"dampening"</c>).</param>
    /// <param name="nesterov">Nesterov momentum (Sgd) (PyTorch: <c>"nesterov"</c>).</param>
    /// <param name="betas">Adam's coefficients (PyTorch: <c>"betas"</c>).</param>
    /// <param name="eps">Denominator term (PyTorch: <c>"eps"</c>).</param>
    /// <param name="amsgrad">AMSGrad variant (Adam, AdamW) (PyTorch: <c>"amsgrad"</c>).</param>
    /// <param name="alpha">Smoothing constant (RmsProp) (PyTorch: <c>"alpha"</c>).</param>
    /// <param name="centered">Centered RmsProp (PyTorch: <c>"centered"</c>).</param>
    /// <param name="lrDecay">Learning-rate decay (Adagrad) (PyTorch: <c>"lr_decay"</c>).</param>
    /// <param name="initialAccumulatorValue">Adagrad's initial sum (PyTorch: <c>"initial_accumulator_value"</c>).</param>
    /// <param name="maximize">Maximise instead of minimise (PyTorch: <c>"maximize"</c>).</param>
    /// <param name="rho">Adadelta's running-average coefficient (PyTorch: <c>"rho"</c>).</param>
    /// <param name="momentumDecay">NAdam's momentum decay ψ (PyTorch: <c>"momentum_decay"</c>).</param>
    public ParamGroup(IEnumerable<Tensor> parameters, double? lr = null, double? weightDecay = null, double? momentum = null,
        double? dampening = null, bool? nesterov = null, (double Beta1, double Beta2)? betas = null, double? eps = null,
        bool? amsgrad = null, double? alpha = null, bool? centered = null, double? lrDecay = null,
        double? initialAccumulatorValue = null, bool? maximize = null, double? rho = null, double? momentumDecay = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        _params = parameters.ToList();
        Set("lr", lr);
        Set("weight_decay", weightDecay);
        Set("momentum", momentum);
        Set("dampening", dampening);
        Set("nesterov", nesterov);
        if (betas is { } b) Options["betas"] = b;
        Set("eps", eps);
        Set("amsgrad", amsgrad);
        Set("alpha", alpha);
        Set("centered", centered);
        Set("lr_decay", lrDecay);
        Set("initial_accumulator_value", initialAccumulatorValue);
        Set("maximize", maximize);
        Set("rho", rho);
        Set("momentum_decay", momentumDecay);
    }

    private void Set(string name, double? value)
    {
        if (value is { } v) Options[name] = v;
    }

    private void Set(string name, bool? value)
    {
        if (value is { } v) Options[name] = v;
    }

    /// <summary>The parameters of this group (PyTorch: <c>group["params"]</c>).</summary>
    public IReadOnlyList<Tensor> Params => _params;

    /// <summary>
    /// The hyper-parameters by PyTorch name: <c>double</c> values, <c>bool</c> flags and <c>"betas"</c> as a
    /// <c>(double, double)</c> tuple (PyTorch: the other keys of the group dict). Schedulers add <c>"initial_lr"</c> and similar.
    /// </summary>
    public Dictionary<string, object> Options { get; } = new();

    /// <summary>The learning rate of this group; LR schedulers set it (PyTorch: <c>group["lr"]</c>).</summary>
    public double Lr
    {
        get => GetDouble("lr");
        set => Options["lr"] = value;
    }

    /// <summary>Weight decay (PyTorch: <c>group["weight_decay"]</c>).</summary>
    public double WeightDecay
    {
        get => GetDouble("weight_decay");
        set => Options["weight_decay"] = value;
    }

    /// <summary>Momentum of SGD/RmsProp; OneCycleLR cycles it (PyTorch: <c>group["momentum"]</c>).</summary>
    public double Momentum
    {
        get => GetDouble("momentum");
        set => Options["momentum"] = value;
    }

    /// <summary>Adam's (β1, β2); OneCycleLR cycles β1 (PyTorch: <c>group["betas"]</c>).</summary>
    public (double Beta1, double Beta2) Betas
    {
        get => Options.TryGetValue("betas", out var v) && v is ValueTuple<double, double> t ? t : throw Missing("betas");
        set => Options["betas"] = value;
    }

    /// <summary>True if the group has a hyper-parameter named <paramref name="name"/> (PyTorch: <c>name in group</c>).</summary>
    public bool Has(string name) => Options.ContainsKey(name);

    /// <summary>Reads a numeric hyper-parameter by PyTorch name (PyTorch: <c>group[name]</c>).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public double GetDouble(string name) => Options.TryGetValue(name, out var v)
        ? v switch { double d => d, float f => f, int i => i, long l => l, bool b => b ? 1 : 0, _ => throw new InvalidOperationException($"Param group option '{name}' is not a number (it is {v}).") }
        : throw Missing(name);

    /// <summary>Reads a flag by PyTorch name (PyTorch: <c>group[name]</c>).</summary>
    public bool GetBool(string name) => Options.TryGetValue(name, out var v)
        ? v switch { bool b => b, double d => d != 0, _ => throw new InvalidOperationException($"Param group option '{name}' is not a flag (it is {v}).") }
        : throw Missing(name);

    private static KeyNotFoundException Missing(string name) =>
        new($"This param group has no option '{name}'. Options are filled in from the optimizer's defaults when the group is passed to an optimizer.");
}
