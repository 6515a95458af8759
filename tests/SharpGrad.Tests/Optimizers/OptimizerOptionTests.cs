using SharpGrad.Optimizers;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Optimizers;

/// <summary>
/// Options the PyTorch fixtures don't exercise, against naive double-precision implementations written from the
/// pseudo-code in PyTorch's documentation (one scalar element at a time).
/// </summary>
public class OptimizerOptionTests
{
    private static readonly double[] P0 = [0.5, -1.25, 2.0, 0.1];

    private static double[] Grad(int t) => [Math.Sin(t + 1), Math.Cos(2 * t) - 0.3, 0.5 - 0.1 * t, 1e-3 * (t - 2)];

    private static void Run(Func<Tensor, Optimizer> make, Func<int, double, double, double> reference, string what)
    {
        var p = new Parameter(Tensor.FromArray((double[])P0.Clone(), P0.Length));
        var opt = make(p);
        var expected = (double[])P0.Clone();
        for (int t = 0; t < 8; t++)
        {
            var g = Grad(t);
            p.Grad = Tensor.FromArray(g, g.Length);
            opt.Step();
            for (int i = 0; i < expected.Length; i++) expected[i] = reference(i * 1000 + t, expected[i], g[i]);
            TensorAssert.Close(expected, p.ToDoubleArray(), 1e-12, 1e-12, $"{what}, step {t}");
        }
    }

    [Fact]
    public void SgdDampeningWeightDecayMaximize()
    {
        const double lr = 0.1, mu = 0.8, tau = 0.3, wd = 0.05;
        var buf = new Dictionary<int, double>();
        Run(p => new Sgd([p], lr, mu, tau, wd, maximize: true), (key, theta, g) =>
        {
            int i = key / 1000, t = key % 1000;
            g = -g;                         // maximize
            g += wd * theta;
            double b = t == 0 ? g : mu * buf[i] + (1 - tau) * g;
            buf[i] = b;
            return theta - lr * b;
        }, "Sgd dampening/wd/maximize");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AdamAmsgradMaximizeAndAdamW(bool decoupled)
    {
        const double lr = 0.05, b1 = 0.8, b2 = 0.95, eps = 1e-6, wd = 0.1;
        var m = new double[4];
        var v = new double[4];
        var vmax = new double[4];
        Run(p => decoupled ? new AdamW([p], lr, (b1, b2), eps, wd, amsgrad: true, maximize: true) : new Adam([p], lr, (b1, b2), eps, wd, amsgrad: true, maximize: true),
            (key, theta, g) =>
            {
                int i = key / 1000, t = key % 1000 + 1;
                g = -g;
                if (decoupled) theta *= 1 - lr * wd;
                else g += wd * theta;
                m[i] = b1 * m[i] + (1 - b1) * g;
                v[i] = b2 * v[i] + (1 - b2) * g * g;
                double mhat = m[i] / (1 - Math.Pow(b1, t));
                vmax[i] = Math.Max(vmax[i], v[i]);
                double vhat = vmax[i] / (1 - Math.Pow(b2, t));
                return theta - lr * mhat / (Math.Sqrt(vhat) + eps);
            }, decoupled ? "AdamW" : "Adam");
    }

    [Fact]
    public void RmspropCenteredMomentumWeightDecay()
    {
        const double lr = 0.01, alpha = 0.9, eps = 1e-8, wd = 0.02, mu = 0.7;
        var v = new double[4];
        var gave = new double[4];
        var b = new double[4];
        Run(p => new RmsProp([p], lr, alpha, eps, wd, mu, centered: true), (key, theta, g) =>
        {
            int i = key / 1000;
            g += wd * theta;
            v[i] = alpha * v[i] + (1 - alpha) * g * g;
            gave[i] = gave[i] * alpha + (1 - alpha) * g;
            double vt = v[i] - gave[i] * gave[i];
            b[i] = mu * b[i] + g / (Math.Sqrt(vt) + eps);
            return theta - lr * b[i];
        }, "RmsProp centered");
    }

    [Fact]
    public void AdagradLrDecayWeightDecayInitialAccumulator()
    {
        const double lr = 0.2, decay = 0.1, wd = 0.03, init = 0.5, eps = 1e-10;
        var sum = Enumerable.Repeat(init, 4).ToArray();
        Run(p => new Adagrad([p], lr, decay, wd, init, eps), (key, theta, g) =>
        {
            int i = key / 1000, t = key % 1000 + 1;
            double clr = lr / (1 + (t - 1) * decay);
            g += wd * theta;
            sum[i] += g * g;
            return theta - clr * g / (Math.Sqrt(sum[i]) + eps);
        }, "Adagrad");
    }
}
