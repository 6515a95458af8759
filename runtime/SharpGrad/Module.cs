using System.ComponentModel;
using System.Text;

namespace SharpGrad;

/// <summary>
/// The base of every network and layer (PyTorch: <c>torch.nn.Module</c>). Mark a <c>partial</c> class <c>[Module]</c> and the
/// generator derives it from this class and lists its children, parameters and buffers from its fields at build time —
/// no reflection. Names follow PyTorch's state-dict names (fields in snake_case: <c>RunningMean</c> → <c>running_mean</c>).
/// </summary>
public abstract partial class Module
{
    private List<Func<Module, Tensor[], Tensor[]?>?>? _forwardPreHooks;
    private List<Func<Module, Tensor[], Tensor, Tensor?>?>? _forwardHooks;
    private List<Func<Module, Tensor?[], Tensor?[], Tensor?[]?>?>? _backwardHooks;
    private int _hookCount;

    /// <summary>True in training mode (the default), false after <see cref="Eval"/> (PyTorch: <c>training</c>).</summary>
    public bool Training { get; private set; } = true;

    // ---------------- what the generator writes ----------------

    /// <summary>The direct children, in declaration order (PyTorch: <c>named_children()</c>). Generated for <c>[Module]</c> classes.</summary>
    public virtual IEnumerable<(string Name, Module Module)> NamedChildren() => [];

    /// <summary>This module's own parameters, not its children's, in declaration order. Generated for <c>[Module]</c> classes.</summary>
    protected virtual IEnumerable<(string Name, Parameter Parameter)> NamedDirectParameters() => [];

    /// <summary>This module's own buffers (fields marked <see cref="BufferAttribute"/>), in declaration order. Generated.</summary>
    protected virtual IEnumerable<(string Name, Tensor Buffer)> NamedDirectBuffers() => [];

    /// <summary>
    /// Runs <c>Forward</c> on inputs given as an array; generated for <c>[Module]</c> classes whose <c>Forward</c> takes tensors
    /// and returns a tensor. Used by <see cref="Call"/>, <c>Sequential</c> and <c>ModuleList</c>.
    /// </summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected virtual Tensor ForwardDynamic(Tensor[] inputs)
        => throw new NotSupportedException(
            $"{GetType().Name} has no Forward(Tensor…) → Tensor method that SharpGrad can call for you. Give it one, or call its own method directly.");

    // ---------------- the plumbing built on it ----------------

    /// <summary>The direct children (PyTorch: <c>children()</c>).</summary>
    public IEnumerable<Module> Children() => NamedChildren().Select(c => c.Module);

    /// <summary>This module and every descendant, depth first, with dotted names; this module is "" (PyTorch: <c>named_modules()</c>).</summary>
    public IEnumerable<(string Name, Module Module)> NamedModules(string prefix = "")
    {
        var seen = new HashSet<Module>(ReferenceEqualityComparer.Instance);
        return NamedModulesCore(prefix, seen);
    }

    private IEnumerable<(string Name, Module Module)> NamedModulesCore(string prefix, HashSet<Module> seen)
    {
        if (!seen.Add(this)) yield break;
        yield return (prefix, this);
        foreach (var (name, child) in NamedChildren())
        {
            foreach (var item in child.NamedModulesCore(prefix.Length == 0 ? name : prefix + "." + name, seen))
            {
                yield return item;
            }
        }
    }

    /// <summary>This module and every descendant (PyTorch: <c>modules()</c>).</summary>
    public IEnumerable<Module> Modules() => NamedModules().Select(m => m.Module);

    /// <summary>
    /// Every parameter with its dotted name, this module's own first, then each child's in order (PyTorch: <c>named_parameters()</c>).
    /// A parameter shared by two modules is listed once.
    /// </summary>
    public IEnumerable<(string Name, Tensor Value)> NamedParameters(bool recurse = true)
    {
        var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        foreach (var (prefix, module) in recurse ? NamedModules() : [("", this)])
        {
            foreach (var (name, p) in module.NamedDirectParameters())
            {
                if (p is null || !seen.Add(p)) continue;
                yield return (prefix.Length == 0 ? name : prefix + "." + name, p);
            }
        }
    }

    /// <summary>Every parameter (PyTorch: <c>parameters()</c>); pass them to an optimizer.</summary>
    public IEnumerable<Tensor> Parameters(bool recurse = true) => NamedParameters(recurse).Select(p => p.Value);

    /// <summary>Every buffer with its dotted name, e.g. BatchNorm's <c>running_mean</c> (PyTorch: <c>named_buffers()</c>).</summary>
    public IEnumerable<(string Name, Tensor Value)> NamedBuffers(bool recurse = true)
    {
        var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        foreach (var (prefix, module) in recurse ? NamedModules() : [("", this)])
        {
            foreach (var (name, b) in module.NamedDirectBuffers())
            {
                if (b is null || !seen.Add(b)) continue;
                yield return (prefix.Length == 0 ? name : prefix + "." + name, b);
            }
        }
    }

    /// <summary>Every buffer (PyTorch: <c>buffers()</c>).</summary>
    public IEnumerable<Tensor> Buffers(bool recurse = true) => NamedBuffers(recurse).Select(b => b.Value);

    /// <summary>Calls <paramref name="fn"/> on every descendant, children first, then on this module (PyTorch: <c>apply(fn)</c>).</summary>
    public Module Apply(Action<Module> fn)
    {
        ArgumentNullException.ThrowIfNull(fn);
        foreach (var child in Children()) child.Apply(fn);
        fn(this);
        return this;
    }

    /// <summary>Sets training mode on this module and every descendant (PyTorch: <c>train(mode)</c>).</summary>
    public Module Train(bool mode = true)
    {
        Training = mode;
        foreach (var child in Children()) child.Train(mode);
        return this;
    }

    /// <summary>Sets evaluation mode: Dropout passes through, BatchNorm uses running stats (PyTorch: <c>eval()</c>).</summary>
    public Module Eval() => Train(false);

    /// <summary>Resets every parameter's gradient: to null by default, like PyTorch ≥ 2 (PyTorch: <c>zero_grad(set_to_none)</c>).</summary>
    public void ZeroGrad(bool setToNone = true)
    {
        foreach (var p in Parameters())
        {
            if (p.GradInternal is not { } grad) continue;
            if (setToNone) p.ReleaseGrad();
            else
            {
                using (Autograd.NoGrad()) grad.Zero_();
            }
        }
    }

    /// <summary>A one-line description of this layer's settings, shown by <see cref="ToString"/> (PyTorch: <c>extra_repr()</c>).</summary>
    protected virtual string ExtraRepr() => "";

    /// <summary>The module tree in PyTorch's format, e.g. <c>Sequential(\n  (0): Linear(in_features=1, …)\n)</c>.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append(GetType().Name).Append('(').Append(ExtraRepr());
        bool any = false;
        foreach (var (name, child) in NamedChildren())
        {
            any = true;
            var inner = child.ToString().Replace("\n", "\n  ");
            sb.Append("\n  (").Append(name).Append("): ").Append(inner);
        }
        if (any) sb.Append('\n');
        sb.Append(')');
        return sb.ToString();
    }

    // ---------------- calling with hooks ----------------

    /// <summary>True if any forward or backward hook is registered on this module.</summary>
    public bool HasHooks => _hookCount > 0;

    /// <summary>Runs <c>Forward</c> with this module's hooks (PyTorch: <c>module(x)</c>).</summary>
    public Tensor Call(params Tensor[] inputs) => DispatchForward(this, inputs, static (m, xs) => m.ForwardDynamic(xs));

    /// <summary>
    /// Runs <paramref name="forward"/> on <paramref name="module"/> with its forward pre-hooks, forward hooks and backward
    /// hooks — what PyTorch's <c>Module.__call__</c> does. With no hooks it is a direct call. Generated code calls this.
    /// </summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public static Tensor DispatchForward<TModule>(TModule module, Tensor input, Func<TModule, Tensor, Tensor> forward)
        where TModule : Module
    {
        if (module._hookCount == 0) return forward(module, input);
        return module.RunWithHooks([input], xs => forward(module, xs[0]));
    }

    /// <summary>Multi-input form of <see cref="DispatchForward{TModule}(TModule, Tensor, Func{TModule, Tensor, Tensor})"/>.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public static Tensor DispatchForward<TModule>(TModule module, Tensor[] inputs, Func<TModule, Tensor[], Tensor> forward)
        where TModule : Module
    {
        if (module._hookCount == 0) return forward(module, inputs);
        return module.RunWithHooks(inputs, xs => forward(module, xs));
    }

    private Tensor RunWithHooks(Tensor[] inputs, Func<Tensor[], Tensor> forward)
    {
        if (RunForwardPreHooks(inputs) is { } replacedInputs) inputs = replacedInputs;

        BackwardHookState? state = null;
        if (_backwardHooks is { Count: > 0 } && Autograd.IsGradEnabled && HasBackwardHooksCore())
        {
            state = new BackwardHookState(this, inputs.Length);
            inputs = state.WrapInputs(inputs);
        }

        var output = forward(inputs);

        if (RunForwardHooks(inputs, output) is { } replacedOutput) output = replacedOutput;
        if (state is not null) output = state.WrapOutput(output);
        return output;
    }

    /// <summary>True if a forward pre-hook or a forward hook is registered (no allocation; for compiled code).</summary>
    internal bool HasForwardHooksCore() => _hookCount > 0 && (AnyHook(_forwardPreHooks) || AnyHook(_forwardHooks));

    /// <summary>True if a full backward hook is registered (no allocation; for compiled code).</summary>
    internal bool HasBackwardHooksCore() => _hookCount > 0 && AnyHook(_backwardHooks);

    private static bool AnyHook<THook>(List<THook?>? hooks) where THook : class
    {
        if (hooks is null) return false;
        for (int i = 0; i < hooks.Count; i++)
        {
            if (hooks[i] is not null) return true;
        }
        return false;
    }

    /// <summary>
    /// Runs the forward pre-hooks in registration order, each seeing the inputs the previous ones left; returns the
    /// replaced inputs, or null when no hook replaced them.
    /// </summary>
    internal Tensor[]? RunForwardPreHooks(Tensor[] inputs)
    {
        if (_forwardPreHooks is not { } pre) return null;
        Tensor[]? result = null;
        foreach (var hook in pre.ToArray())
        {
            if (hook?.Invoke(this, inputs) is { } replaced)
            {
                inputs = replaced;
                result = replaced;
            }
        }
        return result;
    }

    /// <summary>Runs the forward hooks in registration order; returns the replaced output, or null when none replaced it.</summary>
    internal Tensor? RunForwardHooks(Tensor[] inputs, Tensor output)
    {
        if (_forwardHooks is not { } post) return null;
        Tensor? result = null;
        foreach (var hook in post.ToArray())
        {
            if (hook?.Invoke(this, inputs, output) is { } replaced)
            {
                output = replaced;
                result = replaced;
            }
        }
        return result;
    }

    /// <summary>
    /// Runs the full backward hooks in registration order, each seeing the input gradients the previous ones left;
    /// returns the last replacement (one gradient per input), or null when no hook replaced them.
    /// </summary>
    internal Tensor?[]? RunBackwardHooks(Tensor?[] gradInputs, Tensor?[] gradOutputs)
    {
        if (_backwardHooks is not { } hooks) return null;
        var current = (Tensor?[])gradInputs.Clone();
        Tensor?[]? result = null;
        foreach (var hook in hooks.ToArray())
        {
            if (hook?.Invoke(this, (Tensor?[])current.Clone(), gradOutputs) is { } replaced)
            {
                if (replaced.Length != current.Length)
                {
                    throw new InvalidOperationException(
                        $"A full backward hook on {GetType().Name} returned {replaced.Length} gradients, but the module has {current.Length} input(s); return one per input (or null to keep them).");
                }
                result = replaced;
                Array.Copy(replaced, current, replaced.Length);
            }
        }
        return result;
    }

    /// <summary>
    /// Registers a hook run before <c>Forward</c>; it may return replacement inputs (PyTorch: <c>register_forward_pre_hook</c>).
    /// </summary>
    public HookHandle RegisterForwardPreHook(Func<Module, Tensor[], Tensor[]?> hook) => AddHook(_forwardPreHooks ??= [], hook);

    /// <summary>Registers an observing hook run before <c>Forward</c>.</summary>
    public HookHandle RegisterForwardPreHook(Action<Module, Tensor[]> hook)
    {
        ArgumentNullException.ThrowIfNull(hook);
        return RegisterForwardPreHook((m, x) => { hook(m, x); return null; });
    }

    /// <summary>
    /// Registers a hook run after <c>Forward</c> with the inputs and output; it may return a replacement output
    /// (PyTorch: <c>register_forward_hook</c>).
    /// </summary>
    public HookHandle RegisterForwardHook(Func<Module, Tensor[], Tensor, Tensor?> hook) => AddHook(_forwardHooks ??= [], hook);

    /// <summary>Registers an observing hook run after <c>Forward</c>.</summary>
    public HookHandle RegisterForwardHook(Action<Module, Tensor[], Tensor> hook)
    {
        ArgumentNullException.ThrowIfNull(hook);
        return RegisterForwardHook((m, x, y) => { hook(m, x, y); return null; });
    }

    /// <summary>
    /// Registers a hook run when the gradients with respect to this module's inputs are computed, with
    /// <c>(module, gradInput, gradOutput)</c>; it may return replacement input gradients (PyTorch: <c>register_full_backward_hook</c>).
    /// Entries of gradInput are null for inputs that do not require grad.
    /// </summary>
    public HookHandle RegisterFullBackwardHook(Func<Module, Tensor?[], Tensor?[], Tensor?[]?> hook) => AddHook(_backwardHooks ??= [], hook);

    /// <summary>Registers an observing full backward hook.</summary>
    public HookHandle RegisterFullBackwardHook(Action<Module, Tensor?[], Tensor?[]> hook)
    {
        ArgumentNullException.ThrowIfNull(hook);
        return RegisterFullBackwardHook((m, gi, go) => { hook(m, gi, go); return null; });
    }

    private HookHandle AddHook<THook>(List<THook?> list, THook hook) where THook : class
    {
        ArgumentNullException.ThrowIfNull(hook);
        list.Add(hook);
        _hookCount++;
        int index = list.Count - 1;
        return new HookHandle(() =>
        {
            if (list[index] is null) return;
            list[index] = null;
            _hookCount--;
        });
    }

    /// <summary>Collects the output gradient and the input gradients of one call, then runs the backward hooks.</summary>
    private sealed class BackwardHookState(Module module, int inputCount)
    {
        private readonly Tensor?[] _gradInputs = new Tensor?[inputCount];
        private Tensor?[] _gradOutputs = [null];
        private int _pendingInputs;

        public Tensor[] WrapInputs(Tensor[] inputs)
        {
            var wrapped = (Tensor[])inputs.Clone();
            for (int i = 0; i < inputs.Length; i++)
            {
                if (!inputs[i].RequiresGrad) continue;
                _pendingInputs++;
                int index = i;
                wrapped[i] = Tensor.Record(inputs[i].Alias(), "BackwardHookFunctionBackward", [inputs[i]], (g, n) => [OnInputGrad(index, g)]);
            }
            return wrapped;
        }

        public Tensor WrapOutput(Tensor output)
        {
            if (!output.RequiresGrad) return output;
            return Tensor.Record(output.Alias(), "BackwardHookFunctionBackward", [output], (g, n) =>
            {
                g.Storage.Escape();   // kept for the hooks (user code): the caching allocator must not take it back
                _gradOutputs = [g];
                if (_pendingInputs == 0) Run();
                return [g];
            });
        }

        private Tensor OnInputGrad(int index, Tensor g)
        {
            g.Storage.Escape();   // kept for the hooks (user code)
            _gradInputs[index] = g;
            if (--_pendingInputs == 0)
            {
                var replaced = Run();
                if (replaced is not null && index < replaced.Length && replaced[index] is { } r) return r;
            }
            return g;
        }

        private Tensor?[]? Run()
        {
            var result = module.RunBackwardHooks(_gradInputs, _gradOutputs);
            if (result is not null) Array.Copy(result, _gradInputs, result.Length);
            return result;
        }
    }
}
