using SharpGrad.Kernels;

namespace SharpGrad.Layers;

// The compiled programs of the built-in Transformer layers and stacks: what `Compile()` gives for a user's [Module], written
// by hand over the fused kernels the generated programs call (Kernels/TransformerLayer.cs and Kernels/TransformerDecoderLayer.cs
// through CompiledSupport.EncoderLayerForward/DecoderLayerForward). A parent program that runs a list of children whose count
// the constructor sets (ElementPrograms: `__elements.Of(layer, static e => e.Compile())`) runs these for the built-in layers.
//
// What they share: the kernels take batch-first rows, so a layer built with batch_first=False transposes its inputs to
// [N, T, E] and its output back (two views on the tape around the one fused node); dropout in training mode is compiled (each
// mask drawn from its module's generator in eager's order, so a seeded run equals eager's); a float mask that requires grad
// runs the eager layer (the kernels read masks as data); and while a forward or backward hook is registered on one of the layer's
// submodules (self_attn, its out_proj, linear1, norm1, …) the call runs the eager layer, whose submodule calls run the hooks
// — as torch.compile runs them. Hooks on the layer itself belong to whoever calls it (Module.Call / a parent program).

internal static class TransformerCompiledLayout
{
    /// <summary>The submodules whose hooks make a compiled call run eagerly (everything below the layer, not the layer).</summary>
    public static Module[] Submodules(Module layer) => layer.NamedModules().Select(m => m.Module).Where(m => !ReferenceEquals(m, layer)).ToArray();

    /// <summary>True when any of <paramref name="submodules"/> has a hook (a field read per submodule, no allocation).</summary>
    public static bool AnyHooks(Module[] submodules)
    {
        foreach (var m in submodules)
        {
            if (m.HasHooks) return true;
        }
        return false;
    }

    /// <summary>
    /// True when a mask is a float tensor that takes a gradient (grad mode on and it requires grad): the kernels read masks as
    /// data, so such a call runs the eager layer, which differentiates the mask as PyTorch does.
    /// </summary>
    public static bool MaskNeedsGrad(Tensor? a, Tensor? b, Tensor? c = null, Tensor? d = null)
        => Autograd.IsGradEnabled && (a is { RequiresGrad: true } || b is { RequiresGrad: true } || c is { RequiresGrad: true } || d is { RequiresGrad: true });

    /// <summary>[T, N, E] → its [N, T, E] view when the layer is batch second.</summary>
    public static Tensor BatchFirst(Tensor x, bool batchFirst) => batchFirst ? x : x.Transpose(0, 1);

    /// <summary>
    /// The batch dim an unbatched call ([T, E], PyTorch's unbatched form; batch_first ignored) takes when it runs as a batch of
    /// one: 0 batch first, 1 batch second.
    /// </summary>
    public static int BatchDim(bool batchFirst) => batchFirst ? 0 : 1;

    /// <summary>An unbatched call's key padding mask [S] as the batch of one's [1, S] (a batched [N, S] or null as it is).</summary>
    public static Tensor? OneRow(Tensor? keyPaddingMask) => keyPaddingMask is { Rank: 1 } ? keyPaddingMask.Unsqueeze(0) : keyPaddingMask;

    /// <summary>A layer's compiled program: no break (dropout in training, masks and both layouts are compiled).</summary>
    public static GraphExplanation Explain() => new(["Forward"], []);

    public static void CheckInput(string where, string name, Tensor x, bool batchFirst, int dModel)
    {
        if (x.DType != DType.Float32 || x.Rank != 3 || x.Size(2) != dModel)
        {
            string layout = batchFirst ? "[N, T, " + dModel + "] (batch first)" : "[T, N, " + dModel + "] (batch_first=False)";
            throw new ArgumentException($"{where}: expected {name} of float32 {layout}, but got {x.DType} {ShapeUtil.Format(x._shape)}.", name);
        }
    }
}

public sealed partial class TransformerEncoderLayer
{
    /// <summary>
    /// The compiled program of this layer (PyTorch: <c>torch.compile(layer)</c>), sharing its parameters: each call is one
    /// fused kernel (self-attention, residuals, LayerNorms, feed-forward) and one node on the tape (with <c>batch_first=False</c>,
    /// plus the two transposes to and from the kernel's batch-first rows). Dropout in training mode is compiled: each of the
    /// layer's dropouts draws its mask from its module's generator in eager's order (a seeded run equals eager's). A call while
    /// a hook is registered on one of the layer's submodules runs eagerly, so that the hook runs and sees what it sees eagerly. One instance per thread, as every compiled program.
    /// </summary>
    public Compiled Compile() => new(this);

    /// <summary>
    /// The layer's 12 parameters in the order of the fused kernel's weights (PyTorch's state-dict order: in_proj_weight,
    /// in_proj_bias, out_proj.weight, out_proj.bias, linear1, linear2, norm1, norm2), for its compiled programs.
    /// </summary>
    internal Tensor[] KernelParameters()
    {
        var attn = SelfAttn;
        return
        [
            attn.InProjWeight!, attn.InProjBias!, attn.OutProj.Weight, attn.OutProj.Bias!, Linear1.Weight, Linear1.Bias!,
            Linear2.Weight, Linear2.Bias!, Norm1.Weight!, Norm1.Bias!, Norm2.Weight!, Norm2.Bias!,
        ];
    }

    /// <summary>The compiled program of a <see cref="TransformerEncoderLayer"/> (<see cref="Compile"/>).</summary>
    public sealed class Compiled
    {
        private const string Where = "TransformerEncoderLayer.Compiled.Forward";
        private readonly TransformerEncoderLayer _layer;
        private readonly Module[] _submodules;
        private readonly CompiledCallGuard _guard = new("TransformerEncoderLayer.Compiled");
        private readonly EncoderLayerWorkspace _workspace = new();
        private readonly Tensor?[] _gradCaches = new Tensor?[12];
        private float[]? _inputCopy;
        private int _generation;

        internal Compiled(TransformerEncoderLayer layer)
        {
            _layer = layer;
            _submodules = TransformerCompiledLayout.Submodules(layer);
            Explanation = TransformerCompiledLayout.Explain();
        }

        /// <summary>What of the layer is compiled (PyTorch: <c>torch._dynamo.explain</c>).</summary>
        public GraphExplanation Explanation { get; }

        /// <summary>
        /// Runs the layer (PyTorch: <c>forward(src, src_mask=None, src_key_padding_mask=None)</c>): the same result and gradients as
        /// <see cref="TransformerEncoderLayer.Forward"/>. <paramref name="src"/> is float32 [N, T, d_model] (batch first) or
        /// [T, N, d_model]; the masks are data (Bool true: not attended; float: added), <paramref name="srcMask"/> [T, T] or
        /// [N·nhead, T, T], <paramref name="srcKeyPaddingMask"/> [N, T]. Call Backward through an output before calling Forward again.
        /// </summary>
        public Tensor Forward(Tensor src, Tensor? srcMask = null, Tensor? srcKeyPaddingMask = null)
        {
            ArgumentNullException.ThrowIfNull(src);
            var layer = _layer;
            if (src.Rank == 2)
            {
                // Unbatched [T, E] (PyTorch takes it; batch_first does not apply): the batch of one, the result's batch dim dropped.
                int b = TransformerCompiledLayout.BatchDim(layer.BatchFirst);
                return Forward(src.Unsqueeze(b), srcMask, TransformerCompiledLayout.OneRow(srcKeyPaddingMask)).Squeeze(b);
            }
            if (TransformerCompiledLayout.AnyHooks(_submodules) || TransformerCompiledLayout.MaskNeedsGrad(srcMask, srcKeyPaddingMask))
            {
                return layer.Forward(src, srcMask, srcKeyPaddingMask);
            }
            TransformerCompiledLayout.CheckInput(Where, nameof(src), src, layer.BatchFirst, layer.DModel);
            using var call = _guard.Enter("Forward");
            var input = TransformerCompiledLayout.BatchFirst(src, layer.BatchFirst);
            int n = input.Size(0), t = input.Size(1);
            var shape = new EncoderLayerShape(layer.DModel, layer.Nhead, layer.DimFeedforward, t, layer.NormFirst, layer.Activation == "gelu", layer.LayerNormEps);
            var x = CompiledSupport.Dense(input, ref _inputCopy);
            var y = new float[n * t * layer.DModel];
            CompiledSupport.EncoderLayerForward(layer, x, y, n, shape, _workspace, srcMask, srcKeyPaddingMask);
            var result = CompiledSupport.Wrap(y, n, t, layer.DModel);
            var parameters = layer.KernelParameters();
            var inputs = new Tensor?[1 + parameters.Length];
            inputs[0] = input;
            parameters.CopyTo(inputs, 1);
            if (CompiledSupport.ShouldRecord(inputs))
            {
                int generation = ++_generation;
                result = CompiledSupport.RecordCompiled(result, "TransformerEncoderLayerCompiledBackward", inputs,
                    (g, node) => Backward(g, node, generation, n, shape, parameters), input);
            }
            return TransformerCompiledLayout.BatchFirst(result, layer.BatchFirst);
        }

        private Tensor?[] Backward(Tensor g, Node node, int generation, int n, EncoderLayerShape shape, Tensor[] parameters)
        {
            using var call = _guard.Enter("Forward (backward)");
            if (generation != _generation) throw CompiledSupport.StaleBackward(Where);
            int count = n * shape.Steps * shape.DModel;
            var gy = new float[count];
            CompiledSupport.CopyInto(g, gy, count);
            var gx = node.NeedsInputGrad(0) ? new float[count] : null;
            var weightGrads = new float[]?[parameters.Length];
            for (int k = 0; k < parameters.Length; k++)
            {
                if (node.NeedsInputGrad(1 + k)) weightGrads[k] = CompiledSupport.BindTapeGrad(node, 1 + k, parameters[k], ref _gradCaches[k]);
            }
            CompiledSupport.EncoderLayerBackward(_layer, gy, gx, weightGrads, n, shape, _workspace);
            var grads = new Tensor?[1 + parameters.Length];
            if (gx is not null) grads[0] = CompiledSupport.Wrap(gx, n, shape.Steps, shape.DModel);
            for (int k = 0; k < parameters.Length; k++)
            {
                if (weightGrads[k] is { } wg) grads[1 + k] = CompiledSupport.TapeGrad(parameters[k], wg, ref _gradCaches[k]);
            }
            return grads;
        }
    }
}

public sealed partial class TransformerEncoder
{
    /// <summary>
    /// The compiled program of this stack (PyTorch: <c>torch.compile(encoder)</c>), sharing its parameters: each layer runs
    /// its own compiled program (<see cref="TransformerEncoderLayer.Compile"/>: one fused kernel and one tape node per layer),
    /// in order, then the final norm when there is one. One instance per thread, as every compiled program.
    /// </summary>
    public Compiled Compile() => new(this);

    /// <summary>The compiled program of a <see cref="TransformerEncoder"/> (<see cref="Compile"/>).</summary>
    public sealed class Compiled
    {
        private readonly TransformerEncoder _encoder;
        private readonly TransformerEncoderLayer.Compiled[] _layers;

        internal Compiled(TransformerEncoder encoder)
        {
            _encoder = encoder;
            _layers = encoder.Layers.Select(l => l.Compile()).ToArray();
            var breaks = _layers.SelectMany(l => l.Explanation.Breaks).Distinct().ToList();
            Explanation = new GraphExplanation(breaks.Count == 0 ? ["Forward"] : [], breaks);
        }

        /// <summary>What of the stack is compiled: its layers' breaks (PyTorch: <c>torch._dynamo.explain</c>).</summary>
        public GraphExplanation Explanation { get; }

        /// <summary>
        /// Runs the layers in order, then the norm (PyTorch: <c>forward(src, mask=None, src_key_padding_mask=None)</c>): the same
        /// result and gradients as <see cref="TransformerEncoder.Forward"/>.
        /// </summary>
        public Tensor Forward(Tensor src, Tensor? mask = null, Tensor? srcKeyPaddingMask = null)
        {
            var output = src;
            foreach (var layer in _layers) output = layer.Forward(output, mask, srcKeyPaddingMask);
            return _encoder.Norm is null ? output : _encoder.Norm.Forward(output);
        }
    }
}

public sealed partial class TransformerDecoderLayer
{
    /// <summary>
    /// The compiled program of this layer (PyTorch: <c>torch.compile(layer)</c>), sharing its parameters: each call is one
    /// fused kernel (self-attention over the target, attention over the memory, feed-forward, residuals and three LayerNorms)
    /// and one node on the tape, which gives the target's, the memory's and the 18 parameters' gradients (with
    /// <c>batch_first=False</c>, plus the transposes to and from the kernel's batch-first rows). Dropout in training mode is
    /// compiled, its masks drawn as eager draws them; a call while a hook is registered on one of the layer's submodules runs
    /// eagerly. One instance per thread, as every compiled program.
    /// </summary>
    public Compiled Compile() => new(this);

    /// <summary>
    /// The layer's 18 parameters in PyTorch's state-dict order (self_attn's four, multihead_attn's four, linear1, linear2,
    /// norm1, norm2, norm3), the order of the fused kernel's weights.
    /// </summary>
    internal Tensor[] KernelParameters()
    {
        MultiheadAttention sa = SelfAttn, ca = MultiheadAttn;
        return
        [
            sa.InProjWeight!, sa.InProjBias!, sa.OutProj.Weight, sa.OutProj.Bias!, ca.InProjWeight!, ca.InProjBias!, ca.OutProj.Weight, ca.OutProj.Bias!,
            Linear1.Weight, Linear1.Bias!, Linear2.Weight, Linear2.Bias!, Norm1.Weight!, Norm1.Bias!, Norm2.Weight!, Norm2.Bias!, Norm3.Weight!, Norm3.Bias!,
        ];
    }

    /// <summary>The compiled program of a <see cref="TransformerDecoderLayer"/> (<see cref="Compile"/>).</summary>
    public sealed class Compiled
    {
        private const string Where = "TransformerDecoderLayer.Compiled.Forward";
        private const int Weights = DecoderLayerKernel.WeightCount;
        private readonly TransformerDecoderLayer _layer;
        private readonly Module[] _submodules;
        private readonly CompiledCallGuard _guard = new("TransformerDecoderLayer.Compiled");
        private readonly DecoderLayerWorkspace _workspace = new();
        private readonly Tensor?[] _gradCaches = new Tensor?[Weights];
        private float[]? _inputCopy, _memoryCopy;
        private int _generation;

        internal Compiled(TransformerDecoderLayer layer)
        {
            _layer = layer;
            _submodules = TransformerCompiledLayout.Submodules(layer);
            Explanation = TransformerCompiledLayout.Explain();
        }

        /// <summary>What of the layer is compiled (PyTorch: <c>torch._dynamo.explain</c>).</summary>
        public GraphExplanation Explanation { get; }

        /// <summary>
        /// Runs the layer (PyTorch: <c>forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
        /// memory_key_padding_mask=None)</c>): the same result and gradients as <see cref="TransformerDecoderLayer.Forward"/>.
        /// <paramref name="tgt"/> is float32 [N, L, d_model] and <paramref name="memory"/> [N, S, d_model] (batch first; [L, N, ·]
        /// and [S, N, ·] with batch_first=False); the masks are data (Bool true: not attended; float: added):
        /// <paramref name="tgtMask"/> [L, L] or [N·nhead, L, L], <paramref name="memoryMask"/> [L, S] or [N·nhead, L, S],
        /// <paramref name="tgtKeyPaddingMask"/> [N, L], <paramref name="memoryKeyPaddingMask"/> [N, S]. Call Backward through an
        /// output before calling Forward again.
        /// </summary>
        public Tensor Forward(Tensor tgt, Tensor memory, Tensor? tgtMask = null, Tensor? memoryMask = null, Tensor? tgtKeyPaddingMask = null,
            Tensor? memoryKeyPaddingMask = null)
        {
            ArgumentNullException.ThrowIfNull(tgt);
            ArgumentNullException.ThrowIfNull(memory);
            var layer = _layer;
            if (tgt.Rank == 2 && memory.Rank == 2)
            {
                // Unbatched tgt [L, E] and memory [S, E] (PyTorch takes them; batch_first does not apply): the batch of one.
                int b = TransformerCompiledLayout.BatchDim(layer.BatchFirst);
                return Forward(tgt.Unsqueeze(b), memory.Unsqueeze(b), tgtMask, memoryMask, TransformerCompiledLayout.OneRow(tgtKeyPaddingMask),
                    TransformerCompiledLayout.OneRow(memoryKeyPaddingMask)).Squeeze(b);
            }
            if (TransformerCompiledLayout.AnyHooks(_submodules) || TransformerCompiledLayout.MaskNeedsGrad(tgtMask, memoryMask, tgtKeyPaddingMask, memoryKeyPaddingMask))
            {
                return layer.Forward(tgt, memory, tgtMask, memoryMask, tgtKeyPaddingMask, memoryKeyPaddingMask);
            }
            TransformerCompiledLayout.CheckInput(Where, nameof(tgt), tgt, layer.BatchFirst, layer.DModel);
            TransformerCompiledLayout.CheckInput(Where, nameof(memory), memory, layer.BatchFirst, layer.DModel);
            var input = TransformerCompiledLayout.BatchFirst(tgt, layer.BatchFirst);
            var mem = TransformerCompiledLayout.BatchFirst(memory, layer.BatchFirst);
            int n = input.Size(0), l = input.Size(1), s = mem.Size(1), e = layer.DModel;
            if (mem.Size(0) != n)
            {
                throw new ArgumentException($"{Where}: tgt has batch {n} ({ShapeUtil.Format(tgt._shape)}) but memory has batch {mem.Size(0)} ({ShapeUtil.Format(memory._shape)}); they must be equal.",
                    nameof(memory));
            }
            using var call = _guard.Enter("Forward");
            var shape = new EncoderLayerShape(e, layer.Nhead, layer.DimFeedforward, l, layer.NormFirst, layer.Activation == "gelu", layer.LayerNormEps);
            var x = CompiledSupport.Dense(input, ref _inputCopy);
            var m = CompiledSupport.Dense(mem, ref _memoryCopy);
            var y = new float[n * l * e];
            CompiledSupport.DecoderLayerForward(layer, x, y, n, shape, _workspace, m, s, tgtMask, memoryMask, tgtKeyPaddingMask, memoryKeyPaddingMask);
            var result = CompiledSupport.Wrap(y, n, l, e);
            var parameters = layer.KernelParameters();
            var inputs = new Tensor?[2 + parameters.Length];
            inputs[0] = input;
            inputs[1] = mem;
            parameters.CopyTo(inputs, 2);
            if (CompiledSupport.ShouldRecord(inputs))
            {
                int generation = ++_generation;
                result = CompiledSupport.RecordCompiled(result, "TransformerDecoderLayerCompiledBackward", inputs,
                    (g, node) => Backward(g, node, generation, n, s, shape, parameters), input, mem);
            }
            return TransformerCompiledLayout.BatchFirst(result, layer.BatchFirst);
        }

        private Tensor?[] Backward(Tensor g, Node node, int generation, int n, int memorySteps, EncoderLayerShape shape, Tensor[] parameters)
        {
            using var call = _guard.Enter("Forward (backward)");
            if (generation != _generation) throw CompiledSupport.StaleBackward(Where);
            int count = n * shape.Steps * shape.DModel, memoryCount = n * memorySteps * shape.DModel;
            var gy = new float[count];
            CompiledSupport.CopyInto(g, gy, count);
            var gx = node.NeedsInputGrad(0) ? new float[count] : null;
            var gm = node.NeedsInputGrad(1) ? new float[memoryCount] : null;
            var weightGrads = new float[]?[parameters.Length];
            for (int k = 0; k < parameters.Length; k++)
            {
                if (node.NeedsInputGrad(2 + k)) weightGrads[k] = CompiledSupport.BindTapeGrad(node, 2 + k, parameters[k], ref _gradCaches[k]);
            }
            CompiledSupport.DecoderLayerBackward(_layer, gy, gx, weightGrads, n, shape, _workspace, memorySteps, gm);
            var grads = new Tensor?[2 + parameters.Length];
            if (gx is not null) grads[0] = CompiledSupport.Wrap(gx, n, shape.Steps, shape.DModel);
            if (gm is not null) grads[1] = CompiledSupport.Wrap(gm, n, memorySteps, shape.DModel);
            for (int k = 0; k < parameters.Length; k++)
            {
                if (weightGrads[k] is { } wg) grads[2 + k] = CompiledSupport.TapeGrad(parameters[k], wg, ref _gradCaches[k]);
            }
            return grads;
        }
    }
}

public sealed partial class TransformerDecoder
{
    /// <summary>
    /// The compiled program of this stack (PyTorch: <c>torch.compile(decoder)</c>), sharing its parameters: each layer runs
    /// its own compiled program (<see cref="TransformerDecoderLayer.Compile"/>: one fused kernel and one tape node per layer)
    /// over the same memory, in order, then the final norm when there is one. One instance per thread.
    /// </summary>
    public Compiled Compile() => new(this);

    /// <summary>The compiled program of a <see cref="TransformerDecoder"/> (<see cref="Compile"/>).</summary>
    public sealed class Compiled
    {
        private readonly TransformerDecoder _decoder;
        private readonly TransformerDecoderLayer.Compiled[] _layers;

        internal Compiled(TransformerDecoder decoder)
        {
            _decoder = decoder;
            _layers = decoder.Layers.Select(l => l.Compile()).ToArray();
            var breaks = _layers.SelectMany(l => l.Explanation.Breaks).Distinct().ToList();
            Explanation = new GraphExplanation(breaks.Count == 0 ? ["Forward"] : [], breaks);
        }

        /// <summary>What of the stack is compiled: its layers' breaks (PyTorch: <c>torch._dynamo.explain</c>).</summary>
        public GraphExplanation Explanation { get; }

        /// <summary>
        /// Runs the layers in order, then the norm (PyTorch: <c>forward(tgt, memory, tgt_mask=None, memory_mask=None,
        /// tgt_key_padding_mask=None, memory_key_padding_mask=None)</c>): the same result and gradients as <see cref="TransformerDecoder.Forward"/>.
        /// </summary>
        public Tensor Forward(Tensor tgt, Tensor memory, Tensor? tgtMask = null, Tensor? memoryMask = null, Tensor? tgtKeyPaddingMask = null,
            Tensor? memoryKeyPaddingMask = null)
        {
            var output = tgt;
            foreach (var layer in _layers) output = layer.Forward(output, memory, tgtMask, memoryMask, tgtKeyPaddingMask, memoryKeyPaddingMask);
            return _decoder.Norm is null ? output : _decoder.Norm.Forward(output);
        }
    }
}
