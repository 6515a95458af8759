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
    private protected static (double Lr, double Beta1, double Beta2, double Eps, double WeightDecay, bool Maximize) Options(ParamGroup g)
    {
        var (b1, b2) = g.Betas;
        return (g.Lr, b1, b2, g.GetDouble("eps"), g.WeightDecay, g.Has("maximize") && g.GetBool("maximize"));
    }
}
