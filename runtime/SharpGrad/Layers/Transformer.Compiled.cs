using SharpGrad.Kernels;

namespace SharpGrad.Layers;

// The compiled programs of the built-in Transformer encoder layer and stack: what `Compile()` gives for a user's [Module],
// written by hand over the fused kernel the generated programs call (Kernels/TransformerLayer.cs through
// CompiledSupport.EncoderLayerForward/Backward). A parent program that runs a list of children whose count the constructor
// sets (ElementPrograms: `__elements.Of(layer, static e => e.Compile())`) runs these for the built-in layers.

public sealed partial class TransformerEncoderLayer
{
    /// <summary>
    /// The compiled program of this layer (PyTorch: <c>torch.compile(layer)</c>), sharing its parameters: each call is one
    /// fused kernel (self-attention, residuals, LayerNorms, feed-forward) and one node on the tape. Batch first and dropout
    /// inactive (p = 0 or eval mode) compile; a layer with <c>batch_first=False</c>, or dropout in training mode, runs eagerly
    /// (its <see cref="Compiled.Explanation"/> says so). One instance per thread, as every compiled program.
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
        private readonly CompiledCallGuard _guard = new("TransformerEncoderLayer.Compiled");
        private readonly EncoderLayerWorkspace _workspace = new();
        private readonly Tensor?[] _gradCaches = new Tensor?[12];
        private float[]? _inputCopy;
        private int _generation;

        internal Compiled(TransformerEncoderLayer layer)
        {
            _layer = layer;
            var breaks = new List<GraphBreak>();
            if (!layer.BatchFirst)
            {
                breaks.Add(new GraphBreak("Forward", "TransformerEncoderLayer", "a TransformerEncoderLayer with batch_first=False (its sequences are [T, N, E], batch second)",
                    "build it with batchFirst: true"));
            }
            if (layer.DropoutP > 0)
            {
                breaks.Add(new GraphBreak("Forward", "TransformerEncoderLayer", $"dropout {layer.DropoutP} in training mode (eval mode is compiled)",
                    "build it with dropout: 0.0, or call it in eval mode"));
            }
            Explanation = new GraphExplanation(breaks.Count == 0 ? ["Forward"] : [], breaks);
        }

        /// <summary>What of the layer is compiled (PyTorch: <c>torch._dynamo.explain</c>).</summary>
        public GraphExplanation Explanation { get; }

        /// <summary>
        /// Runs the layer (PyTorch: <c>forward(src, src_mask=None, src_key_padding_mask=None)</c>): the same result and gradients as
        /// <see cref="TransformerEncoderLayer.Forward"/>. <paramref name="src"/> is float32 [N, T, d_model]; the masks are data
        /// (Bool true: not attended; float: added), <paramref name="srcMask"/> [T, T] or [N·nhead, T, T],
        /// <paramref name="srcKeyPaddingMask"/> [N, T]. Call Backward through an output before calling Forward again.
        /// </summary>
        public Tensor Forward(Tensor src, Tensor? srcMask = null, Tensor? srcKeyPaddingMask = null)
        {
            ArgumentNullException.ThrowIfNull(src);
            var layer = _layer;
            if (!layer.BatchFirst || (layer.Training && layer.DropoutP > 0)) return layer.Forward(src, srcMask, srcKeyPaddingMask);
            if (src.DType != DType.Float32 || src.Rank != 3 || src.Size(2) != layer.DModel)
            {
                throw new ArgumentException(
                    $"{Where}: expected src of float32 [N, T, {layer.DModel}] (batch first), but got {src.DType} {ShapeUtil.Format(src._shape)}.", nameof(src));
            }
            using var call = _guard.Enter("Forward");
            int n = src.Size(0), t = src.Size(1);
            var shape = new EncoderLayerShape(layer.DModel, layer.Nhead, layer.DimFeedforward, t, layer.NormFirst, layer.Activation == "gelu", layer.LayerNormEps);
            var x = CompiledSupport.Dense(src, ref _inputCopy);
            var y = new float[n * t * layer.DModel];
            CompiledSupport.EncoderLayerForward(layer, x, y, n, shape, _workspace, srcMask, srcKeyPaddingMask);
            var result = CompiledSupport.Wrap(y, n, t, layer.DModel);
            var parameters = layer.KernelParameters();
            var inputs = new Tensor?[1 + parameters.Length];
            inputs[0] = src;
            parameters.CopyTo(inputs, 1);
            if (!CompiledSupport.ShouldRecord(inputs)) return result;
            int generation = ++_generation;
            return CompiledSupport.RecordCompiled(result, "TransformerEncoderLayerCompiledBackward", inputs,
                (g, node) => Backward(g, node, generation, n, shape, parameters), src);
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
