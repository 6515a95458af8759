using System.ComponentModel;

namespace SharpGrad;

/// <summary>
/// The parameters of one child that a compiled program differentiates as a group whose size is known only when the module
/// is built (a recurrent stack's <c>weight_ih_l0</c>, <c>weight_hh_l0</c>, … for a constructor-sized <c>num_layers</c>;
/// PyTorch: <c>nn.LSTM.all_weights</c> flattened): what the generator writes per parameter for a fixed list (whether its
/// gradient is needed, the array the backward accumulates it into, the tensor that becomes <c>.Grad</c>) kept in arrays
/// indexed by the parameter's place in the group, with the same <see cref="CompiledSupport"/> gradient binding.
/// Not meant to be used by hand.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class CompiledParameterGroup
{
    private readonly Tensor?[] _cache;

    /// <summary>The group of <paramref name="weights"/> (per layer and direction, its parameters in order), flattened.</summary>
    public CompiledParameterGroup(IReadOnlyList<IReadOnlyList<Parameter>> weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        var all = new List<Tensor>();
        foreach (var row in weights) all.AddRange(row);
        Parameters = all.ToArray();
        Grads = new float[]?[Parameters.Length];
        Needed = new bool[Parameters.Length];
        Fresh = new bool[Parameters.Length];
        _cache = new Tensor?[Parameters.Length];
    }

    /// <summary>The parameters, in the order the kernel reads them (the program's tape inputs in this order).</summary>
    public Tensor[] Parameters { get; }

    /// <summary>Per parameter: the array its gradient is accumulated into, or null when it is not needed (bound by <see cref="Bind()"/>/<see cref="BindTape(Node, int)"/>).</summary>
    public float[]?[] Grads { get; }

    /// <summary>Per parameter: whether the backward computes its gradient.</summary>
    public bool[] Needed { get; }

    /// <summary>
    /// Per parameter, after a bind that lets the group's first writer overwrite (<c>overwrite: true</c>): whether its gradient
    /// array is fresh (<see cref="CompiledSupport.BindGrad(Tensor, ref Tensor?, out bool)"/>: not cleared, to be written, not added to).
    /// </summary>
    public bool[] Fresh { get; }

    /// <summary>The number of parameters.</summary>
    public int Count => Parameters.Length;

    /// <summary>For a fused backward (<c>LossBackward</c>): a gradient for every parameter that requires grad, bound where it ends up (<see cref="CompiledSupport.BindGrad(Tensor, ref Tensor?)"/>).</summary>
    public void Bind() => Bind(overwrite: false);

    /// <summary>
    /// <see cref="Bind()"/>; with <paramref name="overwrite"/> (the generator proved the group's first writer writes every
    /// gradient it binds) a fresh gradient is not cleared and is marked in <see cref="Fresh"/>.
    /// </summary>
    public void Bind(bool overwrite)
    {
        for (int j = 0; j < Parameters.Length; j++)
        {
            Needed[j] = Parameters[j].RequiresGrad;
            Fresh[j] = false;
            if (!Needed[j]) Grads[j] = null;
            else if (overwrite) Grads[j] = CompiledSupport.BindGrad(Parameters[j], ref _cache[j], out Fresh[j]);
            else Grads[j] = CompiledSupport.BindGrad(Parameters[j], ref _cache[j]);
        }
    }

    /// <summary>
    /// For a backward whose result does not depend on the group (PyTorch: its parameters are not in the autograd graph of the
    /// tensor the backward starts from): no gradient computed, none delivered; each <c>.Grad</c> stays as it is.
    /// </summary>
    public void Unbind()
    {
        Array.Clear(Needed);
        Array.Clear(Grads);
        Array.Clear(Fresh);
    }

    /// <summary>After a fused backward: each gradient delivered (<see cref="CompiledSupport.DeliverGrad"/>).</summary>
    public void Deliver()
    {
        for (int j = 0; j < Parameters.Length; j++)
        {
            if (Needed[j]) CompiledSupport.DeliverGrad(Parameters[j], Grads[j]!, ref _cache[j]);
        }
    }

    /// <summary>
    /// For a tape backward: a gradient for every parameter <paramref name="node"/> needs one for (the group is its inputs
    /// <paramref name="offset"/>, <paramref name="offset"/> + 1, …), bound by <see cref="CompiledSupport.BindTapeGrad(Node, int, Tensor, ref Tensor?)"/>.
    /// </summary>
    public void BindTape(Node node, int offset) => BindTape(node, offset, overwrite: false);

    /// <summary><see cref="BindTape(Node, int)"/>; with <paramref name="overwrite"/> fresh gradients as in <see cref="Bind(bool)"/>.</summary>
    public void BindTape(Node node, int offset, bool overwrite)
    {
        ArgumentNullException.ThrowIfNull(node);
        for (int j = 0; j < Parameters.Length; j++)
        {
            Needed[j] = node.NeedsInputGrad(offset + j);
            Fresh[j] = false;
            if (!Needed[j]) Grads[j] = null;
            else if (overwrite) Grads[j] = CompiledSupport.BindTapeGrad(node, offset + j, Parameters[j], ref _cache[j], out Fresh[j]);
            else Grads[j] = CompiledSupport.BindTapeGrad(node, offset + j, Parameters[j], ref _cache[j]);
        }
    }

    /// <summary>After a tape backward: each gradient written into <c>.Grad</c> or into <paramref name="grads"/> (<see cref="CompiledSupport.SetTapeGrad"/>).</summary>
    public void SetTapeGrads(ref Tensor?[]? grads, int count, int offset)
    {
        for (int j = 0; j < Parameters.Length; j++)
        {
            if (Needed[j]) CompiledSupport.SetTapeGrad(ref grads, count, offset + j, Parameters[j], Grads[j]!, ref _cache[j]);
        }
    }
}
