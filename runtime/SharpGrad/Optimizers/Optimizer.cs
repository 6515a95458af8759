using System.Globalization;
using System.Numerics;

namespace SharpGrad.Optimizers;

/// <summary>
/// The state of an optimizer as plain objects (PyTorch: the dict returned by <c>optimizer.state_dict()</c>):
/// per-parameter state tensors keyed by the parameter's index (counting through the groups in order), and the
/// hyper-parameters of every group with <c>"params"</c> listing the indices of its parameters.
/// </summary>
public sealed class OptimizerStateDict
{
    /// <summary>Per-parameter state, keyed by parameter index (PyTorch: <c>state_dict()["state"]</c>), e.g. <c>"exp_avg"</c>, <c>"step"</c>.</summary>
    public Dictionary<int, Dictionary<string, Tensor>> State { get; } = new();

    /// <summary>
    /// One dict per group (PyTorch: <c>state_dict()["param_groups"]</c>): hyper-parameters by PyTorch name
    /// (<c>double</c>, <c>bool</c>, <c>(double, double)</c> for betas) and <c>"params"</c> as an <c>int[]</c> of indices.
    /// </summary>
    public List<Dictionary<string, object>> ParamGroups { get; } = new();
}

/// <summary>
/// Base class of the optimizers (PyTorch: <c>torch.optim.Optimizer</c>). Holds the parameter groups and the
/// per-parameter state; subclasses implement <see cref="Step()"/> on the raw arrays of each parameter.
/// </summary>
public abstract class Optimizer
{
    private readonly List<ParamGroup> _groups = new();
    private readonly Dictionary<Tensor, Dictionary<string, Tensor>> _state = new(ReferenceEqualityComparer.Instance);

    /// <summary>Creates an optimizer for one group of <paramref name="parameters"/> with the given defaults.</summary>
    protected Optimizer(IEnumerable<Tensor> parameters, Dictionary<string, object> defaults)
        : this([new ParamGroup(parameters ?? throw new ArgumentNullException(nameof(parameters)))], defaults)
    {
    }

    /// <summary>Creates an optimizer for several parameter groups; options missing from a group take the defaults.</summary>
    protected Optimizer(IEnumerable<ParamGroup> groups, Dictionary<string, object> defaults)
    {
        ArgumentNullException.ThrowIfNull(groups);
        Defaults = defaults;
        foreach (var g in groups) AddParamGroup(g);
        if (_groups.Count == 0)
        {
            throw new ArgumentException($"{Name}: got an empty parameter list; pass the parameters to optimize, e.g. model.Parameters().");
        }
    }

    /// <summary>The optimizer's name in error messages (PyTorch's class name).</summary>
    protected abstract string Name { get; }

    /// <summary>The default hyper-parameters by PyTorch name (PyTorch: <c>optimizer.defaults</c>).</summary>
    public IReadOnlyDictionary<string, object> Defaults { get; }

    /// <summary>The parameter groups (PyTorch: <c>optimizer.param_groups</c>). Schedulers change their <see cref="ParamGroup.Lr"/>.</summary>
    public IReadOnlyList<ParamGroup> ParamGroups => _groups;

    /// <summary>Adds a group; options it leaves out take the defaults (PyTorch: <c>add_param_group</c>).</summary>
    public void AddParamGroup(ParamGroup group)
    {
        ArgumentNullException.ThrowIfNull(group);
        foreach (var (k, v) in Defaults) group.Options.TryAdd(k, v);
        foreach (var p in group.Params)
        {
            if (p is null) throw new ArgumentException($"{Name}: a parameter list contains null.");
            if (!p.DType.IsFloatingPoint())
            {
                throw new ArgumentException($"{Name} can only optimize floating-point tensors, but got a {p.DType} tensor of shape {ShapeUtil.Format(p._shape)}.");
            }
            if (!p.IsLeaf)
            {
                throw new ArgumentException($"{Name} can't optimize a non-leaf tensor (shape {ShapeUtil.Format(p._shape)}, created by {p.GradFn?.Name}); optimize the leaf parameters, or Detach() the tensor and set RequiresGrad.");
            }
            foreach (var other in _groups)
            {
                if (other.Params.Any(q => ReferenceEquals(q, p)))
                {
                    throw new ArgumentException($"{Name}: some parameters appear in more than one parameter group (a tensor of shape {ShapeUtil.Format(p._shape)}).");
                }
            }
        }
        if (group.Params.Count == 0) throw new ArgumentException($"{Name}: a parameter group has no parameters.");
        Validate(group);
        _groups.Add(group);
    }

    /// <summary>Checks a group's hyper-parameters, throwing an <see cref="ArgumentException"/> that names a bad value.</summary>
    protected abstract void Validate(ParamGroup group);

    /// <summary>Performs one optimization step on every parameter that has a gradient (PyTorch: <c>optimizer.step()</c>).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public void Step()
    {
        using (Autograd.NoGrad())
        {
            foreach (var group in _groups) StepGroup(group);
        }
    }

    /// <summary>
    /// Re-evaluates the model with <paramref name="closure"/> (which should zero the gradients, compute the loss and call
    /// Backward), then performs one step; returns the closure's loss (PyTorch: <c>optimizer.step(closure)</c>).
    /// </summary>
    public virtual Tensor Step(Func<Tensor> closure)
    {
        ArgumentNullException.ThrowIfNull(closure);
        Tensor loss;
        using (Autograd.EnableGrad())
        {
            loss = closure();
        }
        Step();
        return loss;
    }

    /// <summary>Updates the parameters of one group.</summary>
    protected abstract void StepGroup(ParamGroup group);

    /// <summary>
    /// Clears the gradients of all parameters (PyTorch: <c>optimizer.zero_grad(set_to_none=True)</c>): sets them to null,
    /// or fills them with zeros when <paramref name="setToNone"/> is false.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public void ZeroGrad(bool setToNone = true)
    {
        foreach (var g in _groups)
        {
            // Index loop: foreach over the IReadOnlyList would box an enumerator (ZeroGrad allocates nothing).
            var ps = g.Params;
            for (int i = 0; i < ps.Count; i++)
            {
                var p = ps[i];
                if (p.GradInternal is not { } grad) continue;
                if (setToNone)
                {
                    p.ReleaseGrad();
                }
                else
                {
                    if (grad.GradFn is not null) p.Grad = grad = grad.Detach();
                    grad.FillUnchecked(0);
                    grad.Storage.Version++;
                }
            }
        }
    }

    /// <summary>The state tensors of <paramref name="parameter"/> (empty before its first step) (PyTorch: <c>optimizer.state[p]</c>).</summary>
    public IReadOnlyDictionary<string, Tensor> StateOf(Tensor parameter) =>
        _state.TryGetValue(parameter, out var s) ? s : new Dictionary<string, Tensor>();

    /// <summary>The state of <paramref name="p"/>, created on first use.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    protected Dictionary<string, Tensor> GetState(Tensor p, out bool created)
    {
        created = !_state.TryGetValue(p, out var s);
        if (created) _state[p] = s = new Dictionary<string, Tensor>();
        return s!;
    }

    /// <summary>
    /// Snapshots the optimizer state (PyTorch: <c>optimizer.state_dict()</c>); tensors are copied, so later steps do
    /// not change the snapshot.
    /// </summary>
    public OptimizerStateDict StateDict()
    {
        BeforeStateDict();
        var result = new OptimizerStateDict();
        int index = 0;
        foreach (var g in _groups)
        {
            var dict = new Dictionary<string, object>(g.Options);
            var ids = new int[g.Params.Count];
            for (int i = 0; i < ids.Length; i++, index++)
            {
                ids[i] = index;
                if (_state.TryGetValue(g.Params[i], out var s))
                {
                    result.State[index] = s.ToDictionary(kv => kv.Key, kv => kv.Value.Detach().Clone());
                }
            }
            dict["params"] = ids;
            result.ParamGroups.Add(dict);
        }
        return result;
    }

    /// <summary>
    /// Restores state saved by <see cref="StateDict"/> (PyTorch: <c>optimizer.load_state_dict()</c>): group
    /// hyper-parameters and per-parameter state, matched by position. The groups must have the same sizes.
    /// </summary>
    public void LoadStateDict(OptimizerStateDict stateDict)
    {
        ArgumentNullException.ThrowIfNull(stateDict);
        if (stateDict.ParamGroups.Count != _groups.Count)
        {
            throw new ArgumentException($"{Name}.LoadStateDict: the state dict has {stateDict.ParamGroups.Count} parameter group(s), but this optimizer has {_groups.Count}.");
        }
        var byIndex = new Dictionary<int, Tensor>();
        for (int gi = 0; gi < _groups.Count; gi++)
        {
            var saved = stateDict.ParamGroups[gi];
            if (!saved.TryGetValue("params", out var idsObj) || idsObj is not int[] ids)
            {
                throw new ArgumentException($"{Name}.LoadStateDict: parameter group {gi} has no \"params\" entry (an int[] of parameter indices).");
            }
            var group = _groups[gi];
            if (ids.Length != group.Params.Count)
            {
                throw new ArgumentException($"{Name}.LoadStateDict: parameter group {gi} of the state dict has {ids.Length} parameter(s), but this optimizer's group {gi} has {group.Params.Count}; the groups must have the same sizes.");
            }
            for (int i = 0; i < ids.Length; i++) byIndex[ids[i]] = group.Params[i];
        }
        // Check everything before changing anything.
        foreach (var (index, entries) in stateDict.State)
        {
            if (!byIndex.TryGetValue(index, out var p))
            {
                throw new ArgumentException($"{Name}.LoadStateDict: the state dict has state for parameter index {index}, which no parameter group lists.");
            }
            foreach (var (key, t) in entries)
            {
                if (IsParameterShapedState(key) && !ShapeUtil.SameShape(t._shape, p._shape))
                {
                    throw new ArgumentException($"{Name}.LoadStateDict: state '{key}' of parameter {index} has shape {ShapeUtil.Format(t._shape)}, but the parameter has shape {ShapeUtil.Format(p._shape)}.");
                }
            }
        }
        for (int gi = 0; gi < _groups.Count; gi++)
        {
            var group = _groups[gi];
            group.Options.Clear();
            foreach (var (k, v) in stateDict.ParamGroups[gi])
            {
                if (k != "params") group.Options[k] = v;
            }
        }
        _state.Clear();
        foreach (var (index, entries) in stateDict.State)
        {
            var p = byIndex[index];
            _state[p] = entries.ToDictionary(kv => kv.Key, kv => kv.Value.Detach().To(LoadedStateDType(kv.Key, p)).Contiguous().Clone());
        }
        AfterLoadStateDict();
    }

    /// <summary>
    /// True if the state entry <paramref name="key"/> has its parameter's shape (<see cref="LoadStateDict"/> checks it);
    /// false for scalars such as <c>"step"</c>.
    /// </summary>
    protected virtual bool IsParameterShapedState(string key) => key != "step";

    /// <summary>The dtype <see cref="LoadStateDict"/> gives a state entry: Float32 for <c>"step"</c> (PyTorch's 0-d float counter), the parameter's dtype otherwise.</summary>
    protected virtual DType LoadedStateDType(string key, Tensor parameter) => key == "step" ? DType.Float32 : parameter.DType;

    /// <summary>Called by <see cref="StateDict"/> first: an optimizer that keeps state outside the per-parameter tensors writes it there.</summary>
    protected virtual void BeforeStateDict()
    {
    }

    /// <summary>Called at the end of <see cref="LoadStateDict"/>: an optimizer that keeps state outside the per-parameter tensors reads it back.</summary>
    protected virtual void AfterLoadStateDict()
    {
    }

    // ---------------- helpers for the update kernels ----------------

    /// <summary>Reads a step counter (a Float32 scalar tensor, like PyTorch's <c>state["step"]</c>).</summary>
    protected static double ReadStep(Tensor step) => step.GetAsDouble(step.Offset);

    /// <summary>Adds one to a step counter and returns the new count.</summary>
    protected static double IncrementStep(Tensor step)
    {
        var data = step.Data<float>();
        data[step.Offset] += 1;
        step.Storage.Version++;
        return data[step.Offset];
    }

    /// <summary>A new step counter at zero.</summary>
    protected static Tensor NewStep() => Tensor.Wrap(new float[1]);

    /// <summary>A zero tensor with the parameter's shape and dtype.</summary>
    protected static Tensor ZerosLike(Tensor p) => Tensor.Empty(p._shape, p.DType);

    /// <summary>
    /// Checks a parameter and returns its gradient, contiguous, in the parameter's dtype and shape.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    protected Tensor PrepareGrad(Tensor p)
    {
        var grad = p.GradInternal!;
        if (!p.IsContiguous)
        {
            throw new InvalidOperationException($"{Name}: parameters must be contiguous, but one of shape {ShapeUtil.Format(p._shape)} has strides {ShapeUtil.Format(p._strides)}; make it a contiguous leaf (e.g. new Parameter(t.Contiguous())).");
        }
        if (grad.DType != p.DType)
        {
            throw new InvalidOperationException($"{Name}: the gradient of a {p.DType} parameter of shape {ShapeUtil.Format(p._shape)} has dtype {grad.DType}; they must match.");
        }
        if (!ShapeUtil.SameShape(grad._shape, p._shape))
        {
            throw new InvalidOperationException($"{Name}: a parameter of shape {ShapeUtil.Format(p._shape)} has a gradient of shape {ShapeUtil.Format(grad._shape)}.");
        }
        return grad.Contiguous();
    }

    /// <summary>The elements of a contiguous tensor as a span.</summary>
    protected static Span<T> S<T>(Tensor t) where T : unmanaged => t.Span<T>();

    internal static string Fmt(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>Throws unless the option is ≥ 0, naming the option and the value.</summary>
    protected void CheckNonNegative(ParamGroup g, string option, string description)
    {
        double v = g.GetDouble(option);
        if (!(v >= 0)) throw new ArgumentException($"{Name}: invalid {description}: {Fmt(v)} (option '{option}'); it must be >= 0.");
    }

    /// <summary>Throws unless both betas are in [0, 1).</summary>
    protected void CheckBetas(ParamGroup g)
    {
        var (b1, b2) = g.Betas;
        if (!(b1 >= 0 && b1 < 1)) throw new ArgumentException($"{Name}: invalid beta parameter at index 0: {Fmt(b1)}; betas must be in [0, 1).");
        if (!(b2 >= 0 && b2 < 1)) throw new ArgumentException($"{Name}: invalid beta parameter at index 1: {Fmt(b2)}; betas must be in [0, 1).");
    }

    /// <summary>Builds a defaults dictionary from PyTorch names and values.</summary>
    protected static Dictionary<string, object> D(params (string Key, object Value)[] entries)
    {
        var d = new Dictionary<string, object>();
        foreach (var (k, v) in entries) d[k] = v;
        return d;
    }

    /// <summary>Converts to the element type.</summary>
    protected static T C<T>(double v) where T : INumberBase<T> => T.CreateChecked(v);
}
