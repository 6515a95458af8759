namespace SharpGrad;

public static partial class Losses
{
    /// <summary>
    /// The Connectionist Temporal Classification loss (PyTorch: <c>F.ctc_loss(log_probs, targets, input_lengths, target_lengths,
    /// blank=0, reduction='mean', zero_infinity=False)</c>): the negative log-likelihood of each target sequence summed over all
    /// its alignments with the input frames, computed by the forward–backward algorithm in double precision.
    /// </summary>
    /// <param name="logProbs">Log-probabilities [T, N, C] (or [T, C] for one sequence), e.g. from <c>LogSoftmax(2)</c>.</param>
    /// <param name="targets">Int64 labels: padded [N, S] (or [S] for one sequence), or all target sequences concatenated into one 1-d tensor.</param>
    /// <param name="inputLengths">The number of valid frames of each sequence (each ≤ T).</param>
    /// <param name="targetLengths">The length of each target sequence.</param>
    /// <param name="blank">The blank class (PyTorch: <c>blank</c>); targets must not contain it.</param>
    /// <param name="reduction">None ([N] per-sequence losses), Mean (each loss divided by its target length, then the mean over the batch) or Sum.</param>
    /// <param name="zeroInfinity">Replace infinite losses (targets that no alignment can produce) and their gradients by zero (PyTorch: <c>zero_infinity</c>).</param>
    /// <remarks>
    /// As in PyTorch, the gradient with respect to <paramref name="logProbs"/> is computed as if they were the output of a
    /// log-softmax over C (it is exp(logProbs) − posterior), so that backpropagating through <c>LogSoftmax</c> gives the exact
    /// gradient of the logits. Feed it log-softmax outputs.
    /// </remarks>
    public static Tensor Ctc(Tensor logProbs, Tensor targets, IReadOnlyList<int> inputLengths, IReadOnlyList<int> targetLengths, int blank = 0,
        Reduction reduction = Reduction.Mean, bool zeroInfinity = false)
    {
        ArgumentNullException.ThrowIfNull(logProbs);
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentNullException.ThrowIfNull(inputLengths);
        ArgumentNullException.ThrowIfNull(targetLengths);
        RequireFloat("Ctc", logProbs, "logProbs");
        bool batched = logProbs.Rank == 3;
        if (logProbs.Rank is not (2 or 3))
        {
            throw new ArgumentException($"Ctc: logProbs must be [T, N, C] (or [T, C] for one sequence), but got shape {ShapeUtil.Format(logProbs._shape)}.");
        }
        int T = logProbs._shape[0], n = batched ? logProbs._shape[1] : 1, c = logProbs._shape[^1];
        if (blank < 0 || blank >= c) throw new ArgumentException($"Ctc: blank must be a class index in [0, {c - 1}], but got {blank}.");
        if (inputLengths.Count != n || targetLengths.Count != n)
        {
            throw new ArgumentException($"Ctc: expected {n} input lengths and {n} target lengths (one per sequence of logProbs {ShapeUtil.Format(logProbs._shape)}), but got {inputLengths.Count} and {targetLengths.Count}.");
        }
        if (targets.DType is not (DType.Int64 or DType.Int32))
        {
            throw new ArgumentException($"Ctc: targets must be Int64 class indices, but got {targets.DType} (shape {ShapeUtil.Format(targets._shape)}).");
        }
        var tgt = targets.ToLongArray();
        // Where each sequence's labels start in tgt: rows of a padded [N, S] tensor, or consecutive runs of a concatenated 1-d one.
        var starts = new int[n];
        bool padded = batched ? targets.Rank == 2 : true;
        if (batched && targets.Rank is not (1 or 2))
        {
            throw new ArgumentException($"Ctc: targets must be padded [N, S] or concatenated 1-d, but got shape {ShapeUtil.Format(targets._shape)}.");
        }
        if (!batched && targets.Rank != 1)
        {
            throw new ArgumentException($"Ctc: for unbatched logProbs {ShapeUtil.Format(logProbs._shape)} the target must be 1-d, but got shape {ShapeUtil.Format(targets._shape)}.");
        }
        if (batched && padded && targets._shape[0] != n)
        {
            throw new ArgumentException($"Ctc: padded targets must have {n} rows (the batch of logProbs), but got shape {ShapeUtil.Format(targets._shape)}.");
        }
        int rowLength = padded ? targets._shape[^1] : 0, offset = 0;
        for (int b = 0; b < n; b++)
        {
            int il = inputLengths[b], tl = targetLengths[b];
            if (il < 0 || il > T) throw new ArgumentException($"Ctc: input length {il} of sequence {b} must be in [0, {T}] (T is logProbs' first dimension).");
            if (tl < 0) throw new ArgumentException($"Ctc: target length {tl} of sequence {b} is negative.");
            if (padded)
            {
                if (tl > rowLength) throw new ArgumentException($"Ctc: target length {tl} of sequence {b} exceeds the padded targets' length {rowLength}.");
                starts[b] = b * rowLength;
            }
            else
            {
                starts[b] = offset;
                offset += tl;
            }
        }
        if (!padded && offset != tgt.Length)
        {
            throw new ArgumentException($"Ctc: the target lengths add up to {offset}, but the concatenated targets hold {tgt.Length} labels.");
        }
        for (int b = 0; b < n; b++)
        {
            for (int s = 0; s < targetLengths[b]; s++)
            {
                long y = tgt[starts[b] + s];
                if (y < 0 || y >= c || y == blank)
                {
                    throw new ArgumentException($"Ctc: target {y} (sequence {b}, position {s}) must be a class in [0, {c - 1}] other than the blank ({blank}).");
                }
            }
        }

        var kernel = new CtcKernel(T, n, c, tgt, starts, inputLengths.ToArray(), targetLengths.ToArray(), blank, zeroInfinity);
        var lp = (batched ? logProbs : logProbs.Unsqueeze(1)).Contiguous();
        var nll = kernel.Forward(lp.ToDoubleArray());
        double[] perSeq = (double[])nll.Clone();
        for (int b = 0; b < n; b++)
        {
            if (zeroInfinity && double.IsPositiveInfinity(perSeq[b])) perSeq[b] = 0;
        }
        Tensor result;
        double[] scale = new double[n]; // d result / d nll[b]
        switch (reduction)
        {
            case Reduction.None:
                result = Tensor.FromArray(perSeq, n).Reshape(batched ? [n] : []).To(logProbs.DType);
                Array.Fill(scale, 1);
                break;
            case Reduction.Sum:
                result = Tensor.Full([], perSeq.Sum(), logProbs.DType);
                Array.Fill(scale, 1);
                break;
            case Reduction.Mean:
                double mean = 0;
                for (int b = 0; b < n; b++)
                {
                    scale[b] = 1.0 / Math.Max(targetLengths[b], 1) / n;
                    mean += perSeq[b] * scale[b];
                }
                result = Tensor.Full([], mean, logProbs.DType);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(reduction), reduction, "Unknown reduction.");
        }
        if (!ShouldRecordInput(logProbs)) return result;
        var inputShape = logProbs._shape;
        result.SetGradFn(new Node("CtcLossBackward", [logProbs], (g, node) =>
        {
            if (Autograd.IsGradEnabled)
            {
                throw new NotSupportedException("Ctc: the CTC loss can't be differentiated twice (createGraph: true), as in PyTorch.");
            }
            var gs = g.ToDoubleArray();
            var seedPerSeq = new double[n];
            for (int b = 0; b < n; b++) seedPerSeq[b] = scale[b] * (reduction == Reduction.None ? gs[b] : gs[0]);
            return [Tensor.FromArray(kernel.Backward(seedPerSeq), inputShape).To(logProbs.DType)];
        }, null));
        return result;
    }

    /// <summary>The CTC loss with the lengths given as Int64 tensors [N] (or 0-d for one sequence), as PyTorch takes them.</summary>
    public static Tensor Ctc(Tensor logProbs, Tensor targets, Tensor inputLengths, Tensor targetLengths, int blank = 0,
        Reduction reduction = Reduction.Mean, bool zeroInfinity = false)
    {
        ArgumentNullException.ThrowIfNull(inputLengths);
        ArgumentNullException.ThrowIfNull(targetLengths);
        static int[] Ints(Tensor t, string name)
        {
            if (t.DType is not (DType.Int64 or DType.Int32) || t.Rank > 1)
            {
                throw new ArgumentException($"Ctc: {name} must be an Int64 tensor [N] (or 0-d), but got {t.DType} of shape {ShapeUtil.Format(t._shape)}.");
            }
            return t.ToLongArray().Select(v => v is >= int.MinValue and <= int.MaxValue ? (int)v : throw new ArgumentException($"Ctc: {name} holds {v}, which is out of range.")).ToArray();
        }
        return Ctc(logProbs, targets, Ints(inputLengths, "inputLengths"), Ints(targetLengths, "targetLengths"), blank, reduction, zeroInfinity);
    }

    /// <summary>The forward–backward recursions of CTC over the extended label sequence (blanks between and around the labels).</summary>
    private sealed class CtcKernel(int maxT, int n, int c, long[] targets, int[] starts, int[] inputLengths, int[] targetLengths, int blank, bool zeroInfinity)
    {
        private double[][]? _logAlpha;
        private double[]? _nll;
        private double[]? _lp;

        private int Label(int b, int s) => (s & 1) == 0 ? blank : (int)targets[starts[b] + (s >> 1)];

        private static double LogAddExp(double a, double b, double c2)
        {
            double m = Math.Max(a, Math.Max(b, c2));
            if (double.IsNegativeInfinity(m)) return double.NegativeInfinity;
            return m + Math.Log(Math.Exp(a - m) + Math.Exp(b - m) + Math.Exp(c2 - m));
        }

        public double[] Forward(double[] lp)
        {
            _lp = lp;
            _logAlpha = new double[n][];
            _nll = new double[n];
            for (int b = 0; b < n; b++)
            {
                int len = inputLengths[b], S = 2 * targetLengths[b] + 1;
                var alpha = new double[Math.Max(len, 1) * S];
                _logAlpha[b] = alpha;
                Array.Fill(alpha, double.NegativeInfinity);
                if (len == 0)
                {
                    _nll[b] = S == 1 ? 0 : double.PositiveInfinity;
                    continue;
                }
                double LP(int t, int s) => lp[(t * n + b) * c + Label(b, s)];
                alpha[0] = LP(0, 0);
                if (S > 1) alpha[1] = LP(0, 1);
                for (int t = 1; t < len; t++)
                {
                    for (int s = 0; s < S; s++)
                    {
                        double a1 = alpha[(t - 1) * S + s];
                        double a2 = s > 0 ? alpha[(t - 1) * S + s - 1] : double.NegativeInfinity;
                        double a3 = s > 1 && Label(b, s - 2) != Label(b, s) ? alpha[(t - 1) * S + s - 2] : double.NegativeInfinity;
                        double sum = LogAddExp(a1, a2, a3);
                        alpha[t * S + s] = double.IsNegativeInfinity(sum) ? sum : sum + LP(t, s);
                    }
                }
                double last = alpha[(len - 1) * S + S - 1];
                double beforeLast = S > 1 ? alpha[(len - 1) * S + S - 2] : double.NegativeInfinity;
                _nll[b] = -LogAddExp(last, beforeLast, double.NegativeInfinity);
            }
            return _nll;
        }

        /// <summary>PyTorch's gradient: exp(lp) − exp(log(Σ α·β over the positions of class k) + nll − lp), times the seed, zero past each input length.</summary>
        public double[] Backward(double[] seed)
        {
            var lp = _lp!;
            var gs = new double[maxT * n * c];
            var lcab = new double[c];
            for (int b = 0; b < n; b++)
            {
                int len = inputLengths[b], S = 2 * targetLengths[b] + 1;
                double nll = _nll![b];
                if (len == 0 || (zeroInfinity && double.IsPositiveInfinity(nll))) continue;
                var alpha = _logAlpha![b];
                double LP(int t, int s) => lp[(t * n + b) * c + Label(b, s)];
                var beta = new double[len * S];
                Array.Fill(beta, double.NegativeInfinity);
                beta[(len - 1) * S + S - 1] = LP(len - 1, S - 1);
                if (S > 1) beta[(len - 1) * S + S - 2] = LP(len - 1, S - 2);
                for (int t = len - 2; t >= 0; t--)
                {
                    for (int s = 0; s < S; s++)
                    {
                        double b1 = beta[(t + 1) * S + s];
                        double b2 = s < S - 1 ? beta[(t + 1) * S + s + 1] : double.NegativeInfinity;
                        double b3 = s < S - 2 && Label(b, s + 2) != Label(b, s) ? beta[(t + 1) * S + s + 2] : double.NegativeInfinity;
                        double sum = LogAddExp(b1, b2, b3);
                        beta[t * S + s] = double.IsNegativeInfinity(sum) ? sum : sum + LP(t, s);
                    }
                }
                for (int t = 0; t < len; t++)
                {
                    Array.Fill(lcab, double.NegativeInfinity);
                    for (int s = 0; s < S; s++)
                    {
                        int k = Label(b, s);
                        double v = alpha[t * S + s] + beta[t * S + s];
                        lcab[k] = LogAddExp(lcab[k], v, double.NegativeInfinity);
                    }
                    for (int k = 0; k < c; k++)
                    {
                        double l = lp[(t * n + b) * c + k];
                        gs[(t * n + b) * c + k] = (Math.Exp(l) - Math.Exp(lcab[k] + nll - l)) * seed[b];
                    }
                }
            }
            return gs;
        }
    }
}
