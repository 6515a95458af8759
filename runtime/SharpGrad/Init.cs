namespace SharpGrad;

/// <summary>Which fan the Kaiming initialisers preserve (PyTorch: <c>mode='fan_in'</c> / <c>'fan_out'</c>).</summary>
public enum FanMode
{
    /// <summary>Preserve the variance of the activations in the forward pass (PyTorch: <c>'fan_in'</c>).</summary>
    FanIn,

    /// <summary>Preserve the variance of the gradients in the backward pass (PyTorch: <c>'fan_out'</c>).</summary>
    FanOut,
}

/// <summary>
/// Parameter initialisation (PyTorch: <c>torch.nn.init</c>). Every function fills its tensor in place, outside autograd,
/// with PyTorch's formulas, draws from <c>rng</c> (default <see cref="Rng.Default"/>, seeded by <see cref="Rng.ManualSeed"/>),
/// and returns the tensor.
/// </summary>
public static class Init
{
    [ThreadStatic] private static int t_skipDepth;

    /// <summary>
    /// True inside <see cref="Skip"/> (on this thread): every initialiser of this class then leaves its tensor as it is.
    /// </summary>
    public static bool IsSkipping => t_skipDepth > 0;

    /// <summary>
    /// Turns every initialiser of this class into a no-op on this thread until the returned scope is disposed: the tensor is
    /// returned unchanged (a freshly created parameter stays zero) and nothing is drawn from the generator. This is how a
    /// module is built when its weights are about to be loaded (PyTorch: <c>torch.nn.utils.skip_init</c>, or constructing on
    /// the <c>meta</c> device and calling <c>to_empty()</c>); <see cref="Module.SkipInit{TModule}(Func{TModule})"/> wraps it.
    /// <code>using (Init.Skip()) model = new Net(); model.LoadStateDict(SafeTensors.Read(path));</code>
    /// Parameters a layer creates with a fixed value (e.g. BatchNorm's weight of ones) keep that value; only random or
    /// <see cref="Init"/>-based initialisation is skipped. Scopes nest.
    /// </summary>
    public static SkipInitScope Skip()
    {
        t_skipDepth++;
        return new SkipInitScope(true);
    }

    internal static void EndSkip() => t_skipDepth--;

    /// <summary>True when the initialiser should do nothing (inside <see cref="Skip"/>); checks the argument first.</summary>
    private static bool Skipped(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        return t_skipDepth > 0;
    }

    /// <summary>
    /// The recommended gain for a nonlinearity (PyTorch: <c>calculate_gain</c>): 1 for linear/conv/sigmoid, 5/3 for tanh,
    /// √2 for relu, √(2 / (1 + slope²)) for leaky_relu (slope <paramref name="param"/>, default 0.01), 3/4 for selu.
    /// </summary>
    public static double CalculateGain(string nonlinearity, double? param = null)
    {
        ArgumentNullException.ThrowIfNull(nonlinearity);
        switch (nonlinearity)
        {
            case "linear": case "conv1d": case "conv2d": case "conv3d":
            case "conv_transpose1d": case "conv_transpose2d": case "conv_transpose3d": case "sigmoid":
                return 1;
            case "tanh": return 5.0 / 3;
            case "relu": return Math.Sqrt(2.0);
            case "leaky_relu":
                double slope = param ?? SharpGrad.Ops.OpDefaults.LeakyRelu.NegativeSlope;
                return Math.Sqrt(2.0 / (1 + slope * slope));
            case "selu": return 3.0 / 4;
            default:
                throw new ArgumentException(
                    $"CalculateGain: unsupported nonlinearity \"{nonlinearity}\"; use one of linear, conv1d, conv2d, conv3d, conv_transpose1d/2d/3d, sigmoid, tanh, relu, leaky_relu, selu.");
        }
    }

    /// <summary>
    /// fan_in = size(1)·receptive field and fan_out = size(0)·receptive field, where the receptive field is the product of
    /// dims 2.. (PyTorch: <c>_calculate_fan_in_and_fan_out</c>). Needs at least 2 dimensions.
    /// </summary>
    public static (int FanIn, int FanOut) CalculateFanInAndFanOut(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (tensor.Rank < 2)
        {
            throw new ArgumentException(
                $"Fan in and fan out can not be computed for a tensor with fewer than 2 dimensions (got shape {ShapeUtil.Format(tensor._shape)}).");
        }
        int receptive = 1;
        for (int d = 2; d < tensor.Rank; d++) receptive *= tensor._shape[d];
        return (tensor._shape[1] * receptive, tensor._shape[0] * receptive);
    }

    private static int Fan(Tensor tensor, FanMode mode)
    {
        var (fanIn, fanOut) = CalculateFanInAndFanOut(tensor);
        return mode == FanMode.FanIn ? fanIn : fanOut;
    }

    /// <summary>Writes values (row-major) into the tensor in place, outside autograd.</summary>
    private static Tensor Write(Tensor tensor, double[] values)
    {
        if (!tensor.DType.IsFloatingPoint() && tensor.DType is not (DType.Int64 or DType.Int32))
        {
            throw new ArgumentException($"Init: cannot initialise a {tensor.DType} tensor.");
        }
        var src = Tensor.FromArray(values, tensor._shape.Length == 0 ? [] : tensor.Shape);
        using (Autograd.NoGrad()) tensor.Copy_(src);
        return tensor;
    }

    private static double[] Draw(Tensor tensor, Func<double> sample)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        var v = new double[tensor.NumElements];
        for (int i = 0; i < v.Length; i++) v[i] = sample();
        return v;
    }

    /// <summary>Fills with samples from U(<paramref name="a"/>, <paramref name="b"/>) (PyTorch: <c>uniform_</c>).</summary>
    public static Tensor Uniform(Tensor tensor, double a = 0, double b = 1, Rng? rng = null)
    {
        if (Skipped(tensor)) return tensor;
        var r = rng ?? Rng.Default;
        return Write(tensor, Draw(tensor, () => a + (b - a) * r.NextDouble()));
    }

    /// <summary>Fills with samples from N(<paramref name="mean"/>, <paramref name="std"/>²) (PyTorch: <c>normal_</c>).</summary>
    public static Tensor Normal(Tensor tensor, double mean = 0, double std = 1, Rng? rng = null)
    {
        if (Skipped(tensor)) return tensor;
        var r = rng ?? Rng.Default;
        return Write(tensor, Draw(tensor, () => mean + std * r.NextNormal()));
    }

    /// <summary>
    /// Fills with samples from N(<paramref name="mean"/>, <paramref name="std"/>²) truncated to [<paramref name="a"/>, <paramref name="b"/>]
    /// (PyTorch: <c>trunc_normal_</c>). Samples by rejection, which gives exactly the truncated distribution; when the interval holds
    /// almost no mass it falls back to inverse-CDF sampling on the interval.
    /// </summary>
    public static Tensor TruncNormal(Tensor tensor, double mean = 0, double std = 1, double a = -2, double b = 2, Rng? rng = null)
    {
        if (!(a < b)) throw new ArgumentException($"TruncNormal: the lower bound a ({a}) must be smaller than b ({b}).");
        if (Skipped(tensor)) return tensor;
        var r = rng ?? Rng.Default;
        return Write(tensor, Draw(tensor, () =>
        {
            for (int tries = 0; tries < 1000; tries++)
            {
                double v = mean + std * r.NextNormal();
                if (v >= a && v <= b) return v;
            }
            // Far tail: sample the interval's CDF range (what PyTorch always does) with a numerical inverse.
            double lo = NormalCdf((a - mean) / std), hi = NormalCdf((b - mean) / std);
            double u = lo + (hi - lo) * r.NextDouble();
            return Math.Clamp(mean + std * NormalQuantile(u), a, b);
        }));
    }

    private static double NormalCdf(double x) => 0.5 * Erfc(-x / Math.Sqrt(2));

    /// <summary>erfc with |relative error| &lt; 1.2e-7 (Numerical Recipes' Chebyshev fit).</summary>
    private static double Erfc(double x)
    {
        double z = Math.Abs(x);
        double t = 1 / (1 + 0.5 * z);
        double ans = t * Math.Exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
            t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
        return x >= 0 ? ans : 2 - ans;
    }

    private static double NormalQuantile(double p)
    {
        // Bisection on the CDF: robust, and only used in the rare far-tail case.
        double lo = -40, hi = 40;
        for (int i = 0; i < 200; i++)
        {
            double mid = 0.5 * (lo + hi);
            if (NormalCdf(mid) < p) lo = mid; else hi = mid;
        }
        return 0.5 * (lo + hi);
    }

    /// <summary>Fills with <paramref name="value"/> (PyTorch: <c>constant_</c>).</summary>
    public static Tensor Constant(Tensor tensor, double value)
    {
        if (Skipped(tensor)) return tensor;
        using (Autograd.NoGrad()) tensor.Fill_(value);
        return tensor;
    }

    /// <summary>Fills with ones (PyTorch: <c>ones_</c>).</summary>
    public static Tensor Ones(Tensor tensor) => Constant(tensor, 1);

    /// <summary>Fills with zeros (PyTorch: <c>zeros_</c>).</summary>
    public static Tensor Zeros(Tensor tensor) => Constant(tensor, 0);

    /// <summary>Fills a 2-d tensor with the identity matrix (PyTorch: <c>eye_</c>).</summary>
    public static Tensor Eye(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (tensor.Rank != 2) throw new ArgumentException($"Eye: only 2-d tensors are supported, but got shape {ShapeUtil.Format(tensor._shape)}.");
        if (Skipped(tensor)) return tensor;
        int rows = tensor._shape[0], cols = tensor._shape[1];
        var v = new double[rows * cols];
        for (int i = 0; i < Math.Min(rows, cols); i++) v[i * cols + i] = 1;
        return Write(tensor, v);
    }

    /// <summary>
    /// Fills a 3-, 4- or 5-d tensor with the Dirac delta, so a convolution with it preserves the identity of the input channels
    /// (PyTorch: <c>dirac_</c>); with <paramref name="groups"/>, each group of output channels keeps its own identity.
    /// </summary>
    public static Tensor Dirac(Tensor tensor, int groups = 1)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (tensor.Rank is < 3 or > 5) throw new ArgumentException($"Dirac: only 3-, 4- and 5-d tensors are supported, but got shape {ShapeUtil.Format(tensor._shape)}.");
        var s = tensor._shape;
        if (groups <= 0 || s[0] % groups != 0)
        {
            throw new ArgumentException($"Dirac: dim 0 ({s[0]}) of shape {ShapeUtil.Format(s)} must be divisible by groups ({groups}).");
        }
        if (Skipped(tensor)) return tensor;
        int outPerGroup = s[0] / groups;
        int minDim = Math.Min(outPerGroup, s[1]);
        var strides = Tensor.ContiguousStrides(s);
        var v = new double[tensor.NumElements];
        for (int g = 0; g < groups; g++)
        {
            for (int d = 0; d < minDim; d++)
            {
                int off = (g * outPerGroup + d) * strides[0] + d * strides[1];
                for (int k = 2; k < s.Length; k++) off += s[k] / 2 * strides[k];
                v[off] = 1;
            }
        }
        return Write(tensor, v);
    }

    /// <summary>
    /// Xavier/Glorot uniform: U(−a, a) with a = gain·√(6 / (fan_in + fan_out)) (PyTorch: <c>xavier_uniform_</c>).
    /// </summary>
    public static Tensor XavierUniform(Tensor tensor, double gain = 1, Rng? rng = null)
    {
        var (fanIn, fanOut) = CalculateFanInAndFanOut(tensor);
        double std = gain * Math.Sqrt(2.0 / (fanIn + fanOut));
        double a = Math.Sqrt(3.0) * std;
        return Uniform(tensor, -a, a, rng);
    }

    /// <summary>Xavier/Glorot normal: N(0, std²) with std = gain·√(2 / (fan_in + fan_out)) (PyTorch: <c>xavier_normal_</c>).</summary>
    public static Tensor XavierNormal(Tensor tensor, double gain = 1, Rng? rng = null)
    {
        var (fanIn, fanOut) = CalculateFanInAndFanOut(tensor);
        return Normal(tensor, 0, gain * Math.Sqrt(2.0 / (fanIn + fanOut)), rng);
    }

    /// <summary>
    /// Kaiming/He uniform: U(−bound, bound) with bound = gain·√(3 / fan), gain = <see cref="CalculateGain"/>(nonlinearity, a)
    /// (PyTorch: <c>kaiming_uniform_</c>). The layers' default init is this with a = √5.
    /// </summary>
    public static Tensor KaimingUniform(Tensor tensor, double a = 0, FanMode mode = FanMode.FanIn, string nonlinearity = "leaky_relu", Rng? rng = null)
    {
        int fan = Fan(tensor, mode);
        if (fan == 0) return tensor; // PyTorch warns and leaves the tensor unchanged.
        double std = CalculateGain(nonlinearity, a) / Math.Sqrt(fan);
        double bound = Math.Sqrt(3.0) * std;
        return Uniform(tensor, -bound, bound, rng);
    }

    /// <summary>Kaiming/He normal: N(0, std²) with std = gain / √fan (PyTorch: <c>kaiming_normal_</c>).</summary>
    public static Tensor KaimingNormal(Tensor tensor, double a = 0, FanMode mode = FanMode.FanIn, string nonlinearity = "leaky_relu", Rng? rng = null)
    {
        int fan = Fan(tensor, mode);
        if (fan == 0) return tensor;
        return Normal(tensor, 0, CalculateGain(nonlinearity, a) / Math.Sqrt(fan), rng);
    }

    /// <summary>
    /// Fills with a (semi-)orthogonal matrix (PyTorch: <c>orthogonal_</c>): the tensor, viewed as [size(0), rest], gets the Q of
    /// the QR decomposition of a standard normal matrix (sign-corrected by diag(R)), scaled by <paramref name="gain"/>.
    /// </summary>
    public static Tensor Orthogonal(Tensor tensor, double gain = 1, Rng? rng = null)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (tensor.Rank < 2) throw new ArgumentException($"Orthogonal: only tensors with 2 or more dimensions are supported, but got shape {ShapeUtil.Format(tensor._shape)}.");
        if (tensor.NumElements == 0 || Skipped(tensor)) return tensor;
        var r = rng ?? Rng.Default;
        int rows = tensor._shape[0];
        int cols = tensor.NumElements / rows;
        // flattened [rows, cols] ~ N(0, 1); when rows < cols factor its transpose.
        var flat = new double[rows * cols];
        for (int i = 0; i < flat.Length; i++) flat[i] = r.NextNormal();
        bool transpose = rows < cols;
        int m = transpose ? cols : rows, n = transpose ? rows : cols; // A is m×n with m ≥ n
        var A = new double[m, n];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                if (transpose) A[j, i] = flat[i * cols + j]; else A[i, j] = flat[i * cols + j];
        var q = ThinQ(A, m, n);
        var v = new double[rows * cols];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                v[i * cols + j] = gain * (transpose ? q[j, i] : q[i, j]);
        return Write(tensor, v);
    }

    /// <summary>Q (m×n) of A = QR by Householder reflections, with columns signed so that diag(R) ≥ 0 (like PyTorch's q *= sign(diag(r))).</summary>
    private static double[,] ThinQ(double[,] a, int m, int n)
    {
        var vs = new double[n][];
        var rdiag = new double[n];
        for (int k = 0; k < n; k++)
        {
            double norm = 0;
            for (int i = k; i < m; i++) norm += a[i, k] * a[i, k];
            norm = Math.Sqrt(norm);
            double alpha = a[k, k] > 0 ? -norm : norm;
            var v = new double[m];
            for (int i = k; i < m; i++) v[i] = a[i, k];
            v[k] -= alpha;
            double vnorm = 0;
            for (int i = k; i < m; i++) vnorm += v[i] * v[i];
            vs[k] = v;
            rdiag[k] = alpha;
            if (vnorm == 0) continue;
            for (int j = k; j < n; j++)
            {
                double dot = 0;
                for (int i = k; i < m; i++) dot += v[i] * a[i, j];
                double f = 2 * dot / vnorm;
                for (int i = k; i < m; i++) a[i, j] -= f * v[i];
            }
        }
        // Q = H0 H1 … H(n-1) applied to the first n columns of I.
        var q = new double[m, n];
        for (int j = 0; j < n; j++) q[j, j] = 1;
        for (int k = n - 1; k >= 0; k--)
        {
            var v = vs[k];
            double vnorm = 0;
            for (int i = k; i < m; i++) vnorm += v[i] * v[i];
            if (vnorm == 0) continue;
            for (int j = 0; j < n; j++)
            {
                double dot = 0;
                for (int i = k; i < m; i++) dot += v[i] * q[i, j];
                double f = 2 * dot / vnorm;
                for (int i = k; i < m; i++) q[i, j] -= f * v[i];
            }
        }
        for (int j = 0; j < n; j++)
        {
            if (rdiag[j] < 0)
            {
                for (int i = 0; i < m; i++) q[i, j] = -q[i, j];
            }
        }
        return q;
    }
}

/// <summary>The scope returned by <see cref="Init.Skip"/>; dispose it (with <c>using</c>) to initialise parameters again.</summary>
public readonly struct SkipInitScope : IDisposable
{
    private readonly bool _active;

    internal SkipInitScope(bool active) => _active = active;

    /// <summary>Ends the scope (initialisers run again once every enclosing scope has ended).</summary>
    public void Dispose()
    {
        if (_active) Init.EndSkip();
    }
}
