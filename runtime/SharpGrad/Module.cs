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
    private HookList<Func<Module, Tensor[], Tensor[]?>>? _forwardPreHooks;
    private HookList<Func<Module, Tensor[], Tensor, Tensor?>>? _forwardHooks;
    private HookList<Func<Module, Tensor?[], Tensor?[], Tensor?[]?>>? _backwardHooks;
    private HookList<Func<Module, Tensor?[], Tensor?[]?>>? _backwardPreHooks;
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

    /// <summary>
    /// Every child under every name it is registered with, in order — what PyTorch keeps in <c>_modules</c>. The same module
    /// registered twice (e.g. <c>new Sequential(a, b, a)</c>) appears twice; <see cref="NamedChildren"/> of the run-time
    /// containers and of <c>[Module]</c> classes lists it once. State dicts and <c>ToString</c> use this. Generated for
    /// <c>[Module]</c> classes; a class that writes <see cref="NamedChildren"/> by hand need not override it.
    /// </summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected virtual IEnumerable<(string Name, Module Module)> RegisteredChildren() => NamedChildren();

    /// <summary><see cref="RegisteredChildren"/> of <paramref name="module"/> (for the state dict and the architecture writers).</summary>
    internal static IEnumerable<(string Name, Module Module)> RegisteredChildrenOf(Module module) => module.RegisteredChildren();

    /// <summary>Each module of <paramref name="children"/> once, under its first name (PyTorch's <c>named_children()</c> memo).</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected static IEnumerable<(string Name, Module Module)> DistinctChildren(IEnumerable<(string Name, Module Module)> children)
    {
        ArgumentNullException.ThrowIfNull(children);
        var seen = new HashSet<Module>(ReferenceEqualityComparer.Instance);
        foreach (var c in children)
        {
            if (c.Module is not null && seen.Add(c.Module)) yield return c;
        }
    }

    /// <summary>The direct children, each module once even if registered under two names (PyTorch: <c>children()</c>).</summary>
    public IEnumerable<Module> Children()
    {
        var seen = new HashSet<Module>(ReferenceEqualityComparer.Instance);
        foreach (var (_, child) in NamedChildren())
        {
            if (child is not null && seen.Add(child)) yield return child;
        }
    }

    /// <summary>
    /// This module and every descendant, depth first, with dotted names; this module is <paramref name="prefix"/> (PyTorch:
    /// <c>named_modules(prefix=…, remove_duplicate=…)</c>). A module reachable twice is listed once, under its first name, unless
    /// <paramref name="removeDuplicate"/> is false.
    /// </summary>
    public IEnumerable<(string Name, Module Module)> NamedModules(string prefix = "", bool removeDuplicate = true)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        var seen = new HashSet<Module>(ReferenceEqualityComparer.Instance);
        return NamedModulesCore(prefix, seen, removeDuplicate);
    }

    private IEnumerable<(string Name, Module Module)> NamedModulesCore(string prefix, HashSet<Module> seen, bool removeDuplicate)
    {
        // Without removeDuplicate, `seen` holds the modules on the current path only (a cycle would never end).
        if (!seen.Add(this))
        {
            if (removeDuplicate) yield break;
            throw new InvalidOperationException($"NamedModules: the module tree contains a cycle at '{prefix}' ({GetType().Name}).");
        }
        yield return (prefix, this);
        foreach (var (name, child) in removeDuplicate ? NamedChildren() : RegisteredChildren())
        {
            if (child is null) continue;
            foreach (var item in child.NamedModulesCore(prefix.Length == 0 ? name : prefix + "." + name, seen, removeDuplicate))
            {
                yield return item;
            }
        }
        if (!removeDuplicate) seen.Remove(this);
    }

    /// <summary>This module and every descendant (PyTorch: <c>modules()</c>).</summary>
    public IEnumerable<Module> Modules() => NamedModules().Select(m => m.Module);

    /// <summary>
    /// Every parameter with its dotted name, this module's own first, then each child's in order (PyTorch:
    /// <c>named_parameters(recurse=…, remove_duplicate=…)</c>). A parameter (or module) shared by two modules is listed once,
    /// under its first name, unless <paramref name="removeDuplicate"/> is false.
    /// </summary>
    public IEnumerable<(string Name, Tensor Value)> NamedParameters(bool recurse = true, bool removeDuplicate = true)
    {
        var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        foreach (var (prefix, module) in recurse ? NamedModules(removeDuplicate: removeDuplicate) : [("", this)])
        {
            foreach (var (name, p) in module.NamedDirectParameters())
            {
                if (p is null || (removeDuplicate && !seen.Add(p))) continue;
                yield return (prefix.Length == 0 ? name : prefix + "." + name, p);
            }
        }
    }

    /// <summary>Every parameter (PyTorch: <c>parameters()</c>); pass them to an optimizer.</summary>
    public IEnumerable<Tensor> Parameters(bool recurse = true) => NamedParameters(recurse).Select(p => p.Value);

    /// <summary>
    /// Every buffer with its dotted name, e.g. BatchNorm's <c>running_mean</c> (PyTorch: <c>named_buffers(recurse=…,
    /// remove_duplicate=…)</c>). A shared buffer is listed once unless <paramref name="removeDuplicate"/> is false.
    /// </summary>
    public IEnumerable<(string Name, Tensor Value)> NamedBuffers(bool recurse = true, bool removeDuplicate = true)
    {
        var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        foreach (var (prefix, module) in recurse ? NamedModules(removeDuplicate: removeDuplicate) : [("", this)])
        {
            foreach (var (name, b) in module.NamedDirectBuffers())
            {
                if (b is null || (removeDuplicate && !seen.Add(b))) continue;
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
        foreach (var (name, child) in RegisteredChildren())
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
        if (Autograd.IsGradEnabled && HasBackwardHooksCore())
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
    internal bool HasForwardHooksCore() => _hookCount > 0 && (_forwardPreHooks is { Count: > 0 } || _forwardHooks is { Count: > 0 });

    /// <summary>True if a full backward hook or a full backward pre-hook is registered (no allocation; for compiled code).</summary>
    internal bool HasBackwardHooksCore() => _hookCount > 0 && (_backwardHooks is { Count: > 0 } || _backwardPreHooks is { Count: > 0 });

    /// <summary>
    /// Runs the forward pre-hooks in registration order, each seeing the inputs the previous ones left; returns the
    /// replaced inputs, or null when no hook replaced them.
    /// </summary>
    internal Tensor[]? RunForwardPreHooks(Tensor[] inputs)
    {
        if (_forwardPreHooks is not { Count: > 0 } pre) return null;
        Tensor[]? result = null;
        foreach (var hook in pre.Snapshot())
        {
            if (hook(this, inputs) is { } replaced)
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
        if (_forwardHooks is not { Count: > 0 } post) return null;
        Tensor? result = null;
        foreach (var hook in post.Snapshot())
        {
            if (hook(this, inputs, output) is { } replaced)
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
        if (_backwardHooks is not { Count: > 0 } hooks) return null;
        var current = (Tensor?[])gradInputs.Clone();
        Tensor?[]? result = null;
        foreach (var hook in hooks.Snapshot())
        {
            if (hook(this, (Tensor?[])current.Clone(), gradOutputs) is { } replaced)
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
    /// Runs the full backward pre-hooks in registration order with the gradient of the output, each seeing what the previous
    /// ones left; returns the replaced output gradients, or null when no hook replaced them.
    /// </summary>
    internal Tensor?[]? RunBackwardPreHooks(Tensor?[] gradOutputs)
    {
        if (_backwardPreHooks is not { Count: > 0 } hooks) return null;
        Tensor?[]? result = null;
        foreach (var hook in hooks.Snapshot())
        {
            if (hook(this, (Tensor?[])gradOutputs.Clone()) is { } replaced)
            {
                if (replaced.Length != gradOutputs.Length)
                {
                    throw new InvalidOperationException(
                        $"A full backward pre-hook on {GetType().Name} returned {replaced.Length} gradients, but the module has {gradOutputs.Length} output(s); return one per output (or null to keep them).");
                }
                for (int i = 0; i < replaced.Length; i++)
                {
                    if (replaced[i] is { } r && gradOutputs[i] is { } g && !ShapeUtil.SameShape(r._shape, g._shape))
                    {
                        throw new InvalidOperationException(
                            $"A full backward pre-hook on {GetType().Name} returned a gradient of shape {ShapeUtil.Format(r._shape)} for output {i}, whose gradient has shape {ShapeUtil.Format(g._shape)}; a hook must keep the shape.");
                    }
                }
                gradOutputs = replaced;
                result = replaced;
            }
        }
        return result;
    }

    /// <summary>
    /// Registers a hook run before <c>Forward</c>; it may return replacement inputs (PyTorch: <c>register_forward_pre_hook(hook, prepend=…)</c>).
    /// With <paramref name="prepend"/> it runs before the hooks already registered, otherwise after them.
    /// </summary>
    public HookHandle RegisterForwardPreHook(Func<Module, Tensor[], Tensor[]?> hook, bool prepend = false) => AddHook(_forwardPreHooks ??= new(), hook, prepend);

    /// <summary>Registers an observing hook run before <c>Forward</c> (PyTorch: <c>register_forward_pre_hook</c>).</summary>
    public HookHandle RegisterForwardPreHook(Action<Module, Tensor[]> hook, bool prepend = false)
    {
        ArgumentNullException.ThrowIfNull(hook);
        return RegisterForwardPreHook((m, x) => { hook(m, x); return null; }, prepend);
    }

    /// <summary>
    /// Registers a hook run after <c>Forward</c> with the inputs and output; it may return a replacement output
    /// (PyTorch: <c>register_forward_hook(hook, prepend=…)</c>). With <paramref name="prepend"/> it runs before the hooks
    /// already registered.
    /// </summary>
    public HookHandle RegisterForwardHook(Func<Module, Tensor[], Tensor, Tensor?> hook, bool prepend = false) => AddHook(_forwardHooks ??= new(), hook, prepend);

    /// <summary>Registers an observing hook run after <c>Forward</c> (PyTorch: <c>register_forward_hook</c>).</summary>
    public HookHandle RegisterForwardHook(Action<Module, Tensor[], Tensor> hook, bool prepend = false)
    {
        ArgumentNullException.ThrowIfNull(hook);
        return RegisterForwardHook((m, x, y) => { hook(m, x, y); return null; }, prepend);
    }

    /// <summary>
    /// Registers a hook run when the gradients with respect to this module's inputs are computed, with
    /// <c>(module, gradInput, gradOutput)</c>; it may return replacement input gradients (PyTorch:
    /// <c>register_full_backward_hook(hook, prepend=…)</c>). Entries of gradInput are null for inputs that do not require
    /// grad; when no input requires grad the hook must return null (or only nulls), as in PyTorch.
    /// </summary>
    public HookHandle RegisterFullBackwardHook(Func<Module, Tensor?[], Tensor?[], Tensor?[]?> hook, bool prepend = false) => AddHook(_backwardHooks ??= new(), hook, prepend);

    /// <summary>Registers an observing full backward hook (PyTorch: <c>register_full_backward_hook</c>).</summary>
    public HookHandle RegisterFullBackwardHook(Action<Module, Tensor?[], Tensor?[]> hook, bool prepend = false)
    {
        ArgumentNullException.ThrowIfNull(hook);
        return RegisterFullBackwardHook((m, gi, go) => { hook(m, gi, go); return null; }, prepend);
    }

    /// <summary>
    /// Registers a hook run when the gradient with respect to this module's output arrives, before the input gradients are
    /// computed, with <c>(module, gradOutput)</c>; it may return a replacement output gradient (same shapes) that the backward
    /// through the module then uses (PyTorch 2: <c>register_full_backward_pre_hook(hook, prepend=…)</c>). In a compiled
    /// program it observes only (a replacement throws).
    /// </summary>
    public HookHandle RegisterFullBackwardPreHook(Func<Module, Tensor?[], Tensor?[]?> hook, bool prepend = false) => AddHook(_backwardPreHooks ??= new(), hook, prepend);

    /// <summary>Registers an observing full backward pre-hook (PyTorch: <c>register_full_backward_pre_hook</c>).</summary>
    public HookHandle RegisterFullBackwardPreHook(Action<Module, Tensor?[]> hook, bool prepend = false)
    {
        ArgumentNullException.ThrowIfNull(hook);
        return RegisterFullBackwardPreHook((m, go) => { hook(m, go); return null; }, prepend);
    }

    private HookHandle AddHook<THook>(HookList<THook> list, THook hook, bool prepend) where THook : class
    {
        ArgumentNullException.ThrowIfNull(hook);
        var entry = list.Add(hook, prepend);
        _hookCount++;
        return new HookHandle(() =>
        {
            if (list.Remove(entry)) _hookCount--;
        });
    }

    /// <summary>Hooks in call order; each registration is its own entry, so a handle removes exactly the one it added.</summary>
    private sealed class HookList<THook> where THook : class
    {
        private readonly List<Entry> _entries = [];

        public sealed class Entry(THook hook)
        {
            public readonly THook Hook = hook;
        }

        public int Count => _entries.Count;

        public Entry Add(THook hook, bool prepend)
        {
            var entry = new Entry(hook);
            if (prepend) _entries.Insert(0, entry);
            else _entries.Add(entry);
            return entry;
        }

        public bool Remove(Entry entry) => _entries.Remove(entry);

        /// <summary>The hooks as they are now (a hook may add or remove hooks while they run).</summary>
        public THook[] Snapshot()
        {
            var hooks = new THook[_entries.Count];
            for (int i = 0; i < hooks.Length; i++) hooks[i] = _entries[i].Hook;
            return hooks;
        }
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
                if (module.RunBackwardPreHooks([g]) is { } replaced && replaced[0] is { } r) g = r;
                _gradOutputs = [g];
                if (_pendingInputs == 0 && module._backwardHooks is { Count: > 0 })
                {
                    // No input requires grad: the hooks see only nulls, and may not invent gradients (PyTorch raises too).
                    if (Run() is { } invented && invented.Any(t => t is not null))
                    {
                        throw new InvalidOperationException(
                            $"A full backward hook on {module.GetType().Name} returned a gradient, but none of the module's inputs requires grad, so there is " +
                            "nowhere for it to go (PyTorch: \"Backward hook for Modules where no input requires gradient should always return None or None for all gradients\"). Return null.");
                    }
                }
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
