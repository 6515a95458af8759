using System;
using System.Numerics.Tensors;

namespace SharpGrad;

// The plumbing of generated Compiled classes: binding inputs and parameters to arrays, delivering gradients,
// the small loops every program needs, and hooks on inlined children.
public static partial class CompiledSupport
{
    /// <summary>The submodule at the dotted <paramref name="path"/> (PyTorch: <c>get_submodule</c>), checked to be a <typeparamref name="T"/>.</summary>
    public static T Submodule<T>(Module root, string path) where T : Module
    {
        ArgumentNullException.ThrowIfNull(root);
        foreach (var (name, module) in root.NamedModules())
        {
            if (name == path)
            {
                return module as T ?? throw new InvalidOperationException(
                    $"Compiled program: the submodule '{path}' is a {module.GetType().Name}, but the program was generated for a {typeof(T).Name}; rebuild the project.");
            }
        }
        throw new InvalidOperationException($"Compiled program: the module has no submodule '{path}'; it was generated for a different structure. Rebuild the project.");
    }

    /// <summary>The float32 array of a parameter or buffer, which must be contiguous and start at element 0 (as parameters are).</summary>
    public static float[] Dense(Tensor tensor)
    {
        if (tensor.DType != DType.Float32 || !tensor.IsContiguous || tensor.Offset != 0)
        {
            throw new ArgumentException(
                $"Compiled program: expected a contiguous float32 parameter starting at element 0, got {tensor.DType} of shape {ShapeUtil.Format(tensor._shape)} " +
                $"(contiguous: {tensor.IsContiguous}, offset {tensor.Offset}). Replace the parameter's data with a dense tensor, or use the eager model.");
        }
        return tensor.Data<float>();
    }

    /// <summary>
    /// The float32 data of an input as an array starting at element 0: the tensor's own storage when it is contiguous at
    /// offset 0 (no copy), otherwise a copy into <paramref name="scratch"/> (grown when needed).
    /// </summary>
    public static float[] Dense(Tensor tensor, ref float[]? scratch)
    {
        if (tensor.IsContiguous && tensor.Offset == 0) return tensor.Data<float>();
        int count = tensor.NumElements;
        if (scratch is null || scratch.Length < count) scratch = new float[count];
        var c = tensor.Contiguous();
        c.Data<float>().AsSpan(c.Offset, count).CopyTo(scratch);
        return scratch;
    }

    /// <summary>Copies the output gradient <paramref name="g"/> (any strides) into <paramref name="destination"/>.</summary>
    public static void CopyInto(Tensor g, float[] destination, int count)
    {
        var c = g.DType == DType.Float32 ? g.Contiguous() : g.To(DType.Float32).Contiguous();
        c.Data<float>().AsSpan(c.Offset, count).CopyTo(destination);
    }

    /// <summary>A new float32 tensor of <paramref name="shape"/> holding a copy of the first elements of <paramref name="data"/>.</summary>
    public static Tensor WrapCopy(float[] data, params int[] shape)
    {
        int count = ShapeUtil.Count(shape);
        var copy = new float[count];
        Array.Copy(data, copy, count);
        return Tensor.Wrap(copy, shape);
    }

    /// <summary>A copy of the first <paramref name="count"/> elements (hooks only).</summary>
    public static float[] Snapshot(float[] data, int count) => data.AsSpan(0, count).ToArray();

    /// <summary><paramref name="destination"/>[i] += <paramref name="source"/>[i] for the first <paramref name="count"/> elements.</summary>
    public static void AddInto(float[] source, float[] destination, int count)
        => TensorPrimitives.Add(destination.AsSpan(0, count), source.AsSpan(0, count), destination.AsSpan(0, count));

    /// <summary>
    /// The epilogue of a Linear: adds <paramref name="bias"/> to each of the <paramref name="rows"/> rows of
    /// <paramref name="y"/> and, when <paramref name="relu"/>, applies ReLU in the same pass (PyTorch: <c>addmm</c> + <c>relu</c>).
    /// </summary>
    public static void BiasRelu(float[] y, int rows, int cols, float[]? bias, bool relu)
    {
        for (int r = 0; r < rows; r++)
        {
            var row = y.AsSpan(r * cols, cols);
            if (bias is not null) TensorPrimitives.Add(row, bias.AsSpan(0, cols), row);
            if (relu) TensorPrimitives.Max(row, 0f, row);
        }
    }

    /// <summary>The bias gradient of a Linear: <paramref name="destination"/>[c] += Σ_r <paramref name="gy"/>[r, c].</summary>
    public static void SumRows(float[] gy, int rows, int cols, float[] destination)
    {
        var d = destination.AsSpan(0, cols);
        for (int r = 0; r < rows; r++) TensorPrimitives.Add(d, gy.AsSpan(r * cols, cols), d);
    }

    /// <summary>ReLU's backward from its output: <paramref name="gx"/>[i] += <paramref name="y"/>[i] &gt; 0 ? <paramref name="gy"/>[i] : 0.</summary>
    public static void ReluBackward(float[] y, float[] gy, float[] gx, int count)
    {
        for (int i = 0; i < count; i++)
        {
            if (y[i] > 0f) gx[i] += gy[i];
        }
    }

    /// <summary>
    /// Delivers a parameter gradient computed by a compiled program's fused backward (PyTorch: what
    /// <c>AccumulateGrad</c> does): the parameter's hooks run, then the gradient is added to <c>.Grad</c> in place, or,
    /// when <c>.Grad</c> is null, <c>.Grad</c> becomes <paramref name="cache"/> holding a copy (reused by later calls, so
    /// no allocation in the steady state); then its post-accumulate-grad hooks run.
    /// </summary>
    public static void AccumulateGrad(Tensor parameter, float[] gradient, ref Tensor? cache)
    {
        int count = parameter.NumElements;
        if (parameter.LeafHooks is not null)
        {
            Engine.DeliverToLeaf(parameter, WrapCopy(gradient, parameter.Shape));
            return;
        }
        var existing = parameter.Grad;
        if (existing is null)
        {
            if (cache is null || !ShapeUtil.SameShape(cache._shape, parameter._shape) || cache.DType != DType.Float32) cache = Tensor.Zeros(parameter._shape, DType.Float32);
            gradient.AsSpan(0, count).CopyTo(cache.Data<float>().AsSpan(0, count));
            cache.Storage.Version++;
            parameter.SetGradUnchecked(cache);
            Engine.RunPostAccumulateGradHooks(parameter);
            return;
        }
        if (existing.DType == DType.Float32 && existing.IsContiguous && !existing.RequiresGrad)
        {
            var span = existing.Data<float>().AsSpan(existing.Offset, count);
            TensorPrimitives.Add(span, gradient.AsSpan(0, count), span);
            existing.Storage.Version++;
            Engine.RunPostAccumulateGradHooks(parameter);
            return;
        }
        Engine.DeliverToLeaf(parameter, WrapCopy(gradient, parameter.Shape));
    }

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

    /// <summary>
    /// <c>x.Max(dim).Values</c> / <c>Min</c> over <paramref name="size"/> of an [outer, size, inner] view (PyTorch:
    /// <c>torch.max(x, dim).values</c>): <paramref name="y"/>[o, i] is the extreme, <paramref name="index"/>[o, i] its
    /// position (the first one on ties, as eager; NaN wins, as in PyTorch).
    /// </summary>
    public static void ExtremeDimForward(float[] x, float[] y, int[] index, int outer, int size, int inner, bool max)
    {
        for (int o = 0; o < outer; o++)
        {
            for (int i = 0; i < inner; i++)
            {
                int baseIndex = o * size * inner + i;
                float best = x[baseIndex];
                int at = 0;
                for (int s = 1; s < size && !float.IsNaN(best); s++)
                {
                    float v = x[baseIndex + s * inner];
                    if (float.IsNaN(v) || (max ? v > best : v < best)) { best = v; at = s; }
                }
                y[o * inner + i] = best;
                index[o * inner + i] = at;
            }
        }
    }

    /// <summary>The gradient of <see cref="ExtremeDimForward"/>: each output gradient goes to its extreme's position (accumulated).</summary>
    public static void ExtremeDimBackward(float[] gy, int[] index, float[] gx, int outer, int size, int inner)
    {
        for (int o = 0; o < outer; o++)
        {
            for (int i = 0; i < inner; i++) gx[(o * size + index[o * inner + i]) * inner + i] += gy[o * inner + i];
        }
    }
}
