namespace SharpGrad.Optimizers;

/// <summary>
/// Base class of the learning-rate schedulers (PyTorch: <c>torch.optim.lr_scheduler.LRScheduler</c>). Constructing a
/// scheduler sets each group's <c>"initial_lr"</c> and applies the epoch-0 learning rate; each <see cref="Step"/> advances
/// one epoch (or one batch, for <see cref="OneCycleLR"/>) and writes the new rates into the optimizer's groups.
/// These schedulers use PyTorch's closed-form values.
/// </summary>
public abstract class LRScheduler
{
    private double[] _lastLr = [];

    /// <summary>Attaches to <paramref name="optimizer"/> and applies the learning rate for epoch <paramref name="lastEpoch"/> + 1.</summary>
    /// <param name="optimizer">The optimizer whose groups' learning rates are scheduled.</param>
    /// <param name="lastEpoch">The index of the last epoch when resuming (PyTorch: <c>last_epoch</c>); -1 starts fresh.</param>
    protected LRScheduler(Optimizer optimizer, int lastEpoch)
    {
        Optimizer = optimizer ?? throw new ArgumentNullException(nameof(optimizer));
        for (int i = 0; i < optimizer.ParamGroups.Count; i++)
        {
            var g = optimizer.ParamGroups[i];
            if (lastEpoch == -1) g.Options.TryAdd("initial_lr", g.Lr);
            else if (!g.Has("initial_lr"))
            {
                throw new ArgumentException($"{GetType().Name}: param 'initial_lr' is not specified in param_groups[{i}] when resuming (lastEpoch = {lastEpoch}); start with lastEpoch = -1 or load the scheduler's state.");
            }
        }
        BaseLrs = optimizer.ParamGroups.Select(g => g.GetDouble("initial_lr")).ToArray();
        LastEpoch = lastEpoch;
    }

    /// <summary>Call at the end of a derived constructor: performs PyTorch's initial step.</summary>
    protected void Initialize() => Step();

    /// <summary>The scheduled optimizer (PyTorch: <c>scheduler.optimizer</c>).</summary>
    public Optimizer Optimizer { get; }

    /// <summary>Each group's starting learning rate (PyTorch: <c>base_lrs</c>).</summary>
    public double[] BaseLrs { get; protected set; }

    /// <summary>The number of the current epoch/step (PyTorch: <c>last_epoch</c>).</summary>
    public int LastEpoch { get; protected set; }

    /// <summary>Advances one epoch and sets the groups' learning rates (PyTorch: <c>scheduler.step()</c>).</summary>
    public virtual void Step()
    {
        LastEpoch++;
        Apply();
    }

    /// <summary>
    /// Jumps to <paramref name="epoch"/> and applies its closed-form rates (PyTorch: the deprecated <c>scheduler.step(epoch)</c>,
    /// which <see cref="SequentialLR"/> calls with 0 at each milestone).
    /// </summary>
    internal virtual void StepTo(int epoch)
    {
        LastEpoch = epoch;
        Apply();
    }

    /// <summary>Moves back one epoch without changing any rate (what <see cref="SequentialLR"/> does to its schedulers when it is built).</summary>
    internal void Rewind() => LastEpoch--;

    /// <summary>Sets each group's learning rate to <see cref="ComputeLr"/> at <see cref="LastEpoch"/>, then runs <see cref="AfterStep"/>.</summary>
    protected void Apply()
    {
        var groups = Optimizer.ParamGroups;
        var lrs = new double[groups.Count];
        for (int i = 0; i < groups.Count; i++)
        {
            lrs[i] = ComputeLr(i, LastEpoch);
            groups[i].Lr = lrs[i];
        }
        AfterStep();
        _lastLr = lrs;
    }

    /// <summary>Records what <see cref="GetLastLr"/> returns (for schedulers that set the rates themselves).</summary>
    protected void SetLastLr(IReadOnlyList<double> lrs) => _lastLr = lrs.ToArray();

    /// <summary>The learning rate of group <paramref name="group"/> at epoch <paramref name="epoch"/> (closed form).</summary>
    protected abstract double ComputeLr(int group, int epoch);

    /// <summary>Hook for schedulers that also set other hyper-parameters (momentum).</summary>
    protected virtual void AfterStep()
    {
    }

    /// <summary>The learning rates the last <see cref="Step"/> set, one per group (PyTorch: <c>get_last_lr()</c>).</summary>
    public IReadOnlyList<double> GetLastLr() => _lastLr;

    /// <summary>
    /// The scheduler's state (PyTorch: <c>scheduler.state_dict()</c>): <c>"last_epoch"</c> (int), <c>"base_lrs"</c> and
    /// <c>"_last_lr"</c> (double[]), plus each scheduler's own settings under PyTorch's names.
    /// </summary>
    public virtual Dictionary<string, object> StateDict() => new()
    {
        ["last_epoch"] = LastEpoch,
        ["base_lrs"] = (double[])BaseLrs.Clone(),
        ["_last_lr"] = _lastLr.ToArray(),
    };

    /// <summary>Restores state saved by <see cref="StateDict"/> (PyTorch: <c>scheduler.load_state_dict()</c>); the optimizer's lrs are not changed.</summary>
    public virtual void LoadStateDict(Dictionary<string, object> state)
    {
        ArgumentNullException.ThrowIfNull(state);
        LastEpoch = Get<int>(state, "last_epoch");
        BaseLrs = (double[])Get<double[]>(state, "base_lrs").Clone();
        _lastLr = (double[])Get<double[]>(state, "_last_lr").Clone();
    }

    /// <summary>Reads an entry of a scheduler state dict, with a clear error when it is missing or of the wrong type.</summary>
    protected T Get<T>(Dictionary<string, object> state, string key)
    {
        if (!state.TryGetValue(key, out var v)) throw new ArgumentException($"{GetType().Name}.LoadStateDict: the state dict has no '{key}' entry.");
        if (v is T t) return t;
        throw new ArgumentException($"{GetType().Name}.LoadStateDict: entry '{key}' should be a {typeof(T).Name}, but is {v?.GetType().Name ?? "null"}.");
    }

    internal static string Fmt(double v) => Optimizer.Fmt(v);
}

/// <summary>Multiplies the learning rate by <c>gamma</c> every <c>stepSize</c> epochs: lr = base·γ^⌊epoch/stepSize⌋ (PyTorch: <c>StepLR</c>).</summary>
public sealed class StepLR : LRScheduler
{
    /// <summary>Creates the scheduler (PyTorch: <c>StepLR(optimizer, step_size, gamma=0.1, last_epoch=-1)</c>).</summary>
    public StepLR(Optimizer optimizer, int stepSize, double gamma = 0.1, int lastEpoch = -1) : base(optimizer, lastEpoch)
    {
        if (stepSize <= 0) throw new ArgumentException($"StepLR: stepSize must be a positive integer, but got {stepSize}.");
        StepSize = stepSize;
        Gamma = gamma;
        Initialize();
    }

    /// <summary>Period of decay in epochs (PyTorch: <c>step_size</c>).</summary>
    public int StepSize { get; private set; }

    /// <summary>Multiplicative factor (PyTorch: <c>gamma</c>).</summary>
    public double Gamma { get; private set; }

    /// <inheritdoc/>
    protected override double ComputeLr(int group, int epoch) => BaseLrs[group] * Math.Pow(Gamma, Math.Floor((double)epoch / StepSize));

    /// <inheritdoc/>
    public override Dictionary<string, object> StateDict()
    {
        var d = base.StateDict();
        d["step_size"] = StepSize;
        d["gamma"] = Gamma;
        return d;
    }

    /// <inheritdoc/>
    public override void LoadStateDict(Dictionary<string, object> state)
    {
        base.LoadStateDict(state);
        StepSize = Get<int>(state, "step_size");
        Gamma = Get<double>(state, "gamma");
    }
}

/// <summary>Multiplies the learning rate by <c>gamma</c> at each milestone epoch (PyTorch: <c>MultiStepLR</c>).</summary>
public sealed class MultiStepLR : LRScheduler
{
    /// <summary>Creates the scheduler (PyTorch: <c>MultiStepLR(optimizer, milestones, gamma=0.1, last_epoch=-1)</c>).</summary>
    public MultiStepLR(Optimizer optimizer, IEnumerable<int> milestones, double gamma = 0.1, int lastEpoch = -1) : base(optimizer, lastEpoch)
    {
        ArgumentNullException.ThrowIfNull(milestones);
        Milestones = milestones.Order().ToArray();
        Gamma = gamma;
        Initialize();
    }

    /// <summary>The epochs at which the rate decays, sorted (PyTorch: <c>milestones</c>).</summary>
    public int[] Milestones { get; private set; }

    /// <summary>Multiplicative factor (PyTorch: <c>gamma</c>).</summary>
    public double Gamma { get; private set; }

    /// <inheritdoc/>
    protected override double ComputeLr(int group, int epoch)
    {
        int passed = 0;
        foreach (var m in Milestones) if (m <= epoch) passed++;
        return BaseLrs[group] * Math.Pow(Gamma, passed);
    }

    /// <inheritdoc/>
    public override Dictionary<string, object> StateDict()
    {
        var d = base.StateDict();
        d["milestones"] = Milestones.ToArray();
        d["gamma"] = Gamma;
        return d;
    }

    /// <inheritdoc/>
    public override void LoadStateDict(Dictionary<string, object> state)
    {
        base.LoadStateDict(state);
        Milestones = Get<int[]>(state, "milestones").Order().ToArray();
        Gamma = Get<double>(state, "gamma");
    }
}

/// <summary>Multiplies the learning rate by <c>gamma</c> every epoch: lr = base·γ^epoch (PyTorch: <c>ExponentialLR</c>).</summary>
public sealed class ExponentialLR : LRScheduler
{
    /// <summary>Creates the scheduler (PyTorch: <c>ExponentialLR(optimizer, gamma, last_epoch=-1)</c>).</summary>
    public ExponentialLR(Optimizer optimizer, double gamma, int lastEpoch = -1) : base(optimizer, lastEpoch)
    {
        Gamma = gamma;
        Initialize();
    }

    /// <summary>Multiplicative factor (PyTorch: <c>gamma</c>).</summary>
    public double Gamma { get; private set; }

    /// <inheritdoc/>
    protected override double ComputeLr(int group, int epoch) => BaseLrs[group] * Math.Pow(Gamma, epoch);

    /// <inheritdoc/>
    public override Dictionary<string, object> StateDict()
    {
        var d = base.StateDict();
        d["gamma"] = Gamma;
        return d;
    }

    /// <inheritdoc/>
    public override void LoadStateDict(Dictionary<string, object> state)
    {
        base.LoadStateDict(state);
        Gamma = Get<double>(state, "gamma");
    }
}

/// <summary>
/// Cosine annealing: lr = η_min + (base − η_min)·(1 + cos(π·epoch/T_max))/2 (PyTorch: <c>CosineAnnealingLR</c>; this is the
/// closed form of PyTorch's recursive update).
/// </summary>
public sealed class CosineAnnealingLR : LRScheduler
{
    /// <summary>Creates the scheduler (PyTorch: <c>CosineAnnealingLR(optimizer, T_max, eta_min=0, last_epoch=-1)</c>).</summary>
    public CosineAnnealingLR(Optimizer optimizer, int tMax, double etaMin = 0, int lastEpoch = -1) : base(optimizer, lastEpoch)
    {
        if (tMax <= 0) throw new ArgumentException($"CosineAnnealingLR: tMax must be a positive integer, but got {tMax}.");
        TMax = tMax;
        EtaMin = etaMin;
        Initialize();
    }

    /// <summary>Half-period in epochs (PyTorch: <c>T_max</c>).</summary>
    public int TMax { get; private set; }

    /// <summary>Minimum learning rate (PyTorch: <c>eta_min</c>).</summary>
    public double EtaMin { get; private set; }

    /// <inheritdoc/>
    protected override double ComputeLr(int group, int epoch) =>
        EtaMin + (BaseLrs[group] - EtaMin) * (1 + Math.Cos(Math.PI * epoch / TMax)) / 2;

    /// <inheritdoc/>
    public override Dictionary<string, object> StateDict()
    {
        var d = base.StateDict();
        d["T_max"] = TMax;
        d["eta_min"] = EtaMin;
        return d;
    }

    /// <inheritdoc/>
    public override void LoadStateDict(Dictionary<string, object> state)
    {
        base.LoadStateDict(state);
        TMax = Get<int>(state, "T_max");
        EtaMin = Get<double>(state, "eta_min");
    }
}

/// <summary>How <see cref="OneCycleLR"/> anneals between phase endpoints (PyTorch: <c>anneal_strategy</c>).</summary>
public enum AnnealStrategy
{
    /// <summary>Cosine annealing (PyTorch: <c>'cos'</c>).</summary>
    Cos,
    /// <summary>Linear annealing (PyTorch: <c>'linear'</c>).</summary>
    Linear,
}

/// <summary>
/// The 1cycle policy (PyTorch: <c>OneCycleLR</c>): the learning rate rises from maxLr/divFactor to maxLr and then
/// anneals to maxLr/(divFactor·finalDivFactor), while momentum (or Adam's β1) cycles inversely between
/// maxMomentum and baseMomentum. Step it after every batch.
/// </summary>
public sealed class OneCycleLR : LRScheduler
{
    private readonly record struct Phase(double EndStep, string StartLr, string EndLr, string StartMomentum, string EndMomentum);

    private readonly Phase[] _phases;
    private readonly bool _useBeta1;

    /// <summary>
    /// Creates the scheduler (PyTorch: <c>OneCycleLR(optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None,
    /// pct_start=0.3, anneal_strategy='cos', cycle_momentum=True, base_momentum=0.85, max_momentum=0.95, div_factor=25,
    /// final_div_factor=1e4, three_phase=False, last_epoch=-1)</c>). Give <paramref name="totalSteps"/>, or
    /// <paramref name="epochs"/> and <paramref name="stepsPerEpoch"/>.
    /// </summary>
    public OneCycleLR(Optimizer optimizer, double maxLr, int? totalSteps = null, int? epochs = null, int? stepsPerEpoch = null,
        double pctStart = 0.3, AnnealStrategy annealStrategy = AnnealStrategy.Cos, bool cycleMomentum = true,
        double baseMomentum = 0.85, double maxMomentum = 0.95, double divFactor = 25, double finalDivFactor = 1e4,
        bool threePhase = false, int lastEpoch = -1)
        : this(optimizer, Enumerable.Repeat(maxLr, optimizer?.ParamGroups.Count ?? 0).ToArray(), totalSteps, epochs, stepsPerEpoch,
            pctStart, annealStrategy, cycleMomentum, baseMomentum, maxMomentum, divFactor, finalDivFactor, threePhase, lastEpoch)
    {
    }

    /// <summary>As the other constructor, with one maximum learning rate per parameter group.</summary>
    public OneCycleLR(Optimizer optimizer, double[] maxLrs, int? totalSteps = null, int? epochs = null, int? stepsPerEpoch = null,
        double pctStart = 0.3, AnnealStrategy annealStrategy = AnnealStrategy.Cos, bool cycleMomentum = true,
        double baseMomentum = 0.85, double maxMomentum = 0.95, double divFactor = 25, double finalDivFactor = 1e4,
        bool threePhase = false, int lastEpoch = -1)
        : base(Prepare(optimizer, maxLrs, divFactor, finalDivFactor, lastEpoch), lastEpoch)
    {
        if (totalSteps is { } t)
        {
            if (t <= 0) throw new ArgumentException($"OneCycleLR: expected a positive integer totalSteps, but got {t}.");
            TotalSteps = t;
        }
        else if (epochs is { } e && stepsPerEpoch is { } s)
        {
            if (e <= 0) throw new ArgumentException($"OneCycleLR: expected a positive integer epochs, but got {e}.");
            if (s <= 0) throw new ArgumentException($"OneCycleLR: expected a positive integer stepsPerEpoch, but got {s}.");
            TotalSteps = e * s;
        }
        else
        {
            throw new ArgumentException("OneCycleLR: you must define either totalSteps, or epochs and stepsPerEpoch.");
        }
        if (!(pctStart >= 0 && pctStart <= 1)) throw new ArgumentException($"OneCycleLR: expected a float between 0 and 1 for pctStart, but got {Fmt(pctStart)}.");
        AnnealStrategy = annealStrategy;
        CycleMomentum = cycleMomentum;
        ThreePhase = threePhase;
        _phases = threePhase
            ?
            [
                new(pctStart * TotalSteps - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                new(2 * pctStart * TotalSteps - 2, "max_lr", "initial_lr", "base_momentum", "max_momentum"),
                new(TotalSteps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"),
            ]
            :
            [
                new(pctStart * TotalSteps - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                new(TotalSteps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"),
            ];
        if (cycleMomentum)
        {
            var defaults = optimizer.Defaults;
            if (!defaults.ContainsKey("momentum") && !defaults.ContainsKey("betas"))
            {
                throw new ArgumentException($"OneCycleLR: optimizer {optimizer.GetType().Name} has neither 'momentum' nor 'betas', so momentum can't be cycled; pass cycleMomentum: false.");
            }
            _useBeta1 = defaults.ContainsKey("betas");
            foreach (var g in optimizer.ParamGroups)
            {
                if (lastEpoch == -1)
                {
                    SetMomentum(g, maxMomentum);
                    g.Options["base_momentum"] = baseMomentum;
                    g.Options["max_momentum"] = maxMomentum;
                }
            }
        }
        Initialize();
    }

    private static Optimizer Prepare(Optimizer optimizer, double[] maxLrs, double divFactor, double finalDivFactor, int lastEpoch)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(maxLrs);
        if (maxLrs.Length != optimizer.ParamGroups.Count)
        {
            throw new ArgumentException($"OneCycleLR: expected {optimizer.ParamGroups.Count} values for maxLr (one per param group), but got {maxLrs.Length}.");
        }
        if (lastEpoch == -1)
        {
            for (int i = 0; i < maxLrs.Length; i++)
            {
                var g = optimizer.ParamGroups[i];
                double initial = maxLrs[i] / divFactor;
                g.Options["initial_lr"] = initial;
                g.Options["max_lr"] = maxLrs[i];
                g.Options["min_lr"] = initial / finalDivFactor;
            }
        }
        return optimizer;
    }

    /// <summary>Total number of steps in the cycle (PyTorch: <c>total_steps</c>).</summary>
    public int TotalSteps { get; }

    /// <summary>Cosine or linear annealing (PyTorch: <c>anneal_strategy</c>).</summary>
    public AnnealStrategy AnnealStrategy { get; }

    /// <summary>Whether momentum/β1 is cycled (PyTorch: <c>cycle_momentum</c>).</summary>
    public bool CycleMomentum { get; }

    /// <summary>Whether the three-phase schedule is used (PyTorch: <c>three_phase</c>).</summary>
    public bool ThreePhase { get; }

    private void SetMomentum(ParamGroup g, double m)
    {
        if (_useBeta1) g.Betas = (m, g.Betas.Beta2);
        else g.Momentum = m;
    }

    private double Anneal(double start, double end, double pct) => AnnealStrategy == AnnealStrategy.Cos
        ? end + (start - end) / 2 * (Math.Cos(Math.PI * pct) + 1)
        : (end - start) * pct + start;

    private (double Lr, double Momentum) Compute(ParamGroup g, int step)
    {
        if (step > TotalSteps)
        {
            throw new InvalidOperationException($"OneCycleLR: tried to step {step} times, but the total number of steps is {TotalSteps}; create the scheduler with a larger totalSteps (or epochs × stepsPerEpoch).");
        }
        double start = 0;
        for (int i = 0; i < _phases.Length; i++)
        {
            var ph = _phases[i];
            if (step <= ph.EndStep || i == _phases.Length - 1)
            {
                double pct = (step - start) / (ph.EndStep - start);
                double lr = Anneal(g.GetDouble(ph.StartLr), g.GetDouble(ph.EndLr), pct);
                double m = CycleMomentum ? Anneal(g.GetDouble(ph.StartMomentum), g.GetDouble(ph.EndMomentum), pct) : double.NaN;
                return (lr, m);
            }
            start = ph.EndStep;
        }
        throw new InvalidOperationException("unreachable");
    }

    /// <inheritdoc/>
    protected override double ComputeLr(int group, int epoch) => Compute(Optimizer.ParamGroups[group], epoch).Lr;

    /// <inheritdoc/>
    protected override void AfterStep()
    {
        if (!CycleMomentum) return;
        foreach (var g in Optimizer.ParamGroups) SetMomentum(g, Compute(g, LastEpoch).Momentum);
    }

    /// <inheritdoc/>
    public override Dictionary<string, object> StateDict()
    {
        var d = base.StateDict();
        d["total_steps"] = TotalSteps;
        d["anneal_strategy"] = AnnealStrategy == AnnealStrategy.Cos ? "cos" : "linear";
        d["cycle_momentum"] = CycleMomentum;
        d["use_beta1"] = _useBeta1;
        d["three_phase"] = ThreePhase;
        return d;
    }
}
