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

    /// <summary>
    /// Refuses to compile a subclass of a module class through the base class's <c>Compile()</c>: the base's program computes
    /// the base's Forward, where eager runs the subclass's override (Compile() is not virtual: each class's Compiled is its
    /// own type). Called by the generated Compiled constructor of every unsealed module class.
    /// </summary>
    /// <param name="module">The module being compiled.</param>
    /// <param name="generatedFor">The class the program was generated for.</param>
    public static void RequireExactType(Module module, Type generatedFor)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(generatedFor);
        if (module.GetType() == generatedFor) return;
        throw new InvalidOperationException(
            $"{generatedFor.Name}.Compile() compiles {generatedFor.Name}.Forward, but this module is a {module.GetType().Name}, a subclass whose Forward " +
            $"may differ: call Compile() on a reference of the subclass's own type (a [Module] subclass has its own Compile()), or run it eagerly.");
    }

    /// <summary>
    /// Checks a float input of a compiled method against the shape inferred at build time: its rank, its fixed dims
    /// (<paramref name="dims"/>, −1 for the batch dim), the batch size of the first batched input (<paramref name="batch"/>,
    /// −1 for the first) and float32. Returns its batch size (the size of its −1 dim: dim 0, or dim 1 batch second) when it is
    /// batched, else <paramref name="batch"/>.
    /// </summary>
    /// <param name="x">The input.</param>
    /// <param name="name">Its parameter name.</param>
    /// <param name="dims">The inferred dims, −1 for the batch.</param>
    /// <param name="shape">The inferred shape as text (<c>[N, 3, 8, 8]</c>).</param>
    /// <param name="where">The compiled method (<c>Net.Compiled.Forward</c>), for messages.</param>
    /// <param name="batch">The batch size of an earlier input, or −1.</param>
    /// <param name="batchFrom">The name of that input.</param>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static int CheckInput(Tensor x, string name, ReadOnlySpan<int> dims, string shape, string where, int batch = -1, string? batchFrom = null)
    {
        bool batched = dims.Length > 0 && dims[0] < 0;
        bool ok = x.Rank == dims.Length;
        for (int d = 0; ok && d < dims.Length; d++) ok = dims[d] < 0 ? batch < 0 || x.Size(d) == batch : x.Size(d) == dims[d];
        if (!ok)
        {
            string same = batchFrom is null || !batched ? "" : $" (the same batch size as {batchFrom})";
            throw new ArgumentException(
                $"{where}: expected {name} of shape {shape}{same}, but got {ShapeUtil.Format(x._shape)}. The shapes were inferred at build time from " +
                $"the model's layers; pass a tensor of that shape or run the eager {where.Replace(".Compiled.", ".")}.", name);
        }
        if (x.DType != DType.Float32)
        {
            throw new ArgumentException(
                $"{where}: the compiled program is float32 only, but {name} is {x.DType}; convert it with .To(DType.Float32) or run the eager " +
                $"{where.Replace(".Compiled.", ".")}.", name);
        }
        // The batch dim: 0, or 1 for a batch-second input ([T, N, 8], or a recurrent layer's h_0 [L, N, H] checked against batch).
        int axis = dims.IndexOf(-1);
        return axis >= 0 ? x.Size(axis) : batch;
    }

    /// <summary>The batch size (dim 0) of a compiled method's input read as data (class indices, token ids).</summary>
    public static int BatchOf(Tensor x, string name, string where)
    {
        if (x.Rank < 1) throw new ArgumentException($"{where}: expected {name} with a batch dimension first, but got {ShapeUtil.Format(x._shape)}.", name);
        return x.Size(0);
    }

    /// <summary>The error of a backward through an output whose buffers a later call of the same compiled method has reused.</summary>
    public static InvalidOperationException StaleBackward(string where)
    {
        string method = where.Substring(where.LastIndexOf('.') + 1);
        return new InvalidOperationException(
            $"{where}: backward through an output of an earlier call, whose buffers a later call has reused; call Backward before calling {method} " +
            "again, or use the eager model.");
    }

    /// <summary>The float32 array of a parameter or buffer, which must be contiguous and start at element 0 (as parameters are).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
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
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
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
        // The copy's array comes from the caching allocator: a gradient the tape hands to the engine becomes .Grad, goes
        // back at ZeroGrad and is rented again by the next backward (the natural compiled loop allocates no weight-sized
        // arrays; docs/performance.md).
        int count = ShapeUtil.Count(ShapeUtil.Validate(shape));
        return new Tensor(Storage.CopyOf(data, count), (int[])shape.Clone());
    }

    /// <summary>A copy of the first <paramref name="count"/> elements (hooks only).</summary>
    public static float[] Snapshot(float[] data, int count) => data.AsSpan(0, count).ToArray();

    /// <summary><paramref name="destination"/>[i] += <paramref name="source"/>[i] for the first <paramref name="count"/> elements.</summary>
    public static void AddInto(float[] source, float[] destination, int count)
        => TensorPrimitives.Add(destination.AsSpan(0, count), source.AsSpan(0, count), destination.AsSpan(0, count));
}
