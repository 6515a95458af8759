using System.Numerics;
using System.Numerics.Tensors;
using SharpGrad.Kernels;

namespace SharpGrad.Layers;

// The recurrence of one layer and direction over a whole sequence as one autograd node: the forward runs the time loop
// over flat arrays (per step one GEMM h·W_hhᵀ and the gate arithmetic in one pass), and the backward runs the time loop
// backwards (per step the gate derivatives and one GEMM for the gradient of h), then the gradients of W_hh and b_hh for all
// steps at once (one GEMM over T·N rows). Recurrence.Step — the same step written with tensor ops — stays the definition:
// the cells use it, and a backward that must itself be differentiable (createGraph) re-runs the steps with it.
internal static partial class Recurrence
{
    /// <summary>
    /// Runs the recurrence over <paramref name="xw"/> = W_ih·x + b_ih [T, N, gates·H] from <paramref name="h0"/> (and
    /// <paramref name="c0"/> for LSTM) [N, H], backwards in time when <paramref name="reverse"/>. Returns the outputs
    /// [T, N, H] in time order and the final states, the same values as <see cref="Step"/> applied T times.
    /// </summary>
    public static (Tensor Output, Tensor HN, Tensor? CN) Sequence(string mode, Tensor xw, Tensor h0, Tensor? c0, Tensor wHh, Tensor? bHh, bool reverse)
    {
        int steps = xw._shape[0];
        bool lstm = mode == "LSTM";
        if (steps == 0) return (Tensor.Zeros([0, h0._shape[0], h0._shape[1]], xw.DType), h0, c0);
        var kernel = new SequenceKernel(mode, steps, h0._shape[0], h0._shape[1], reverse);
        // One output for the node (a node produces one tensor): the outputs [T, N, H], then c_T for LSTM.
        var packed = xw.DType == DType.Float32
            ? kernel.Forward<float>(xw, h0, c0, wHh, bHh)
            : kernel.Forward<double>(xw, h0, c0, wHh, bHh);
        Tensor?[] inputs = [xw, h0, c0, wHh, bHh];
        // The backward reads W_hh, h_0, c_0 and the outputs (and, recorded, re-runs from every input): an in-place change to
        // any of them before it is an error, as for the ops of Step.
        Tensor[] saved = [.. inputs.OfType<Tensor>(), packed, .. kernel.Kept];
        if (!Tensor.ShouldRecord(inputs))
        {
            kernel.RecycleKept();
            return (packed.Narrow(0, 0, steps), packed.Select(0, reverse ? 0 : steps - 1), lstm ? packed.Select(0, steps) : null);
        }
        packed = Tensor.Record(packed, lstm ? "LstmBackward" : mode == "GRU" ? "GruBackward" : "RnnBackward", inputs, (g, node) =>
        {
            if (Autograd.IsGradEnabled) return DifferentiableBackward(mode, g, node, inputs, reverse);
            return xw.DType == DType.Float32 ? kernel.Backward<float>(g, node, wHh, h0, c0) : kernel.Backward<double>(g, node, wHh, h0, c0);
        }, saved);
        var output = packed.Narrow(0, 0, steps);
        var hN = packed.Select(0, reverse ? 0 : steps - 1);
        return (output, hN, lstm ? packed.Select(0, steps) : null);
    }

    /// <summary>The steps written with tensor ops (<see cref="Step"/>), packed like <see cref="Sequence"/>'s output.</summary>
    internal static Tensor StepByStep(string mode, Tensor xw, Tensor h0, Tensor? c0, Tensor wHh, Tensor? bHh, bool reverse)
    {
        int steps = xw._shape[0];
        var perStep = new Tensor[steps];
        Tensor h = h0;
        Tensor? c = c0;
        for (int k = 0; k < steps; k++)
        {
            int t = reverse ? steps - 1 - k : k;
            (h, c) = Step(mode, xw.Select(0, t), h, c, wHh, bHh);
            perStep[t] = h.Unsqueeze(0);
        }
        return Tensor.Cat(c is null ? perStep : [.. perStep, c.Unsqueeze(0)], 0);
    }

    /// <summary>
    /// The backward of <see cref="Sequence"/> when it must itself be recorded (createGraph: grad mode is on during the
    /// backward): the steps are re-run from the same inputs with tensor ops and differentiated by autograd.
    /// </summary>
    private static Tensor?[] DifferentiableBackward(string mode, Tensor g, Node node, Tensor?[] inputs, bool reverse)
    {
        var wanted = Enumerable.Range(0, inputs.Length).Where(node.NeedsInputGrad).ToArray();
        var again = StepByStep(mode, inputs[0]!, inputs[1]!, inputs[2], inputs[3]!, inputs[4], reverse);
        var grads = Autograd.Grad([again], wanted.Select(i => inputs[i]!).ToArray(), [g], createGraph: true, allowUnused: true);
        var result = new Tensor?[inputs.Length];
        for (int j = 0; j < wanted.Length; j++) result[wanted[j]] = grads[j] ?? Tensor.Zeros(inputs[wanted[j]]!._shape, g.DType);
        return result;
    }

    /// <summary>The kernel's mode of a layer's mode string.</summary>
    internal static RecurrentMode KernelMode(string mode) => mode switch
    {
        "LSTM" => RecurrentMode.Lstm,
        "GRU" => RecurrentMode.Gru,
        "RNN_RELU" => RecurrentMode.RnnRelu,
        _ => RecurrentMode.RnnTanh,
    };

    /// <summary>
    /// <see cref="Sequence"/>'s node on tensors: <see cref="RecurrentKernel"/> (shared with compiled programs) over the
    /// tensors' arrays, with the buffers the forward keeps for the backward.
    /// </summary>
    private sealed class SequenceKernel(string mode, int steps, int n, int h, bool reverse)
    {
        private readonly RecurrenceShape _shape = new(KernelMode(mode), steps, n, h, reverse);
        private object? _buffers;  // RecurrenceBuffers<T>: what the forward kept
        private Tensor? _packed;   // the forward's output (read by the backward for h_{t-1} and h_t)

        /// <summary>
        /// What the forward keeps for the backward (gates, cells, tanh of the cells) as internal tensors: the node saves them,
        /// so they go back to the caching allocator when it is released instead of being new arrays every step.
        /// </summary>
        public Tensor[] Kept { get; private set; } = [];

        /// <summary>Gives the kept arrays back at once (nothing recorded: no backward will read them).</summary>
        public void RecycleKept()
        {
            foreach (var t in Kept) t.Storage.TryRecycle();
            Kept = [];
        }

        public Tensor Forward<T>(Tensor xwT, Tensor h0T, Tensor? c0T, Tensor wHhT, Tensor? bHhT)
            where T : unmanaged, IFloatingPointIeee754<T>
        {
            int nh = n * h;
            bool lstm = _shape.Mode == RecurrentMode.Lstm;
            var w = wHhT.Contiguous();
            var packed = Tensor.Empty([steps + (lstm ? 1 : 0), n, h], xwT.DType);
            var outData = packed.Data<T>();
            var buffers = new RecurrenceBuffers<T> { Pooled = true };
            bool gated = _shape.Mode is RecurrentMode.Lstm or RecurrentMode.Gru;
            int[] sizes = [gated ? steps * n * _shape.GateWidth : 0, gated ? steps * nh : 0, lstm ? steps * nh : 0];
            Kept = sizes.Select(len => Tensor.Empty([len], xwT.DType)).ToArray();
            foreach (var t in Kept) t.Storage.Internal = true; // only this node reaches them
            buffers.Adopt(Kept[0].Data<T>(), Kept[1].Data<T>(), Kept[2].Data<T>());
            RecurrentKernel.Forward(_shape, xwT.Contiguous().Span<T>(), h0T.Contiguous().Span<T>().ToArray(),
                c0T is null ? default : c0T.Contiguous().Span<T>(), w.Data<T>(), w.Offset, bHhT is null ? default : bHhT.Contiguous().Span<T>(),
                outData, lstm ? outData.AsSpan(steps * nh, nh) : default, buffers);
            (_buffers, _packed) = (buffers, packed);
            return packed;
        }

        public Tensor?[] Backward<T>(Tensor gT, Node node, Tensor wHhT, Tensor h0T, Tensor? c0T)
            where T : unmanaged, IFloatingPointIeee754<T>
        {
            int g = _shape.GateWidth, nh = n * h;
            bool lstm = _shape.Mode == RecurrentMode.Lstm;
            var gOut = gT.Contiguous().Span<T>();
            var w = wHhT.Contiguous();
            var dXw = Tensor.Empty([steps, n, g], gT.DType);
            var grads = new Tensor?[5];
            if (node.NeedsInputGrad(1)) grads[1] = Tensor.Zeros([n, h], gT.DType);
            if (node.NeedsInputGrad(2) && lstm) grads[2] = Tensor.Zeros([n, h], gT.DType);
            if (node.NeedsInputGrad(3)) grads[3] = Tensor.Zeros([g, h], gT.DType);
            if (node.NeedsInputGrad(4)) grads[4] = Tensor.Zeros([g], gT.DType);
            RecurrentKernel.Backward(_shape, gOut[..(steps * nh)], lstm ? gOut.Slice(steps * nh, nh) : default, _packed!.Data<T>(),
                h0T.Contiguous().Span<T>().ToArray(), c0T is null ? default : c0T.Contiguous().Span<T>(), w.Data<T>(), w.Offset, dXw.Data<T>(),
                grads[1] is { } dh0 ? dh0.Data<T>().AsSpan(0, nh) : default, grads[2] is { } dc0 ? dc0.Data<T>().AsSpan(0, nh) : default,
                grads[3]?.Data<T>(), grads[4] is { } db ? db.Data<T>().AsSpan(0, g) : default, (RecurrenceBuffers<T>)_buffers!);
            if (node.NeedsInputGrad(0)) grads[0] = dXw;
            return grads;
        }
    }
}
