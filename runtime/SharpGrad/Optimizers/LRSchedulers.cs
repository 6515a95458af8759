namespace SharpGrad.Optimizers;

/// <summary>
/// Sets each group's learning rate to its initial rate times a function of the epoch: lr = base·λ(epoch)
/// (PyTorch: <c>LambdaLR</c>).
/// </summary>
public sealed class LambdaLR : LRScheduler
{
    private readonly Func<int, double>[] _lambdas;

    /// <summary>Creates the scheduler with one function for every group (PyTorch: <c>LambdaLR(optimizer, lr_lambda, last_epoch=-1)</c>).</summary>
    public LambdaLR(Optimizer optimizer, Func<int, double> lrLambda, int lastEpoch = -1)
        : this(optimizer, Enumerable.Repeat(lrLambda ?? throw new ArgumentNullException(nameof(lrLambda)), optimizer?.ParamGroups.Count ?? 0).ToArray(), lastEpoch)
    {
    }

    /// <summary>Creates the scheduler with one function per parameter group (PyTorch: <c>LambdaLR(optimizer, [f0, f1, …])</c>).</summary>
    public LambdaLR(Optimizer optimizer, IReadOnlyList<Func<int, double>> lrLambdas, int lastEpoch = -1) : base(optimizer, lastEpoch)
    {
        ArgumentNullException.ThrowIfNull(lrLambdas);
        if (lrLambdas.Count != optimizer.ParamGroups.Count)
        {
            throw new ArgumentException($"LambdaLR: expected {optimizer.ParamGroups.Count} lr lambdas (one per param group), but got {lrLambdas.Count}.");
        }
        _lambdas = lrLambdas.Select((f, i) => f ?? throw new ArgumentNullException(nameof(lrLambdas), $"LambdaLR: lr lambda {i} is null.")).ToArray();
        Initialize();
    }

    /// <inheritdoc/>
    protected override double ComputeLr(int group, int epoch) => BaseLrs[group] * _lambdas[group](epoch);
}

/// <summary>
/// Changes the learning rate linearly from <c>startFactor</c>·base to <c>endFactor</c>·base over <c>totalIters</c> epochs,
/// then keeps it (PyTorch: <c>LinearLR</c>; the closed form lr = base·(start + (end − start)·min(epoch, total)/total)).
/// </summary>
public sealed class LinearLR : LRScheduler
{
    /// <summary>Creates the scheduler (PyTorch: <c>LinearLR(optimizer, start_factor=1/3, end_factor=1.0, total_iters=5, last_epoch=-1)</c>).</summary>
    public LinearLR(Optimizer optimizer, double startFactor = 1.0 / 3, double endFactor = 1.0, int totalIters = 5, int lastEpoch = -1) : base(optimizer, lastEpoch)
    {
        if (!(startFactor >= 0 && startFactor <= 1)) throw new ArgumentException($"LinearLR: startFactor must be between 0 and 1, but got {Fmt(startFactor)}.");
        if (!(endFactor >= 0 && endFactor <= 1)) throw new ArgumentException($"LinearLR: endFactor must be between 0 and 1, but got {Fmt(endFactor)}.");
        if (totalIters <= 0) throw new ArgumentException($"LinearLR: totalIters must be a positive integer, but got {totalIters}.");
        StartFactor = startFactor;
        EndFactor = endFactor;
        TotalIters = totalIters;
        Initialize();
    }

    /// <summary>The factor at epoch 0 (PyTorch: <c>start_factor</c>).</summary>
    public double StartFactor { get; private set; }

    /// <summary>The factor from epoch <see cref="TotalIters"/> on (PyTorch: <c>end_factor</c>).</summary>
    public double EndFactor { get; private set; }

    /// <summary>The number of epochs of the linear change (PyTorch: <c>total_iters</c>).</summary>
    public int TotalIters { get; private set; }

    /// <inheritdoc/>
    protected override double ComputeLr(int group, int epoch) =>
        BaseLrs[group] * (StartFactor + (EndFactor - StartFactor) * Math.Min(TotalIters, epoch) / TotalIters);

    /// <inheritdoc/>
    public override Dictionary<string, object> StateDict()
    {
        var d = base.StateDict();
        d["start_factor"] = StartFactor;
        d["end_factor"] = EndFactor;
        d["total_iters"] = TotalIters;
        return d;
    }

    /// <inheritdoc/>
    public override void LoadStateDict(Dictionary<string, object> state)
    {
        base.LoadStateDict(state);
        StartFactor = Get<double>(state, "start_factor");
        EndFactor = Get<double>(state, "end_factor");
        TotalIters = Get<int>(state, "total_iters");
    }
}

/// <summary>
/// Runs schedulers one after another: <c>schedulers[i]</c> is in charge from <c>milestones[i - 1]</c> on, and each starts from
/// its epoch 0 at its milestone (PyTorch: <c>SequentialLR</c>, e.g. a linear warm-up followed by cosine annealing).
/// </summary>
public sealed class SequentialLR : LRScheduler
{
    private readonly LRScheduler[] _schedulers;
    private readonly int[] _milestones;

    /// <summary>
    /// Creates the scheduler (PyTorch: <c>SequentialLR(optimizer, schedulers, milestones, last_epoch=-1)</c>). Build the
    /// <paramref name="schedulers"/> on the same optimizer first; this resets the rates to the initial ones and starts the first.
    /// </summary>
    public SequentialLR(Optimizer optimizer, IReadOnlyList<LRScheduler> schedulers, IReadOnlyList<int> milestones, int lastEpoch = -1)
        : base(optimizer, lastEpoch)
    {
        ArgumentNullException.ThrowIfNull(schedulers);
        ArgumentNullException.ThrowIfNull(milestones);
        if (schedulers.Count == 0) throw new ArgumentException("SequentialLR: give at least one scheduler.");
        for (int i = 0; i < schedulers.Count; i++)
        {
            if (schedulers[i] is null) throw new ArgumentNullException(nameof(schedulers), $"SequentialLR: scheduler {i} is null.");
            if (!ReferenceEquals(schedulers[i].Optimizer, optimizer))
            {
                throw new ArgumentException($"SequentialLR expects all schedulers to belong to the same optimizer, but scheduler {i} ({schedulers[i].GetType().Name}) was built on a different one.");
            }
            if (schedulers[i] is SequentialLR) throw new ArgumentException($"SequentialLR: scheduler {i} is itself a SequentialLR, which can't be restarted at a milestone.");
        }
        if (milestones.Count != schedulers.Count - 1)
        {
            throw new ArgumentException($"SequentialLR expects one milestone fewer than schedulers, but got {schedulers.Count} schedulers and {milestones.Count} milestones.");
        }
        for (int i = 1; i < milestones.Count; i++)
        {
            if (milestones[i] < milestones[i - 1]) throw new ArgumentException($"SequentialLR: milestones must be sorted, but got [{string.Join(", ", milestones)}].");
        }
        _schedulers = schedulers.ToArray();
        _milestones = milestones.ToArray();
        LastEpoch = lastEpoch + 1;
        foreach (var g in optimizer.ParamGroups) g.Lr = g.GetDouble("initial_lr");
        foreach (var s in _schedulers) s.Rewind();
        _schedulers[0].Step();
        SetLastLr(_schedulers[0].GetLastLr());
    }

    /// <summary>The schedulers in order (PyTorch: <c>_schedulers</c>).</summary>
    public IReadOnlyList<LRScheduler> Schedulers => _schedulers;

    /// <summary>The epochs at which the next scheduler takes over (PyTorch: <c>_milestones</c>).</summary>
    public IReadOnlyList<int> Milestones => _milestones;

    /// <summary>Advances one epoch: steps the scheduler in charge, restarting it at its milestone (PyTorch: <c>step()</c>).</summary>
    public override void Step()
    {
        LastEpoch++;
        int idx = 0;
        while (idx < _milestones.Length && _milestones[idx] <= LastEpoch) idx++;
        var scheduler = _schedulers[idx];
        if (idx > 0 && _milestones[idx - 1] == LastEpoch) scheduler.StepTo(0);
        else scheduler.Step();
        SetLastLr(scheduler.GetLastLr());
    }

    internal override void StepTo(int epoch) =>
        throw new NotSupportedException("SequentialLR can't jump to an epoch; step it with Step().");

    /// <inheritdoc/>
    protected override double ComputeLr(int group, int epoch) => Optimizer.ParamGroups[group].Lr;

    /// <summary>The state, with each scheduler's own under <c>"_schedulers"</c> (PyTorch: <c>state_dict()</c>).</summary>
    public override Dictionary<string, object> StateDict()
    {
        var d = base.StateDict();
        d["_milestones"] = _milestones.ToArray();
        d["_schedulers"] = _schedulers.Select(s => s.StateDict()).ToList();
        return d;
    }

    /// <inheritdoc/>
    public override void LoadStateDict(Dictionary<string, object> state)
    {
        base.LoadStateDict(state);
        var states = Get<List<Dictionary<string, object>>>(state, "_schedulers");
        if (states.Count != _schedulers.Length)
        {
            throw new ArgumentException($"SequentialLR.LoadStateDict: the state has {states.Count} schedulers, but this SequentialLR has {_schedulers.Length}.");
        }
        for (int i = 0; i < states.Count; i++) _schedulers[i].LoadStateDict(states[i]);
    }
}

/// <summary>
/// Cosine annealing with warm restarts (SGDR): lr = η_min + (base − η_min)·(1 + cos(π·T_cur/T_i))/2, where T_cur counts the
/// epochs since the last restart and the period T_i starts at T_0 and is multiplied by T_mult at each restart
/// (PyTorch: <c>CosineAnnealingWarmRestarts</c>). <see cref="Step(double)"/> takes fractional epochs, e.g. one step per batch.
/// </summary>
public sealed class CosineAnnealingWarmRestarts : LRScheduler
{
    /// <summary>Creates the scheduler (PyTorch: <c>CosineAnnealingWarmRestarts(optimizer, T_0, T_mult=1, eta_min=0, last_epoch=-1)</c>).</summary>
    public CosineAnnealingWarmRestarts(Optimizer optimizer, int t0, int tMult = 1, double etaMin = 0, int lastEpoch = -1) : base(optimizer, lastEpoch)
    {
        if (t0 <= 0) throw new ArgumentException($"CosineAnnealingWarmRestarts: expected a positive integer t0, but got {t0}.");
        if (tMult < 1) throw new ArgumentException($"CosineAnnealingWarmRestarts: expected an integer tMult >= 1, but got {tMult}.");
        T0 = t0;
        Ti = t0;
        TMult = tMult;
        EtaMin = etaMin;
        TCur = lastEpoch;
        Initialize();
    }

    /// <summary>The length of the first period (PyTorch: <c>T_0</c>).</summary>
    public int T0 { get; private set; }

    /// <summary>The length of the current period (PyTorch: <c>T_i</c>).</summary>
    public int Ti { get; private set; }

    /// <summary>The factor by which each period is longer than the previous (PyTorch: <c>T_mult</c>).</summary>
    public int TMult { get; private set; }

    /// <summary>The minimum learning rate (PyTorch: <c>eta_min</c>).</summary>
    public double EtaMin { get; private set; }

    /// <summary>The (possibly fractional) number of epochs since the last restart (PyTorch: <c>T_cur</c>).</summary>
    public double TCur { get; private set; }

    /// <summary>Advances one epoch, restarting when the period ends (PyTorch: <c>step()</c>).</summary>
    public override void Step()
    {
        if (LastEpoch < 0)
        {
            Step(0.0);
            return;
        }
        LastEpoch++;
        TCur += 1;
        if (TCur >= Ti)
        {
            TCur -= Ti;
            Ti *= TMult;
        }
        Apply();
    }

    /// <summary>
    /// Moves to a (fractional) <paramref name="epoch"/>, e.g. <c>epoch + batch / batches</c> after each batch
    /// (PyTorch: <c>step(epoch)</c>).
    /// </summary>
    public void Step(double epoch)
    {
        if (!(epoch >= 0)) throw new ArgumentException($"CosineAnnealingWarmRestarts: expected a non-negative epoch, but got {Fmt(epoch)}.");
        if (epoch >= T0)
        {
            if (TMult == 1)
            {
                TCur = epoch % T0;
            }
            else
            {
                int n = (int)(Math.Log(epoch / T0 * (TMult - 1) + 1) / Math.Log(TMult));
                TCur = epoch - T0 * (Math.Pow(TMult, n) - 1) / (TMult - 1);
                Ti = T0 * (int)Math.Pow(TMult, n);
            }
        }
        else
        {
            Ti = T0;
            TCur = epoch;
        }
        LastEpoch = (int)Math.Floor(epoch);
        Apply();
    }

    internal override void StepTo(int epoch) => Step((double)epoch);

    /// <inheritdoc/>
    protected override double ComputeLr(int group, int epoch) =>
        EtaMin + (BaseLrs[group] - EtaMin) * (1 + Math.Cos(Math.PI * TCur / Ti)) / 2;

    /// <inheritdoc/>
    public override Dictionary<string, object> StateDict()
    {
        var d = base.StateDict();
        d["T_0"] = T0;
        d["T_i"] = Ti;
        d["T_mult"] = TMult;
        d["eta_min"] = EtaMin;
        d["T_cur"] = TCur;
        return d;
    }

    /// <inheritdoc/>
    public override void LoadStateDict(Dictionary<string, object> state)
    {
        base.LoadStateDict(state);
        T0 = Get<int>(state, "T_0");
        Ti = Get<int>(state, "T_i");
        TMult = Get<int>(state, "T_mult");
        EtaMin = Get<double>(state, "eta_min");
        TCur = Get<double>(state, "T_cur");
    }
}
