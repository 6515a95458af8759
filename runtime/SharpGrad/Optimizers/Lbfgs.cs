using System.Numerics;

namespace SharpGrad.Optimizers;

/// <summary>
/// L-BFGS (PyTorch: <c>torch.optim.LBFGS</c>, the same algorithm — a port of minFunc — with the same stopping rules and the
/// optional strong-Wolfe line search). It needs a closure that re-evaluates the model: call <see cref="Step(Func{Tensor})"/>
/// with a function that zeroes the gradients, computes the loss, calls <c>Backward()</c> and returns the loss. Like
/// PyTorch's it supports one parameter group only, and all parameters must share a dtype (Float32 or Float64).
/// The history lives in preallocated buffers: once it is full (<c>historySize</c> updates), a step allocates nothing
/// besides what the closure does.
/// </summary>
public sealed class Lbfgs : Optimizer
{
    private const string StrongWolfe = "strong_wolfe";
    private Core? _core;

    /// <summary>
    /// Creates L-BFGS (PyTorch: <c>LBFGS(params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
    /// history_size=100, line_search_fn=None)</c>). <paramref name="maxEval"/> defaults to <c>maxIter * 5 / 4</c>;
    /// <paramref name="lineSearchFn"/> is null (a fixed step of <paramref name="lr"/>) or <c>"strong_wolfe"</c>.
    /// </summary>
    public Lbfgs(IEnumerable<Tensor> parameters, double lr = 1, int maxIter = 20, int? maxEval = null, double toleranceGrad = 1e-7,
        double toleranceChange = 1e-9, int historySize = 100, string? lineSearchFn = null)
        : base(parameters, MakeDefaults(lr, maxIter, maxEval, toleranceGrad, toleranceChange, historySize, lineSearchFn))
    {
        var dtype = ParamGroups[0].Params[0].DType;
        foreach (var p in ParamGroups[0].Params)
        {
            if (p.DType != dtype)
            {
                throw new ArgumentException($"LBFGS: all parameters must have the same dtype, but got {dtype} and {p.DType} (shape {ShapeUtil.Format(p._shape)}); convert them with .To(...).");
            }
        }
    }

    private static Dictionary<string, object> MakeDefaults(double lr, int maxIter, int? maxEval, double toleranceGrad, double toleranceChange, int historySize, string? lineSearchFn)
    {
        var d = D(("lr", lr), ("max_iter", (double)maxIter), ("max_eval", (double)(maxEval ?? maxIter * 5 / 4)), ("tolerance_grad", toleranceGrad),
            ("tolerance_change", toleranceChange), ("history_size", (double)historySize));
        if (lineSearchFn is not null) d["line_search_fn"] = lineSearchFn;
        return d;
    }

    /// <inheritdoc/>
    protected override string Name => "LBFGS";

    /// <inheritdoc/>
    protected override void Validate(ParamGroup g)
    {
        if (ParamGroups.Count > 0)
        {
            throw new ArgumentException("LBFGS doesn't support per-parameter options (parameter groups): it optimizes one list of parameters.");
        }
        CheckNonNegative(g, "lr", "learning rate");
        if (!(g.GetDouble("max_iter") >= 1)) throw new ArgumentException($"LBFGS: maxIter must be at least 1, but got {Fmt(g.GetDouble("max_iter"))}.");
        if (!(g.GetDouble("max_eval") >= 1)) throw new ArgumentException($"LBFGS: maxEval must be at least 1, but got {Fmt(g.GetDouble("max_eval"))}.");
        if (!(g.GetDouble("history_size") >= 1)) throw new ArgumentException($"LBFGS: historySize must be at least 1, but got {Fmt(g.GetDouble("history_size"))}.");
        CheckNonNegative(g, "tolerance_grad", "tolerance_grad");
        CheckNonNegative(g, "tolerance_change", "tolerance_change");
        if (g.Options.TryGetValue("line_search_fn", out var ls) && !(ls is string s && s == StrongWolfe))
        {
            throw new ArgumentException($"LBFGS: only the 'strong_wolfe' line search is supported (lineSearchFn: \"strong_wolfe\" or null), but got '{ls}'.");
        }
    }

    /// <summary>Throws: L-BFGS evaluates the model several times per step; use <see cref="Step(Func{Tensor})"/>.</summary>
    protected override void StepGroup(ParamGroup group) =>
        throw new InvalidOperationException("LBFGS needs a closure that re-evaluates the model: call Step(() => { optimizer.ZeroGrad(); var loss = …; loss.Backward(); return loss; }).");

    /// <summary>
    /// Runs up to <c>maxIter</c> L-BFGS iterations, calling <paramref name="closure"/> to re-evaluate the loss and gradients;
    /// returns the loss of the first evaluation (PyTorch: <c>optimizer.step(closure)</c>).
    /// </summary>
    public override Tensor Step(Func<Tensor> closure)
    {
        ArgumentNullException.ThrowIfNull(closure);
        var group = ParamGroups[0];
        var ps = group.Params;
        if (_core is null)
        {
            foreach (var p in ps)
            {
                if (!p.IsContiguous)
                {
                    throw new InvalidOperationException($"LBFGS: parameters must be contiguous, but one of shape {ShapeUtil.Format(p._shape)} has strides {ShapeUtil.Format(p._strides)}.");
                }
            }
            _core = ps[0].DType == DType.Float32 ? new Core<float>(ps) : new Core<double>(ps);
        }
        using (Autograd.NoGrad())
        {
            return _core.Step(closure, group);
        }
    }

    /// <inheritdoc/>
    protected override bool IsParameterShapedState(string key) => false;

    /// <inheritdoc/>
    protected override void BeforeStateDict() => _core?.Export(GetState(ParamGroups[0].Params[0], out _));

    /// <inheritdoc/>
    protected override void AfterLoadStateDict()
    {
        var ps = ParamGroups[0].Params;
        var st = StateOf(ps[0]);
        if (st.Count == 0)
        {
            _core = null;
            return;
        }
        _core ??= ps[0].DType == DType.Float32 ? new Core<float>(ps) : new Core<double>(ps);
        _core.Import(st);
    }

    private abstract class Core
    {
        public abstract Tensor Step(Func<Tensor> closure, ParamGroup group);

        public abstract void Export(Dictionary<string, Tensor> state);

        public abstract void Import(IReadOnlyDictionary<string, Tensor> state);
    }

    /// <summary>The algorithm on flat vectors of the parameters' element type, with PyTorch's variable names.</summary>
    private sealed class Core<T> : Core where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly IReadOnlyList<Tensor> _params;
        private readonly int _n;
        private T[] _flatGrad, _prevFlatGrad, _d, _y, _s, _x;
        // Line-search buffers: the starting gradient, the previous trial's, the bracket's two ends and the newest evaluation.
        private T[] _g0, _gPrev, _gB0, _gB1, _gEval;
        // The history as a ring: _oldDirs[(_start + i) % capacity] is the i-th oldest.
        private readonly List<T[]> _oldDirs = [], _oldStps = [];
        private double[] _ro = [], _al = [];
        private int _start, _count;
        private bool _started, _hasPrev;
        private double _t, _hDiag = 1, _prevLoss;
        private long _funcEvals, _nIter;

        public Core(IReadOnlyList<Tensor> ps)
        {
            _params = ps;
            foreach (var p in ps) _n += p.NumElements;
            _flatGrad = new T[_n];
            _prevFlatGrad = new T[_n];
            _d = new T[_n];
            _y = new T[_n];
            _s = new T[_n];
            _x = new T[_n];
            _g0 = [];
            _gPrev = [];
            _gB0 = [];
            _gB1 = [];
            _gEval = [];
        }

        public override Tensor Step(Func<Tensor> closure, ParamGroup group)
        {
            double lr = group.Lr, tolGrad = group.GetDouble("tolerance_grad"), tolChange = group.GetDouble("tolerance_change");
            int maxIter = (int)group.GetDouble("max_iter"), maxEval = (int)group.GetDouble("max_eval"), historySize = (int)group.GetDouble("history_size");
            bool lineSearch = group.Options.ContainsKey("line_search_fn");
            if (_ro.Length != historySize) ResizeHistory(historySize);

            var origLoss = Evaluate(closure);
            double loss = origLoss.ItemDouble();
            int currentEvals = 1;
            _funcEvals++;
            Gather(_flatGrad);
            if (MaxAbs(_flatGrad) <= tolGrad) return origLoss;

            int nIter = 0;
            while (nIter < maxIter)
            {
                nIter++;
                _nIter++;

                // ---- the descent direction
                if (!_started)
                {
                    _started = true;
                    for (int i = 0; i < _n; i++) _d[i] = -_flatGrad[i];
                    _start = 0;
                    _count = 0;
                    _hDiag = 1;
                }
                else
                {
                    UpdateHistory(historySize);
                    TwoLoop();
                }
                Array.Copy(_flatGrad, _prevFlatGrad, _n);
                _hasPrev = true;
                _prevLoss = loss;

                // ---- the step length
                _t = _nIter == 1 ? Math.Min(1.0, R(1.0 / SumAbs(_flatGrad))) * lr : lr;
                double gtd = Dot(_flatGrad, _d);
                if (gtd > -tolChange) break;

                int lsFuncEvals = 0;
                bool optCond = false;
                if (lineSearch)
                {
                    (loss, _t, lsFuncEvals) = StrongWolfeSearch(closure, _t, loss, gtd);
                    AddGrad(_t, _d);
                    optCond = MaxAbs(_flatGrad) <= tolGrad;
                }
                else
                {
                    AddGrad(_t, _d);
                    if (nIter != maxIter)
                    {
                        // Re-evaluate only if this is not the last iteration (in a stochastic setting that evaluation is wasted).
                        loss = Evaluate(closure).ItemDouble();
                        Gather(_flatGrad);
                        optCond = MaxAbs(_flatGrad) <= tolGrad;
                        lsFuncEvals = 1;
                    }
                }
                currentEvals += lsFuncEvals;
                _funcEvals += lsFuncEvals;

                // ---- the stopping rules
                if (nIter == maxIter) break;
                if (currentEvals >= maxEval) break;
                if (optCond) break;
                if (MaxAbs(_d) * Math.Abs(_t) <= tolChange) break;
                if (Math.Abs(loss - _prevLoss) < tolChange) break;
            }
            return origLoss;
        }

        private static Tensor Evaluate(Func<Tensor> closure)
        {
            using (Autograd.EnableGrad())
            {
                return closure() ?? throw new InvalidOperationException("LBFGS: the closure returned null; return the loss tensor.");
            }
        }

        private void ResizeHistory(int historySize)
        {
            // Keep the newest entries in order when the history size changes (e.g. after LoadStateDict or a group edit).
            var dirs = new List<T[]>();
            var stps = new List<T[]>();
            var ros = new List<double>();
            int keep = Math.Min(_count, historySize);
            for (int i = _count - keep; i < _count; i++)
            {
                dirs.Add(_oldDirs[Slot(i)]);
                stps.Add(_oldStps[Slot(i)]);
                ros.Add(_ro[Slot(i)]);
            }
            _oldDirs.Clear();
            _oldDirs.AddRange(dirs);
            _oldStps.Clear();
            _oldStps.AddRange(stps);
            _ro = new double[historySize];
            _al = new double[historySize];
            for (int i = 0; i < ros.Count; i++) _ro[i] = ros[i];
            _start = 0;
            _count = keep;
        }

        private int Slot(int i) => _oldDirs.Count == 0 ? 0 : (_start + i) % Math.Max(_oldDirs.Count, 1);

        /// <summary>y = g − g_prev, s = d·t; if yᵀs &gt; 1e-10 they enter the history (dropping the oldest when it is full).</summary>
        private void UpdateHistory(int historySize)
        {
            T t = T.CreateTruncating(_t);
            for (int i = 0; i < _n; i++)
            {
                _y[i] = _flatGrad[i] - _prevFlatGrad[i];
                _s[i] = _d[i] * t;
            }
            double ys = Dot(_y, _s);
            if (ys <= 1e-10) return;
            if (_count < historySize)
            {
                // Still growing: append (the only allocation, bounded by historySize).
                _oldDirs.Add(_y);
                _oldStps.Add(_s);
                _y = new T[_n];
                _s = new T[_n];
                _ro[_count] = R(1 / ys);
                _count++;
                _hDiag = R(ys / Dot(_oldDirs[^1], _oldDirs[^1]));
                return;
            }
            // Full: the oldest slot takes the new pair, and its old arrays become the next scratch.
            int slot = _start;
            _start = (_start + 1) % historySize;
            (_oldDirs[slot], _y) = (_y, _oldDirs[slot]);
            (_oldStps[slot], _s) = (_s, _oldStps[slot]);
            _ro[slot] = R(1 / ys);
            _hDiag = R(ys / Dot(_oldDirs[slot], _oldDirs[slot]));
        }

        /// <summary>d = −H·g by the two-loop recursion over the history, with H₀ = H_diag·I.</summary>
        private void TwoLoop()
        {
            var q = _d;
            for (int i = 0; i < _n; i++) q[i] = -_flatGrad[i];
            for (int k = _count - 1; k >= 0; k--)
            {
                int slot = (_start + k) % _oldDirs.Count;
                double al = R(Dot(_oldStps[slot], q) * _ro[slot]);
                _al[k] = al;
                Axpy(-al, _oldDirs[slot], q);
            }
            T h = T.CreateTruncating(_hDiag);
            for (int i = 0; i < _n; i++) q[i] *= h;
            for (int k = 0; k < _count; k++)
            {
                int slot = (_start + k) % _oldDirs.Count;
                double be = R(Dot(_oldDirs[slot], q) * _ro[slot]);
                Axpy(_al[k] - be, _oldStps[slot], q);
            }
        }

        // ---------------- the strong-Wolfe line search (PyTorch's _strong_wolfe, a port of minFunc's) ----------------

        private (double Loss, double T, int Evals) StrongWolfeSearch(Func<Tensor> closure, double t, double f, double gtd)
        {
            const double c1 = 1e-4, c2 = 0.9, tolChange = 1e-9;
            const int maxLs = 25;
            if (_g0.Length == 0)
            {
                _g0 = new T[_n];
                _gPrev = new T[_n];
                _gB0 = new T[_n];
                _gB1 = new T[_n];
                _gEval = new T[_n];
            }
            CopyParams(_x, toParams: false);
            double dNorm = MaxAbs(_d);
            Array.Copy(_flatGrad, _g0, _n);

            double fNew = DirectionalEvaluate(closure, t);
            int evals = 1;
            double gtdNew = Dot(_gEval, _d);

            double tPrev = 0, fPrev = f, gtdPrev = gtd;
            Array.Copy(_g0, _gPrev, _n);
            bool done = false;
            int lsIter = 0;
            // The bracket: up to two points, each a step, a loss, a gradient (in _gB0/_gB1) and a directional derivative.
            double b0 = 0, b1 = 0, bf0 = 0, bf1 = 0, bgtd0 = 0, bgtd1 = 0;
            int bracketSize = 0;
            while (lsIter < maxLs)
            {
                if (fNew > f + c1 * t * gtd || (lsIter > 1 && fNew >= fPrev))
                {
                    (b0, bf0, bgtd0, b1, bf1, bgtd1) = (tPrev, fPrev, gtdPrev, t, fNew, gtdNew);
                    Array.Copy(_gPrev, _gB0, _n);
                    Array.Copy(_gEval, _gB1, _n);
                    bracketSize = 2;
                    break;
                }
                if (Math.Abs(gtdNew) <= -c2 * gtd)
                {
                    (b0, bf0, bgtd0) = (t, fNew, gtdNew);
                    Array.Copy(_gEval, _gB0, _n);
                    bracketSize = 1;
                    done = true;
                    break;
                }
                if (gtdNew >= 0)
                {
                    (b0, bf0, bgtd0, b1, bf1, bgtd1) = (tPrev, fPrev, gtdPrev, t, fNew, gtdNew);
                    Array.Copy(_gPrev, _gB0, _n);
                    Array.Copy(_gEval, _gB1, _n);
                    bracketSize = 2;
                    break;
                }
                // interpolate
                double minStep = t + 0.01 * (t - tPrev);
                double maxStep = t * 10;
                double tmp = t;
                t = CubicInterpolate(tPrev, fPrev, gtdPrev, t, fNew, gtdNew, minStep, maxStep);
                tPrev = tmp;
                fPrev = fNew;
                Array.Copy(_gEval, _gPrev, _n);
                gtdPrev = gtdNew;
                fNew = DirectionalEvaluate(closure, t);
                evals++;
                gtdNew = Dot(_gEval, _d);
                lsIter++;
            }
            if (lsIter == maxLs)
            {
                (b0, bf0, b1, bf1) = (0, f, t, fNew);
                Array.Copy(_g0, _gB0, _n);
                Array.Copy(_gEval, _gB1, _n);
                bracketSize = 2;
            }

            // zoom: refine the bracket until a point satisfies the strong Wolfe conditions
            bool insufProgress = false;
            int lowPos = bracketSize == 1 || bf0 <= bf1 ? 0 : 1;
            while (!done && lsIter < maxLs)
            {
                if (Math.Abs(b1 - b0) * dNorm < tolChange) break;
                t = CubicInterpolate(b0, bf0, bgtd0, b1, bf1, bgtd1, null, null);
                double hi = Math.Max(b0, b1), lo = Math.Min(b0, b1);
                double eps = 0.1 * (hi - lo);
                if (Math.Min(hi - t, t - lo) < eps)
                {
                    // interpolation close to boundary
                    if (insufProgress || t >= hi || t <= lo)
                    {
                        t = Math.Abs(t - hi) < Math.Abs(t - lo) ? hi - eps : lo + eps;
                        insufProgress = false;
                    }
                    else
                    {
                        insufProgress = true;
                    }
                }
                else
                {
                    insufProgress = false;
                }
                fNew = DirectionalEvaluate(closure, t);
                evals++;
                gtdNew = Dot(_gEval, _d);
                lsIter++;

                double lowF = lowPos == 0 ? bf0 : bf1;
                if (fNew > f + c1 * t * gtd || fNew >= lowF)
                {
                    // Armijo condition not satisfied or not lower than the lowest point: the new point becomes the high end.
                    SetBracket(1 - lowPos, t, fNew, gtdNew, _gEval);
                    lowPos = bf0 <= bf1 ? 0 : 1;
                }
                else
                {
                    if (Math.Abs(gtdNew) <= -c2 * gtd)
                    {
                        done = true;
                    }
                    else if (gtdNew * ((lowPos == 0 ? b1 : b0) - (lowPos == 0 ? b0 : b1)) >= 0)
                    {
                        // the old high becomes the new low
                        if (lowPos == 0) SetBracket(1, b0, bf0, bgtd0, _gB0);
                        else SetBracket(0, b1, bf1, bgtd1, _gB1);
                    }
                    SetBracket(lowPos, t, fNew, gtdNew, _gEval);
                }
            }

            Array.Copy(lowPos == 0 ? _gB0 : _gB1, _flatGrad, _n);
            return (lowPos == 0 ? bf0 : bf1, lowPos == 0 ? b0 : b1, evals);

            void SetBracket(int pos, double tv, double fv, double gtdv, T[] g)
            {
                if (pos == 0)
                {
                    (b0, bf0, bgtd0) = (tv, fv, gtdv);
                    if (!ReferenceEquals(g, _gB0)) Array.Copy(g, _gB0, _n);
                }
                else
                {
                    (b1, bf1, bgtd1) = (tv, fv, gtdv);
                    if (!ReferenceEquals(g, _gB1)) Array.Copy(g, _gB1, _n);
                }
            }
        }

        /// <summary>Evaluates the loss and gradient at x + t·d (into _gEval), then puts the parameters back to x.</summary>
        private double DirectionalEvaluate(Func<Tensor> closure, double t)
        {
            AddGrad(t, _d);
            double loss = Evaluate(closure).ItemDouble();
            Gather(_gEval);
            CopyParams(_x, toParams: true);
            return loss;
        }

        /// <summary>The minimiser of the cubic through two points with values and derivatives, clamped to the bounds.</summary>
        private static double CubicInterpolate(double x1, double f1, double g1, double x2, double f2, double g2, double? minBound, double? maxBound)
        {
            double xmin = minBound ?? Math.Min(x1, x2), xmax = maxBound ?? Math.Max(x1, x2);
            double d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2);
            double d2Square = d1 * d1 - g1 * g2;
            if (d2Square >= 0)
            {
                double d2 = Math.Sqrt(d2Square);
                double minPos = x1 <= x2
                    ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
                    : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
                return Math.Min(Math.Max(minPos, xmin), xmax);
            }
            return (xmin + xmax) / 2;
        }

        // ---------------- flat-vector helpers ----------------

        private void Gather(T[] dst)
        {
            int offset = 0;
            // Index loops here and below: foreach over the IReadOnlyList would box an enumerator on every call.
            for (int pi = 0; pi < _params.Count; pi++)
            {
                var p = _params[pi];
                int n = p.NumElements;
                var target = dst.AsSpan(offset, n);
                if (p.Grad is not { } g) target.Clear();
                else
                {
                    if (g.DType != p.DType || !ShapeUtil.SameShape(g._shape, p._shape))
                    {
                        throw new InvalidOperationException($"LBFGS: a parameter of shape {ShapeUtil.Format(p._shape)} ({p.DType}) has a gradient of shape {ShapeUtil.Format(g._shape)} ({g.DType}).");
                    }
                    g.Contiguous().Span<T>().CopyTo(target);
                }
                offset += n;
            }
        }

        private void AddGrad(double stepSize, T[] update)
        {
            T a = T.CreateTruncating(stepSize);
            int offset = 0;
            for (int pi = 0; pi < _params.Count; pi++)
            {
                var p = _params[pi];
                var span = p.Span<T>();
                for (int i = 0; i < span.Length; i++) span[i] += a * update[offset + i];
                offset += span.Length;
                p.Storage.Version++;
            }
        }

        private void CopyParams(T[] flat, bool toParams)
        {
            int offset = 0;
            for (int pi = 0; pi < _params.Count; pi++)
            {
                var p = _params[pi];
                var span = p.Span<T>();
                if (toParams)
                {
                    flat.AsSpan(offset, span.Length).CopyTo(span);
                    p.Storage.Version++;
                }
                else
                {
                    span.CopyTo(flat.AsSpan(offset, span.Length));
                }
                offset += span.Length;
            }
        }

        /// <summary>Rounds to the element type: PyTorch holds these scalars (yᵀs, ρ, H_diag, α, β, 1/Σ|g|) as 0-d tensors of the parameters' dtype.</summary>
        private static double R(double v) => double.CreateTruncating(T.CreateTruncating(v));

        private static double Dot(T[] a, T[] b)
        {
            T sum = T.Zero;
            for (int i = 0; i < a.Length; i++) sum += a[i] * b[i];
            return double.CreateTruncating(sum);
        }

        private static void Axpy(double alpha, T[] x, T[] y)
        {
            T a = T.CreateTruncating(alpha);
            for (int i = 0; i < y.Length; i++) y[i] += a * x[i];
        }

        private static double MaxAbs(T[] a)
        {
            T m = T.Zero;
            for (int i = 0; i < a.Length; i++)
            {
                T v = T.Abs(a[i]);
                if (v > m || T.IsNaN(v)) m = v;
            }
            return double.CreateTruncating(m);
        }

        private static double SumAbs(T[] a)
        {
            T s = T.Zero;
            for (int i = 0; i < a.Length; i++) s += T.Abs(a[i]);
            return double.CreateTruncating(s);
        }

        // ---------------- state dict ----------------

        private Tensor Vector(T[] v) => Tensor.Wrap((T[])v.Clone(), _n);

        private Tensor ScalarOf(double v) => Tensor.Full([], v, typeof(T) == typeof(float) ? DType.Float32 : DType.Float64);

        public override void Export(Dictionary<string, Tensor> state)
        {
            state.Clear();
            state["func_evals"] = ScalarOf(_funcEvals);
            state["n_iter"] = ScalarOf(_nIter);
            if (!_started) return;
            state["d"] = Vector(_d);
            state["t"] = ScalarOf(_t);
            state["H_diag"] = ScalarOf(_hDiag);
            if (_hasPrev)
            {
                state["prev_flat_grad"] = Vector(_prevFlatGrad);
                state["prev_loss"] = ScalarOf(_prevLoss);
            }
            var dirs = new T[_count * _n];
            var stps = new T[_count * _n];
            var ro = new T[_count];
            for (int k = 0; k < _count; k++)
            {
                int slot = (_start + k) % _oldDirs.Count;
                _oldDirs[slot].CopyTo(dirs, k * _n);
                _oldStps[slot].CopyTo(stps, k * _n);
                ro[k] = T.CreateTruncating(_ro[slot]);
            }
            state["old_dirs"] = Tensor.Wrap(dirs, _count, _n);
            state["old_stps"] = Tensor.Wrap(stps, _count, _n);
            state["ro"] = Tensor.Wrap(ro, _count);
        }

        public override void Import(IReadOnlyDictionary<string, Tensor> state)
        {
            double Scalar(string key) => state.TryGetValue(key, out var t) && t.NumElements == 1 ? t.ItemDouble()
                : throw new ArgumentException($"LBFGS.LoadStateDict: the state has no scalar '{key}'.");
            T[] Vec(string key, int rows)
            {
                if (!state.TryGetValue(key, out var t) || t.NumElements != rows * _n)
                {
                    throw new ArgumentException($"LBFGS.LoadStateDict: state '{key}' should hold {rows} × {_n} values (the parameters' total size), but it is {(t is null ? "missing" : ShapeUtil.Format(t._shape))}.");
                }
                return t.To(typeof(T) == typeof(float) ? DType.Float32 : DType.Float64).Contiguous().Span<T>().ToArray();
            }
            _funcEvals = (long)Scalar("func_evals");
            _nIter = (long)Scalar("n_iter");
            _started = state.ContainsKey("d");
            _oldDirs.Clear();
            _oldStps.Clear();
            _start = 0;
            _count = 0;
            _hasPrev = false;
            if (!_started) return;
            Vec("d", 1).CopyTo(_d, 0);
            _t = Scalar("t");
            _hDiag = Scalar("H_diag");
            if (state.ContainsKey("prev_flat_grad"))
            {
                Vec("prev_flat_grad", 1).CopyTo(_prevFlatGrad, 0);
                _prevLoss = Scalar("prev_loss");
                _hasPrev = true;
            }
            int count = state.TryGetValue("ro", out var roT) ? roT.NumElements : 0;
            var dirs = Vec("old_dirs", count);
            var stps = Vec("old_stps", count);
            var ro = count > 0 ? roT!.ToDoubleArray() : [];
            if (_ro.Length < count)
            {
                _ro = new double[count];
                _al = new double[count];
            }
            for (int k = 0; k < count; k++)
            {
                _oldDirs.Add(dirs.AsSpan(k * _n, _n).ToArray());
                _oldStps.Add(stps.AsSpan(k * _n, _n).ToArray());
                _ro[k] = ro[k];
            }
            _count = count;
        }
    }
}
