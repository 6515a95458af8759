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
        Tensor[] saved = [.. inputs.OfType<Tensor>(), packed];
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

    /// <summary>
    /// The arithmetic of <see cref="Sequence"/> on flat row-major arrays, and what its forward keeps for the backward:
    /// LSTM the gates after their nonlinearities (i, f, g, o) and the cells with their tanh; GRU the gates r, z, n and
    /// W_hn·h + b_hn; RNN nothing but the outputs.
    /// </summary>
    private sealed class SequenceKernel(string mode, int steps, int n, int h, bool reverse)
    {
        private readonly int _gates = Gates(mode);
        private Array? _act;      // [T, N, gates·H]: LSTM i, f, g, o; GRU r, z, n
        private Array? _aux;      // [T, N, H]: LSTM c_t; GRU W_hn·h + b_hn
        private Array? _tanhC;    // [T, N, H]: LSTM tanh(c_t)
        private Tensor? _packed;  // the forward's output (read by the backward for h_{t-1} and h_t)

        private int G => _gates * h;

        /// <summary>The time index of the k-th step.</summary>
        private int TimeOf(int k) => reverse ? steps - 1 - k : k;

        public Tensor Forward<T>(Tensor xwT, Tensor h0T, Tensor? c0T, Tensor wHhT, Tensor? bHhT)
            where T : unmanaged, IFloatingPointIeee754<T>
        {
            int g = G, nh = n * h;
            var xw = xwT.Contiguous().Span<T>();
            var w = wHhT.Contiguous();
            var wData = w.Data<T>();
            var bias = bHhT?.Contiguous().Span<T>().ToArray();
            var packed = Tensor.Empty([steps + (mode == "LSTM" ? 1 : 0), n, h], xwT.DType);
            var outData = packed.Data<T>();
            var h0 = h0T.Contiguous().Span<T>().ToArray();
            var act = new T[mode is "LSTM" or "GRU" ? steps * n * g : 0];
            var aux = new T[mode is "LSTM" or "GRU" ? steps * nh : 0];
            var tanhC = new T[mode == "LSTM" ? steps * nh : 0];
            var c0 = mode == "LSTM" ? (c0T is null ? new T[nh] : c0T.Contiguous().Span<T>().ToArray()) : null;
            var hw = new T[n * g];
            for (int k = 0; k < steps; k++)
            {
                int t = TimeOf(k), prev = TimeOf(k - 1);
                // hw = h_{t-1}·W_hhᵀ + b_hh
                var hPrev = k == 0 ? h0 : outData;
                int hPrevOffset = k == 0 ? 0 : prev * nh;
                GemmT(false, true, n, g, h, hPrev, hPrevOffset, h, wData, w.Offset, h, hw, 0, g);
                if (bias is not null)
                {
                    for (int r = 0; r < n; r++) TensorPrimitives.Add(hw.AsSpan(r * g, g), bias, hw.AsSpan(r * g, g));
                }
                var x = xw.Slice(t * n * g, n * g);
                var hOut = outData.AsSpan(t * nh, nh);
                switch (mode)
                {
                    case "LSTM":
                    {
                        var a = act.AsSpan(t * n * g, n * g);
                        TensorPrimitives.Add(x, hw, a);
                        var cPrev = k == 0 ? c0.AsSpan() : aux.AsSpan(prev * nh, nh);
                        var c = aux.AsSpan(t * nh, nh);
                        var tc = tanhC.AsSpan(t * nh, nh);
                        for (int r = 0; r < n; r++)
                        {
                            var row = a.Slice(r * g, g);
                            TensorPrimitives.Sigmoid(row[..(2 * h)], row[..(2 * h)]);        // i, f
                            TensorPrimitives.Tanh(row.Slice(2 * h, h), row.Slice(2 * h, h));   // g
                            TensorPrimitives.Sigmoid(row.Slice(3 * h, h), row.Slice(3 * h, h)); // o
                            var cr = c.Slice(r * h, h);
                            TensorPrimitives.Multiply(row.Slice(h, h), cPrev.Slice(r * h, h), cr);    // c = f·c_{t-1} + i·g
                            TensorPrimitives.FusedMultiplyAdd(row[..h], row.Slice(2 * h, h), cr, cr);
                            TensorPrimitives.Tanh(cr, tc.Slice(r * h, h));
                            TensorPrimitives.Multiply(row.Slice(3 * h, h), tc.Slice(r * h, h), hOut.Slice(r * h, h)); // h = o·tanh(c)
                        }
                        break;
                    }
                    case "GRU":
                    {
                        var a = act.AsSpan(t * n * g, n * g);
                        var hnOut = aux.AsSpan(t * nh, nh);
                        var hp = hPrev.AsSpan(hPrevOffset, nh);
                        for (int r = 0; r < n; r++)
                        {
                            var row = a.Slice(r * g, g);
                            var xr = x.Slice(r * g, g);
                            var hr = hw.AsSpan(r * g, g);
                            TensorPrimitives.Add(xr[..(2 * h)], hr[..(2 * h)], row[..(2 * h)]);
                            TensorPrimitives.Sigmoid(row[..(2 * h)], row[..(2 * h)]);        // r, z
                            hr.Slice(2 * h, h).CopyTo(hnOut.Slice(r * h, h));                 // W_hn·h + b_hn
                            var nn = row.Slice(2 * h, h);
                            TensorPrimitives.FusedMultiplyAdd(row[..h], hr.Slice(2 * h, h), xr.Slice(2 * h, h), nn); // x_n + r·hn
                            TensorPrimitives.Tanh(nn, nn);
                            var ho = hOut.Slice(r * h, h);
                            TensorPrimitives.Subtract(hp.Slice(r * h, h), nn, ho);            // h' = n + z·(h − n)
                            TensorPrimitives.FusedMultiplyAdd(row.Slice(h, h), ho, nn, ho);
                        }
                        break;
                    }
                    default:
                        TensorPrimitives.Add(x, hw, hOut);
                        if (mode == "RNN_RELU") TensorPrimitives.Max(hOut, T.Zero, hOut);
                        else TensorPrimitives.Tanh(hOut, hOut);
                        break;
                }
            }
            if (mode == "LSTM") aux.AsSpan(TimeOf(steps - 1) * nh, nh).CopyTo(outData.AsSpan(steps * nh, nh)); // c_T
            (_act, _aux, _tanhC, _packed) = (act, aux, tanhC, packed);
            return packed;
        }

        public Tensor?[] Backward<T>(Tensor gT, Node node, Tensor wHhT, Tensor h0T, Tensor? c0T)
            where T : unmanaged, IFloatingPointIeee754<T>
        {
            int g = G, nh = n * h;
            var gOut = gT.Contiguous().Span<T>();
            var act = (T[])_act!;
            var aux = (T[])_aux!;
            var tanhC = (T[])_tanhC!;
            var outData = _packed!.Data<T>();
            var w = wHhT.Contiguous();
            var wData = w.Data<T>();
            var h0 = h0T.Contiguous().Span<T>().ToArray();
            var c0 = mode == "LSTM" ? (c0T is null ? new T[nh] : c0T.Contiguous().Span<T>().ToArray()) : null;
            var dXw = Tensor.Empty([steps, n, g], gT.DType);
            var dx = dXw.Data<T>();
            // The gradient reaching W_hh·h + b_hh: the same as dXw except for GRU's n gate (r·(W_hn·h + b_hn)).
            var dHw = mode == "GRU" ? new T[steps * n * g] : dx;
            var dh = new T[nh];        // the gradient of h_t: from the output at t and from step t + 1
            var dhNext = new T[nh];
            var dc = mode == "LSTM" ? gOut.Slice(steps * nh, nh).ToArray() : null; // the gradient of c_t, from c_T at first
            var one = T.One;
            for (int k = steps - 1; k >= 0; k--)
            {
                int t = TimeOf(k), prev = TimeOf(k - 1);
                TensorPrimitives.Add(gOut.Slice(t * nh, nh), dhNext, dh);
                var dxt = dx.AsSpan(t * n * g, n * g);
                switch (mode)
                {
                    case "LSTM":
                    {
                        var a = act.AsSpan(t * n * g, n * g);
                        var tc = tanhC.AsSpan(t * nh, nh);
                        var cPrev = k == 0 ? c0.AsSpan() : aux.AsSpan(prev * nh, nh);
                        for (int r = 0; r < n; r++)
                        {
                            int ro = r * g, so = r * h;
                            for (int j = 0; j < h; j++)
                            {
                                T i = a[ro + j], f = a[ro + h + j], gg = a[ro + 2 * h + j], o = a[ro + 3 * h + j];
                                T th = tc[so + j], dhj = dh[so + j];
                                T dcj = dc![so + j] + dhj * o * (one - th * th);
                                dxt[ro + j] = dcj * gg * i * (one - i);                 // i
                                dxt[ro + h + j] = dcj * cPrev[so + j] * f * (one - f);  // f
                                dxt[ro + 2 * h + j] = dcj * i * (one - gg * gg);        // g
                                dxt[ro + 3 * h + j] = dhj * th * o * (one - o);         // o
                                dc[so + j] = dcj * f;                                   // to c_{t-1}
                            }
                        }
                        Array.Clear(dhNext);
                        break;
                    }
                    case "GRU":
                    {
                        var a = act.AsSpan(t * n * g, n * g);
                        var hn = aux.AsSpan(t * nh, nh);
                        var hp = k == 0 ? h0.AsSpan() : outData.AsSpan(prev * nh, nh);
                        var dht = dHw.AsSpan(t * n * g, n * g);
                        for (int r = 0; r < n; r++)
                        {
                            int ro = r * g, so = r * h;
                            for (int j = 0; j < h; j++)
                            {
                                T rr = a[ro + j], z = a[ro + h + j], nn = a[ro + 2 * h + j], dhj = dh[so + j];
                                T dn = dhj * (one - z) * (one - nn * nn);
                                T dz = dhj * (hp[so + j] - nn) * z * (one - z);
                                T dr = dn * hn[so + j] * rr * (one - rr);
                                dxt[ro + j] = dr;
                                dxt[ro + h + j] = dz;
                                dxt[ro + 2 * h + j] = dn;
                                dht[ro + j] = dr;
                                dht[ro + h + j] = dz;
                                dht[ro + 2 * h + j] = dn * rr;
                                dhNext[so + j] = dhj * z;                               // h' = n + z·(h − n): ∂h'/∂h = z
                            }
                        }
                        break;
                    }
                    default:
                    {
                        var ho = outData.AsSpan(t * nh, nh);
                        for (int e = 0; e < nh; e++)
                        {
                            T y = ho[e];
                            dxt[e] = mode == "RNN_RELU" ? (y > T.Zero ? dh[e] : T.Zero) : dh[e] * (one - y * y);
                        }
                        Array.Clear(dhNext);
                        break;
                    }
                }
                // dh_{t-1} += dHw_t · W_hh
                GemmT(false, false, n, h, g, dHw, t * n * g, g, wData, w.Offset, h, dhNext, 0, h, beta: T.One);
            }

            var grads = new Tensor?[5];
            if (node.NeedsInputGrad(0)) grads[0] = dXw;
            if (node.NeedsInputGrad(1)) grads[1] = NewTensor<T>(dhNext, [n, h], gT.DType);
            if (node.NeedsInputGrad(2) && dc is not null) grads[2] = NewTensor<T>(dc, [n, h], gT.DType);
            if (node.NeedsInputGrad(3))
            {
                // dW_hh = Σ_t dHw_tᵀ·h_{t-1}: one GEMM over the T·N rows, with h_{t-1} laid out by t.
                var hPrev = new T[steps * nh];
                for (int k = 0; k < steps; k++)
                {
                    var src = k == 0 ? h0.AsSpan() : outData.AsSpan(TimeOf(k - 1) * nh, nh);
                    src.CopyTo(hPrev.AsSpan(TimeOf(k) * nh, nh));
                }
                var dW = Tensor.Empty([g, h], gT.DType);
                GemmT(true, false, g, h, steps * n, dHw, 0, g, hPrev, 0, h, dW.Data<T>(), 0, h);
                grads[3] = dW;
            }
            if (node.NeedsInputGrad(4))
            {
                var db = Tensor.Empty([g], gT.DType);
                var dbs = db.Data<T>().AsSpan(0, g);
                for (int row = 0; row < steps * n; row++) TensorPrimitives.Add(dbs, dHw.AsSpan(row * g, g), dbs);
                grads[4] = db;
            }
            return grads;
        }

        private static Tensor NewTensor<T>(T[] values, int[] shape, DType dtype) where T : unmanaged
        {
            var t = Tensor.Empty(shape, dtype);
            values.CopyTo(t.Data<T>(), 0);
            return t;
        }

        private static void GemmT<T>(bool transA, bool transB, int m, int nn, int kk, T[] a, int aOffset, int lda, T[] b, int bOffset, int ldb,
            T[] c, int cOffset, int ldc, T? beta = null) where T : unmanaged, IFloatingPointIeee754<T>
        {
            if (a is float[] af) Gemm.Sgemm(transA, transB, m, nn, kk, 1f, af, aOffset, lda, (float[])(object)b, bOffset, ldb, beta is null ? 0f : float.CreateTruncating(beta.Value), (float[])(object)c, cOffset, ldc);
            else Gemm.Dgemm(transA, transB, m, nn, kk, 1.0, (double[])(object)a, aOffset, lda, (double[])(object)b, bOffset, ldb, beta is null ? 0.0 : double.CreateTruncating(beta.Value), (double[])(object)c, cOffset, ldc);
        }
    }
}
