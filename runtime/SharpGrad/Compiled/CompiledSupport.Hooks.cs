using System.Numerics.Tensors;

namespace SharpGrad;

// Hooks on the children of a compiled program: called with materialised copies of the values (observing hooks).
public static partial class CompiledSupport
{
    /// <summary>True when <paramref name="m"/> has a forward pre-hook or forward hook registered (cheap, no allocation).</summary>
    public static bool HasForwardHooks(Module m) => m.HasForwardHooksCore();

    /// <summary>True when <paramref name="m"/> has a full backward hook registered (cheap, no allocation).</summary>
    public static bool HasBackwardHooks(Module m) => m.HasBackwardHooksCore();

    /// <summary>
    /// Runs <paramref name="m"/>'s forward pre-hooks in order, as its eager call does (PyTorch: <c>register_forward_pre_hook</c>);
    /// returns the replaced inputs, or null when no hook replaced them.
    /// </summary>
    public static Tensor[]? RunForwardPreHooks(Module m, Tensor[] inputs) => m.RunForwardPreHooks(inputs);

    /// <summary>
    /// Runs <paramref name="m"/>'s forward hooks in order with the inputs and output (PyTorch: <c>register_forward_hook</c>);
    /// returns the replacement output, or null when none replaced it.
    /// </summary>
    public static Tensor? RunForwardHooks(Module m, Tensor[] inputs, Tensor output) => m.RunForwardHooks(inputs, output);

    /// <summary>
    /// Runs <paramref name="m"/>'s full backward hooks in order with (gradInputs, gradOutputs) (PyTorch:
    /// <c>register_full_backward_hook</c>); returns the replacement input gradients, or null when none replaced them.
    /// </summary>
    public static Tensor?[]? RunBackwardHooks(Module m, Tensor?[] gradInputs, Tensor?[] gradOutputs) => m.RunBackwardHooks(gradInputs, gradOutputs);

    /// <summary>
    /// Calls <paramref name="module"/>'s forward pre-hooks and forward hooks with materialised copies of the child's input
    /// and output (the compiled program computed them already). A hook that returns a replacement throws: compiled programs
    /// honour observing hooks only.
    /// </summary>
    public static void ForwardHooks(Module module, float[] x, int[] xShape, float[] y, int[] yShape)
    {
        var input = WrapCopy(x, xShape);
        var output = WrapCopy(y, yShape);
        Tensor[] inputs = [input];
        if (RunForwardPreHooks(module, inputs) is not null) throw ReplacementInCompiled(module, "forward pre-hook", "inputs");
        if (RunForwardHooks(module, inputs, output) is not null) throw ReplacementInCompiled(module, "forward hook", "output");
    }

    /// <summary>
    /// Calls an Embedding's forward pre-hooks and forward hooks with a copy of its integer <paramref name="indices"/> (its
    /// input, as eager's call passes it) and of the rows it gathered (<paramref name="y"/>). A hook that returns a replacement
    /// throws, as in <see cref="ForwardHooks(Module, float[], int[], float[], int[])"/>.
    /// </summary>
    public static void EmbeddingForwardHooks(Module module, Tensor indices, float[] y, int[] yShape)
    {
        ArgumentNullException.ThrowIfNull(indices);
        Tensor[] inputs = [indices.Clone()];   // integer: nothing recorded
        var output = WrapCopy(y, yShape);
        if (RunForwardPreHooks(module, inputs) is not null) throw ReplacementInCompiled(module, "forward pre-hook", "inputs");
        if (RunForwardHooks(module, inputs, output) is not null) throw ReplacementInCompiled(module, "forward hook", "output");
    }

    /// <summary>
    /// Calls an Embedding's full backward pre-hooks and full backward hooks as eager does: grad_output the gradient of the rows
    /// it gathered (<paramref name="gradOut"/>), grad_input (null,) — its input is integer indices. Only when the table's
    /// gradient is wanted (<paramref name="tableGrad"/> not null): eager's lookup output requires grad only then, and a module
    /// whose output does not require grad calls no backward hook. A pre-hook that replaces the output's gradient throws (observing
    /// hooks only); a backward hook that returns a gradient throws eager's error (no input requires grad, so there is nowhere
    /// for it to go), one that returns (null,) is accepted as eager accepts it.
    /// </summary>
    public static void EmbeddingBackwardHooks(Module module, float[]? tableGrad, float[] gradOut, int[] outShape)
    {
        ArgumentNullException.ThrowIfNull(module);
        if (tableGrad is null) return;
        Tensor?[] gOut = [WrapCopy(gradOut, outShape)];
        if (module.RunBackwardPreHooks(gOut) is not null) throw ReplacementInCompiled(module, "full backward pre-hook", "output gradients");
        if (RunBackwardHooks(module, [null], gOut) is { } invented && invented.Any(t => t is not null))
        {
            throw new InvalidOperationException(
                $"A full backward hook on {module.GetType().Name} returned a gradient, but none of the module's inputs requires grad, so there is " +
                "nowhere for it to go (PyTorch: \"Backward hook for Modules where no input requires gradient should always return None or None for all gradients\"). Return null.");
        }
    }

    /// <summary>
    /// Calls <paramref name="module"/>'s full backward hooks with the gradient of its output and of its input (the part
    /// this child contributed: <paramref name="gradIn"/> minus <paramref name="before"/>, or all of it when
    /// <paramref name="before"/> is null; null when the input needs no gradient).
    /// </summary>
    public static void BackwardHooks(Module module, float[]? gradIn, float[]? before, int[] inShape, float[] gradOut, int[] outShape)
    {
        Tensor? gIn = null;
        if (gradIn is not null)
        {
            gIn = WrapCopy(gradIn, inShape);
            if (before is not null)
            {
                var span = gIn.Data<float>().AsSpan();
                TensorPrimitives.Subtract(span, before.AsSpan(0, span.Length), span);
            }
        }
        Tensor?[] gOut = [WrapCopy(gradOut, outShape)];
        if (module.RunBackwardPreHooks(gOut) is not null) throw ReplacementInCompiled(module, "full backward pre-hook", "output gradients");
        if (RunBackwardHooks(module, [gIn], gOut) is not null) throw ReplacementInCompiled(module, "full backward hook", "input gradients");
    }

    private static NotSupportedException ReplacementInCompiled(Module module, string kind, string what)
        => new($"A {kind} on {module.GetType().Name} returned replacement {what} while a compiled program was running; compiled programs call hooks to observe " +
               "values only. Return null from the hook, or run the eager model (call Forward instead of Compile().Forward) to let hooks replace values.");

}
