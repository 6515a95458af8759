#if SAMPLE_OPTIMIZER_STUB
namespace SharpGrad.Optimizers;

/// <summary>Stand-in for the runtime's optimizer base class until it is merged (only its shape matters to SG2004).</summary>
public abstract class Optimizer
{
    public abstract void Step();

    public void ZeroGrad(bool setToNone = true)
    {
    }
}

/// <summary>Stand-in for the runtime's SGD.</summary>
public sealed class SGD(IEnumerable<Tensor> parameters, double lr) : Optimizer
{
    private readonly List<Tensor> _parameters = parameters.ToList();

    public override void Step()
    {
        foreach (var p in _parameters)
        {
            if (p.Grad is { } g) p.Sub_(g * (float)lr);
        }
    }
}
#endif
