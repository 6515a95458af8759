namespace SharpGrad.Optimizers;

/// <summary>Whether <see cref="ReduceLROnPlateau"/> watches a quantity that should fall or rise (PyTorch: <c>mode</c>).</summary>
public enum PlateauMode
{
    /// <summary>Reduce when the metric stops decreasing (PyTorch: <c>'min'</c>), e.g. a loss.</summary>
    Min,
    /// <summary>Reduce when the metric stops increasing (PyTorch: <c>'max'</c>), e.g. an accuracy.</summary>
    Max,
}

/// <summary>How <see cref="ReduceLROnPlateau"/> decides that a value improves on the best (PyTorch: <c>threshold_mode</c>).</summary>
public enum ThresholdMode
{
    /// <summary>Relative: better than best·(1 ∓ threshold) (PyTorch: <c>'rel'</c>).</summary>
    Rel,
    /// <summary>Absolute: better than best ∓ threshold (PyTorch: <c>'abs'</c>).</summary>
    Abs,
}

/// <summary>
/// Reduces the learning rate by <c>factor</c> when a metric has stopped improving for more than <c>patience</c> epochs
/// (PyTorch: <c>torch.optim.lr_scheduler.ReduceLROnPlateau</c>, same rules: threshold, cooldown, per-group minimum, eps).
/// Call <see cref="Step(double)"/> once per epoch with the validation metric.
/// </summary>
public sealed class ReduceLROnPlateau
{
    private readonly double[] _minLrs;
    private double[] _lastLr;

    /// <summary>
    /// Creates the scheduler (PyTorch: <c>ReduceLROnPlateau(optimizer, mode='min', factor=0.1, patience=10, threshold=1e-4,
    /// threshold_mode='rel', cooldown=0, min_lr=0, eps=1e-8)</c>). <paramref name="minLrs"/>, when given, holds one minimum per
    /// parameter group (PyTorch: a list for <c>min_lr</c>) and replaces <paramref name="minLr"/>.
    /// </summary>
    public ReduceLROnPlateau(Optimizer optimizer, PlateauMode mode = PlateauMode.Min, double factor = 0.1, int patience = 10, double threshold = 1e-4,
        ThresholdMode thresholdMode = ThresholdMode.Rel, int cooldown = 0, double minLr = 0, double eps = 1e-8, IReadOnlyList<double>? minLrs = null)
    {
        Optimizer = optimizer ?? throw new ArgumentNullException(nameof(optimizer));
        if (!(factor < 1)) throw new ArgumentException($"ReduceLROnPlateau: factor should be < 1.0, but got {Optimizer.Fmt(factor)}.");
        if (patience < 0) throw new ArgumentException($"ReduceLROnPlateau: patience must be >= 0, but got {patience}.");
        if (cooldown < 0) throw new ArgumentException($"ReduceLROnPlateau: cooldown must be >= 0, but got {cooldown}.");
        if (minLrs is not null && minLrs.Count != optimizer.ParamGroups.Count)
        {
            throw new ArgumentException($"ReduceLROnPlateau: expected {optimizer.ParamGroups.Count} min_lrs (one per param group), but got {minLrs.Count}.");
        }
        _minLrs = minLrs?.ToArray() ?? Enumerable.Repeat(minLr, optimizer.ParamGroups.Count).ToArray();
        Mode = mode;
        Factor = factor;
        Patience = patience;
        Threshold = threshold;
        ThresholdMode = thresholdMode;
        Cooldown = cooldown;
        Eps = eps;
        Best = ModeWorse;
        _lastLr = optimizer.ParamGroups.Select(g => g.Lr).ToArray();
    }

    /// <summary>The scheduled optimizer (PyTorch: <c>optimizer</c>).</summary>
    public Optimizer Optimizer { get; }

    /// <summary>Min or max (PyTorch: <c>mode</c>).</summary>
    public PlateauMode Mode { get; }

    /// <summary>The factor the rate is multiplied by (PyTorch: <c>factor</c>).</summary>
    public double Factor { get; }

    /// <summary>The number of epochs without improvement that are tolerated (PyTorch: <c>patience</c>).</summary>
    public int Patience { get; }

    /// <summary>The margin a value must beat the best by to count as an improvement (PyTorch: <c>threshold</c>).</summary>
    public double Threshold { get; }

    /// <summary>Relative or absolute threshold (PyTorch: <c>threshold_mode</c>).</summary>
    public ThresholdMode ThresholdMode { get; }

    /// <summary>The number of epochs to wait after a reduction before counting bad epochs again (PyTorch: <c>cooldown</c>).</summary>
    public int Cooldown { get; }

    /// <summary>A reduction smaller than this is skipped (PyTorch: <c>eps</c>).</summary>
    public double Eps { get; }

    /// <summary>The per-group lower bounds of the rate (PyTorch: <c>min_lrs</c>).</summary>
    public IReadOnlyList<double> MinLrs => _minLrs;

    /// <summary>The best metric seen (PyTorch: <c>best</c>); ±∞ before the first step.</summary>
    public double Best { get; private set; }

    /// <summary>Consecutive epochs without improvement (PyTorch: <c>num_bad_epochs</c>).</summary>
    public int NumBadEpochs { get; private set; }

    /// <summary>Epochs left in the current cooldown (PyTorch: <c>cooldown_counter</c>).</summary>
    public int CooldownCounter { get; private set; }

    /// <summary>The number of steps taken (PyTorch: <c>last_epoch</c>).</summary>
    public int LastEpoch { get; private set; }

    /// <summary>True while a cooldown is running (PyTorch: <c>in_cooldown</c>).</summary>
    public bool InCooldown => CooldownCounter > 0;

    private double ModeWorse => Mode == PlateauMode.Min ? double.PositiveInfinity : double.NegativeInfinity;

    /// <summary>Records one epoch's metric and reduces the rates after more than <see cref="Patience"/> bad epochs (PyTorch: <c>step(metrics)</c>).</summary>
    public void Step(double metrics)
    {
        LastEpoch++;
        if (IsBetter(metrics, Best))
        {
            Best = metrics;
            NumBadEpochs = 0;
        }
        else
        {
            NumBadEpochs++;
        }
        if (InCooldown)
        {
            CooldownCounter--;
            NumBadEpochs = 0; // ignore any bad epochs in cooldown
        }
        if (NumBadEpochs > Patience)
        {
            ReduceLr();
            CooldownCounter = Cooldown;
            NumBadEpochs = 0;
        }
        _lastLr = Optimizer.ParamGroups.Select(g => g.Lr).ToArray();
    }

    /// <summary>Records one epoch's metric given as a one-element tensor, e.g. a validation loss (PyTorch: <c>step(metrics)</c>).</summary>
    public void Step(Tensor metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        Step(metrics.ItemDouble());
    }

    private void ReduceLr()
    {
        var groups = Optimizer.ParamGroups;
        for (int i = 0; i < groups.Count; i++)
        {
            double oldLr = groups[i].Lr;
            double newLr = Math.Max(oldLr * Factor, _minLrs[i]);
            if (oldLr - newLr > Eps) groups[i].Lr = newLr;
        }
    }

    /// <summary>True if <paramref name="a"/> improves on <paramref name="best"/> by more than the threshold (PyTorch: <c>is_better</c>).</summary>
    public bool IsBetter(double a, double best) => (Mode, ThresholdMode) switch
    {
        (PlateauMode.Min, ThresholdMode.Rel) => a < best * (1 - Threshold),
        (PlateauMode.Min, ThresholdMode.Abs) => a < best - Threshold,
        (PlateauMode.Max, ThresholdMode.Rel) => a > best * (Threshold + 1),
        _ => a > best + Threshold,
    };

    /// <summary>The learning rates after the last step, one per group (PyTorch: <c>get_last_lr()</c>).</summary>
    public IReadOnlyList<double> GetLastLr() => _lastLr;

    /// <summary>The scheduler's counters (PyTorch: <c>state_dict()</c>): <c>best</c>, <c>num_bad_epochs</c>, <c>cooldown_counter</c>, <c>last_epoch</c>, <c>_last_lr</c>.</summary>
    public Dictionary<string, object> StateDict() => new()
    {
        ["best"] = Best,
        ["num_bad_epochs"] = NumBadEpochs,
        ["cooldown_counter"] = CooldownCounter,
        ["last_epoch"] = LastEpoch,
        ["_last_lr"] = _lastLr.ToArray(),
    };

    /// <summary>Restores the counters saved by <see cref="StateDict"/> (PyTorch: <c>load_state_dict()</c>).</summary>
    public void LoadStateDict(Dictionary<string, object> state)
    {
        ArgumentNullException.ThrowIfNull(state);
        T Get<T>(string key) => state.TryGetValue(key, out var v) && v is T t ? t
            : throw new ArgumentException($"ReduceLROnPlateau.LoadStateDict: entry '{key}' is missing or is not a {typeof(T).Name}.");
        Best = Get<double>("best");
        NumBadEpochs = Get<int>("num_bad_epochs");
        CooldownCounter = Get<int>("cooldown_counter");
        LastEpoch = Get<int>("last_epoch");
        _lastLr = (double[])Get<double[]>("_last_lr").Clone();
    }
}
