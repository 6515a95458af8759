namespace SharpGrad.Optimizers;

/// <summary>
/// What the Adam family (<see cref="Adam"/>, <see cref="AdamW"/>, <see cref="Adamax"/>, <see cref="RAdam"/>,
/// <see cref="NAdam"/>) shares: the options lr, betas, eps, weight_decay and maximize in PyTorch's order with PyTorch's
/// default betas, their checks, and how a step reads them from a parameter group. PyTorch has no such class (each of its
/// Adam-style optimizers repeats these options); it cannot be derived from outside SharpGrad.
/// </summary>
public abstract class AdamFamily : Optimizer
{
    /// <summary>PyTorch's default <c>betas=(0.9, 0.999)</c>.</summary>
    private static readonly (double, double) DefaultBetas = (0.9, 0.999);

    /// <summary>The family's options, then <paramref name="options"/> (the optimizer's own, e.g. <c>amsgrad</c>), then maximize.</summary>
    private protected AdamFamily(IEnumerable<Tensor> parameters, double lr, (double, double)? betas, double eps, double weightDecay, bool maximize,
        params (string Key, object Value)[] options)
        : base(parameters, FamilyDefaults(lr, betas, eps, weightDecay, maximize, options))
    {
    }

    /// <summary>The same for parameter groups whose options override these defaults.</summary>
    private protected AdamFamily(IEnumerable<ParamGroup> groups, double lr, (double, double)? betas, double eps, double weightDecay, bool maximize,
        params (string Key, object Value)[] options)
        : base(groups, FamilyDefaults(lr, betas, eps, weightDecay, maximize, options))
    {
    }

    private static Dictionary<string, object> FamilyDefaults(double lr, (double, double)? betas, double eps, double weightDecay, bool maximize, (string, object)[] options)
        => D([("lr", lr), ("betas", betas ?? DefaultBetas), ("eps", eps), ("weight_decay", weightDecay), .. options, ("maximize", maximize)]);

    /// <inheritdoc/>
    protected override void Validate(ParamGroup g)
    {
        CheckNonNegative(g, "lr", "learning rate");
        CheckNonNegative(g, "eps", "epsilon value");
        CheckBetas(g);
        CheckNonNegative(g, "weight_decay", "weight_decay value");
    }

    /// <summary>A group's shared options (maximize is false in a group saved before the option existed).</summary>
    private protected readonly record struct FamilyOptions(double Lr, double Beta1, double Beta2, double Eps, double WeightDecay, bool Maximize);

    /// <summary>
    /// One step of the group, the same for every member: for each parameter with a gradient, its state ("step" first, as
    /// PyTorch orders it, then what <see cref="AddMissingState"/> adds), the new step count, then the member's
    /// <see cref="Update"/>. The state tensors' and the parameter's version counters move, as PyTorch's in-place updates
    /// make them.
    /// </summary>
    protected sealed override void StepGroup(ParamGroup g)
    {
        var (b1, b2) = g.Betas;
        var o = new FamilyOptions(g.Lr, b1, b2, g.GetDouble("eps"), g.WeightDecay, g.Has("maximize") && g.GetBool("maximize"));
        // Index loop: foreach over the IReadOnlyList would box an enumerator on every step.
        var ps = g.Params;
        for (int pi = 0; pi < ps.Count; pi++)
        {
            var p = ps[pi];
            if (p.GradInternal is null) continue;
            var grad = PrepareGrad(p);
            var st = GetState(p, out bool created);
            if (created) st["step"] = NewStep();
            AddMissingState(g, p, st);
            double step = IncrementStep(st["step"]);
            foreach (var (key, t) in st)
            {
                if (key != "step") t.Storage.Version++;
            }
            Update(g, o, p, grad, st, step);
            p.Storage.Version++;
        }
    }

    /// <summary>
    /// Adds the state entries the member keeps beside "step" that <paramref name="state"/> lacks (all of them on the first
    /// step; an optional one, like Adam's <c>max_exp_avg_sq</c>, in a state loaded without it), in PyTorch's order.
    /// </summary>
    private protected abstract void AddMissingState(ParamGroup g, Tensor p, Dictionary<string, Tensor> state);

    /// <summary>Updates <paramref name="p"/> and its state in place from <paramref name="grad"/> at step <paramref name="step"/> (1 on the first step).</summary>
    private protected abstract void Update(ParamGroup g, in FamilyOptions o, Tensor p, Tensor grad, Dictionary<string, Tensor> state, double step);

    /// <summary>Adds a zero tensor shaped like <paramref name="p"/> under <paramref name="key"/> unless the state has one.</summary>
    private protected static void AddZeros(Dictionary<string, Tensor> state, string key, Tensor p)
    {
        if (!state.ContainsKey(key)) state[key] = ZerosLike(p);
    }
}
