using System.Text.Json;
using SharpGrad.Optimizers;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Optimizers;

public class OptimizerTests
{
    private const string File = "optimizers.safetensors";

    public static IEnumerable<object[]> Cases() => Manifest.Cases(File).Select(c => new object[] { c.GetProperty("case").GetString()! });

    private static double Num(JsonElement kw, string name, double dflt) => kw.TryGetProperty(name, out var v) ? v.GetDouble() : dflt;

    private static bool Flag(JsonElement kw, string name) => kw.TryGetProperty(name, out var v) && v.GetBoolean();

    /// <summary>Builds the optimizer the manifest describes (PyTorch kwargs → C# arguments).</summary>
    private static Optimizer Create(string caseName, IEnumerable<Tensor> ps)
    {
        var c = Manifest.Case(File, caseName);
        var kw = c.GetProperty("kwargs");
        foreach (var prop in kw.EnumerateObject())
        {
            Assert.Contains(prop.Name, new[] { "lr", "momentum", "nesterov", "weight_decay", "amsgrad", "dampening", "alpha", "eps", "centered", "lr_decay", "betas" });
        }
        return c.GetProperty("optimizer").GetString() switch
        {
            "SGD" => new Sgd(ps, Num(kw, "lr", double.NaN), Num(kw, "momentum", 0), Num(kw, "dampening", 0), Num(kw, "weight_decay", 0), Flag(kw, "nesterov")),
            "Adam" => new Adam(ps, Num(kw, "lr", 1e-3), eps: Num(kw, "eps", 1e-8), weightDecay: Num(kw, "weight_decay", 0), amsgrad: Flag(kw, "amsgrad")),
            "AdamW" => new AdamW(ps, Num(kw, "lr", 1e-3), eps: Num(kw, "eps", 1e-8), weightDecay: Num(kw, "weight_decay", 1e-2), amsgrad: Flag(kw, "amsgrad")),
            "RMSprop" => new RmsProp(ps, Num(kw, "lr", 1e-2), Num(kw, "alpha", 0.99), Num(kw, "eps", 1e-8), Num(kw, "weight_decay", 0), Num(kw, "momentum", 0), Flag(kw, "centered")),
            "Adagrad" => new Adagrad(ps, Num(kw, "lr", 1e-2), Num(kw, "lr_decay", 0), Num(kw, "weight_decay", 0)),
            var o => throw new NotSupportedException(o),
        };
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesPyTorchTrajectory(string caseName)
    {
        var f = SafeTensorsFile.Load(File);
        int steps = Manifest.Case(File, caseName).GetProperty("steps").GetInt32();
        var p = new Parameter(f["p0"]);
        var opt = Create(caseName, [p]);
        for (int k = 0; k < steps; k++)
        {
            p.Grad = f[$"grad{k}"];
            int version = p.Version;
            opt.Step();
            Assert.True(p.Version > version, "Step must bump the parameter's version");
            TensorAssert.Close(f[$"{caseName}.after{k}"], p, 1e-5, 1e-6, $"{caseName} after step {k}");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Float64MatchesPyTorchTrajectory(string caseName)
    {
        var f = SafeTensorsFile.Load(File);
        int steps = Manifest.Case(File, caseName).GetProperty("steps").GetInt32();
        var p = new Parameter(f["p0"].To(DType.Float64));
        var opt = Create(caseName, [p]);
        for (int k = 0; k < steps; k++)
        {
            p.Grad = f[$"grad{k}"].To(DType.Float64);
            opt.Step();
            Assert.Equal(DType.Float64, p.DType);
            TensorAssert.Close(f[$"{caseName}.after{k}"], p, 1e-5, 1e-6, $"{caseName} (Float64) after step {k}");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void StateDictRoundTripContinuesTheSameTrajectory(string caseName)
    {
        var f = SafeTensorsFile.Load(File);
        int steps = Manifest.Case(File, caseName).GetProperty("steps").GetInt32();
        var p = new Parameter(f["p0"]);
        var opt = Create(caseName, [p]);
        int half = steps / 2;
        for (int k = 0; k < half; k++)
        {
            p.Grad = f[$"grad{k}"];
            opt.Step();
        }
        var sd = opt.StateDict();
        Assert.Single(sd.ParamGroups);
        Assert.Equal(new[] { 0 }, (int[])sd.ParamGroups[0]["params"]);

        // A fresh parameter with the same values and a fresh optimizer (deliberately built with a different lr: the
        // state dict must restore the hyper-parameters too).
        var q = new Parameter(p.Detach().Clone());
        var fresh = Create(caseName, [q]);
        fresh.ParamGroups[0].Lr = 123;
        fresh.LoadStateDict(sd);
        // Stepping the old optimizer must not change the snapshot or the loaded copy.
        for (int k = half; k < steps; k++)
        {
            q.Grad = f[$"grad{k}"];
            fresh.Step();
            TensorAssert.Close(f[$"{caseName}.after{k}"], q, 1e-5, 1e-6, $"{caseName} after step {k} (resumed from a state dict)");
        }
    }

    [Fact]
    public void StateDictHoldsPyTorchStateNames()
    {
        var p = new Parameter(Tensor.Randn([3]));
        var adam = new Adam([p], amsgrad: true);
        p.Grad = Tensor.Ones(3);
        adam.Step();
        adam.Step();
        var sd = adam.StateDict();
        Assert.Equal(new[] { "exp_avg", "exp_avg_sq", "max_exp_avg_sq", "step" }, sd.State[0].Keys.Order());
        Assert.Equal(2f, sd.State[0]["step"].Item());
        Assert.Equal(1e-3, (double)sd.ParamGroups[0]["lr"]);
        Assert.Equal((0.9, 0.999), ((double, double))sd.ParamGroups[0]["betas"]);
        // Snapshot: stepping again doesn't change it.
        adam.Step();
        Assert.Equal(2f, sd.State[0]["step"].Item());
    }

    [Fact]
    public void LoadStateDictRejectsMismatchedGroups()
    {
        var a = new Parameter(Tensor.Zeros(3));
        var b = new Parameter(Tensor.Zeros(2));
        var opt = new Sgd([a, b], lr: 0.1, momentum: 0.9);
        a.Grad = Tensor.Ones(3);
        b.Grad = Tensor.Ones(2);
        opt.Step();
        var sd = opt.StateDict();
        var other = new Sgd([new Parameter(Tensor.Zeros(3))], lr: 0.1, momentum: 0.9);
        var ex = Assert.Throws<ArgumentException>(() => other.LoadStateDict(sd));
        Assert.Contains("2 parameter(s)", ex.Message);
        var swapped = new Sgd([new Parameter(Tensor.Zeros(2)), new Parameter(Tensor.Zeros(3))], lr: 0.1, momentum: 0.9);
        ex = Assert.Throws<ArgumentException>(() => swapped.LoadStateDict(sd));
        Assert.Contains("[3]", ex.Message);
        Assert.Contains("[2]", ex.Message);
    }

    /// <summary>Naive SGD-with-momentum in double, written from PyTorch's documented pseudo-code.</summary>
    private static double[] NaiveSgd(double[] p, double[][] grads, double lr, double momentum)
    {
        p = (double[])p.Clone();
        var buf = new double[p.Length];
        for (int t = 0; t < grads.Length; t++)
        {
            for (int i = 0; i < p.Length; i++)
            {
                buf[i] = t == 0 ? grads[t][i] : momentum * buf[i] + grads[t][i];
                p[i] -= lr * buf[i];
            }
        }
        return p;
    }

    [Fact]
    public void ParamGroupsOverrideDefaults()
    {
        var a = new Parameter(Tensor.FromArray(new float[] { 1, 2 }, 2));
        var b = new Parameter(Tensor.FromArray(new float[] { 3, 4 }, 2));
        var opt = new Sgd([new ParamGroup([a]), new ParamGroup([b], lr: 0.5, momentum: 0.0)], lr: 0.1, momentum: 0.9);
        Assert.Equal(0.1, opt.ParamGroups[0].Lr);
        Assert.Equal(0.9, opt.ParamGroups[0].Momentum);
        Assert.Equal(0.5, opt.ParamGroups[1].Lr);
        Assert.Equal(0.0, opt.ParamGroups[1].Momentum);
        var ga = new[] { new double[] { 1, -1 }, new double[] { 0.5, 2 } };
        for (int t = 0; t < 2; t++)
        {
            a.Grad = Tensor.FromArray(ga[t].Select(v => (float)v).ToArray(), 2);
            b.Grad = Tensor.FromArray(ga[t].Select(v => (float)v).ToArray(), 2);
            opt.Step();
        }
        TensorAssert.Close(NaiveSgd([1, 2], ga, 0.1, 0.9), a.ToDoubleArray(), 1e-6, 1e-6, "group 0");
        TensorAssert.Close(NaiveSgd([3, 4], ga, 0.5, 0.0), b.ToDoubleArray(), 1e-6, 1e-6, "group 1");
        Assert.True(opt.StateOf(a).ContainsKey("momentum_buffer"));
        Assert.False(opt.StateOf(b).ContainsKey("momentum_buffer"));

        // Changing a group's lr changes that group's next step only.
        opt.ParamGroups[1].Lr = 0;
        var before = b.ToDoubleArray();
        b.Grad = Tensor.Ones(2);
        a.Grad = null;
        var aBefore = a.ToDoubleArray();
        opt.Step();
        Assert.Equal(before, b.ToDoubleArray());
        Assert.Equal(aBefore, a.ToDoubleArray());
    }

    [Fact]
    public void ParametersWithNullGradAreSkipped()
    {
        var a = new Parameter(Tensor.FromArray(new float[] { 1, 2 }, 2));
        var b = new Parameter(Tensor.FromArray(new float[] { 3, 4 }, 2));
        var opt = new Adam([a, b], lr: 0.1);
        a.Grad = Tensor.FromArray(new float[] { 1, 1 }, 2);
        int vb = b.Version;
        opt.Step();
        Assert.Equal(new float[] { 3, 4 }, b.ToArray());
        Assert.Equal(vb, b.Version);
        Assert.Empty(opt.StateOf(b));
        // Adam's first step moves each element by lr (m̂/√v̂ = sign(g)).
        TensorAssert.Close(new double[] { 0.9, 1.9 }, a.ToDoubleArray(), 1e-6, 1e-6, "a");
    }

    [Fact]
    public void ZeroGradSetsToNoneOrZeros()
    {
        var a = new Parameter(Tensor.Ones(2));
        var opt = new Sgd([a], lr: 0.1);
        (a * 3f).Sum().Backward();
        Assert.NotNull(a.Grad);
        opt.ZeroGrad(setToNone: false);
        Assert.Equal(new float[] { 0, 0 }, a.Grad!.ToArray());
        opt.ZeroGrad();
        Assert.Null(a.Grad);
    }

    [Fact]
    public void TrainsALinearModelEndToEnd()
    {
        // Minimise |w - target|² with autograd gradients; each optimizer must get close.
        var target = Tensor.FromArray(new float[] { 1, -2, 3 }, 3);
        foreach (var make in new Func<Tensor, Optimizer>[]
                 {
                     w => new Sgd([w], 0.1, momentum: 0.9), w => new Adam([w], 0.1), w => new AdamW([w], 0.1, weightDecay: 0),
                     w => new RmsProp([w], 0.01, centered: true, momentum: 0.5), w => new Adagrad([w], 0.5),
                 })
        {
            var w = new Parameter(Tensor.Zeros(3));
            var opt = make(w);
            for (int i = 0; i < 300; i++)
            {
                opt.ZeroGrad();
                var d = w - target;
                (d * d).Sum().Backward();
                opt.Step();
            }
            TensorAssert.Close(target, w, 1e-2, 1e-2, opt.GetType().Name);
        }
    }

    [Fact]
    public void BadHyperParametersNameTheValue()
    {
        var p = new[] { new Parameter(Tensor.Zeros(2)) };
        Assert.Contains("-0.1", Assert.Throws<ArgumentException>(() => new Sgd(p, lr: -0.1)).Message);
        Assert.Contains("learning rate", Assert.Throws<ArgumentException>(() => new Adam(p, lr: -1)).Message);
        Assert.Contains("1.5", Assert.Throws<ArgumentException>(() => new Adam(p, betas: (1.5, 0.999))).Message);
        var ex = Assert.Throws<ArgumentException>(() => new AdamW(p, betas: (0.9, 1.0)));
        Assert.Contains("index 1", ex.Message);
        Assert.Contains("[0, 1)", ex.Message);
        Assert.Contains("-0.5", Assert.Throws<ArgumentException>(() => new Sgd(p, lr: 0.1, momentum: -0.5)).Message);
        Assert.Contains("Nesterov", Assert.Throws<ArgumentException>(() => new Sgd(p, lr: 0.1, nesterov: true)).Message);
        Assert.Contains("-2", Assert.Throws<ArgumentException>(() => new RmsProp(p, weightDecay: -2)).Message);
        Assert.Contains("-0.01", Assert.Throws<ArgumentException>(() => new Adagrad(p, lrDecay: -0.01)).Message);
        Assert.Contains("-3", Assert.Throws<ArgumentException>(() => new Sgd([new ParamGroup(p, lr: -3)], lr: 0.1)).Message);
        Assert.Throws<ArgumentException>(() => new Sgd(Array.Empty<Tensor>(), lr: 0.1));
        var shared = new Parameter(Tensor.Zeros(2));
        Assert.Contains("more than one", Assert.Throws<ArgumentException>(() => new Sgd([new ParamGroup([shared]), new ParamGroup([shared])], lr: 0.1)).Message);
    }

    [Fact]
    public void StepWithClosureEvaluatesThenSteps()
    {
        var w = new Parameter(Tensor.FromArray(new float[] { 2 }, 1));
        var opt = new Sgd([w], lr: 0.25);
        var loss = opt.Step(() =>
        {
            opt.ZeroGrad();
            var l = (w * w).Sum();
            l.Backward();
            return l;
        });
        Assert.Equal(4f, loss.Item());
        Assert.Equal(2 - 0.25f * 4, w.Item());
    }

    [Fact]
    public void MaximizeAscends()
    {
        var a = new Parameter(Tensor.Zeros(1));
        var opt = new Sgd([a], lr: 0.5, maximize: true);
        a.Grad = Tensor.Ones(1);
        opt.Step();
        Assert.Equal(0.5f, a.Item());
    }
}
