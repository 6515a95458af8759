using System.Text.Json;
using SharpGrad.Optimizers;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Optimizers;

/// <summary>L-BFGS against PyTorch's (Fixtures/arch): logistic regression and Rosenbrock, fixed step and strong-Wolfe line search.</summary>
public class LbfgsTests
{
    private const string File = "training.safetensors";

    public static IEnumerable<object[]> Cases() => ArchFixtures.CaseNames(File, "lbfgs");

    private static Lbfgs Create(JsonElement kw, Tensor w) => new(
        [w],
        lr: kw.TryGetProperty("lr", out var lr) ? lr.GetDouble() : 1,
        maxIter: kw.TryGetProperty("max_iter", out var mi) ? mi.GetInt32() : 20,
        maxEval: kw.TryGetProperty("max_eval", out var me) ? me.GetInt32() : null,
        historySize: kw.TryGetProperty("history_size", out var h) ? h.GetInt32() : 100,
        lineSearchFn: kw.TryGetProperty("line_search_fn", out var ls) ? ls.GetString() : null);

    /// <summary>The objectives of generate.py, written with SharpGrad's ops.</summary>
    private static Tensor Objective(string problem, Tensor w)
    {
        if (problem == "logistic")
        {
            var x = ArchFixtures.Get(File, "lbfgs.X").To(w.DType);
            var y = ArchFixtures.Get(File, "lbfgs.y").To(w.DType);
            var z = -(y * x.MatMul(w));
            // 0.01 as a tensor of w's dtype: a float literal would round it to 0.0099999998 in Float64.
            return Functional.Softplus(z).Mean() + (w * w).Sum() * Tensor.Full([], 0.01, w.DType);
        }
        var a = w.Narrow(0, 0, w.Size(0) - 1);
        var b = w.Narrow(0, 1, w.Size(0) - 1);
        var d = b - a * a;
        var e = 1f - a;
        return (d * d * 100f + e * e).Sum();
    }

    private static Parameter Start(string problem, DType dtype) => new(problem == "logistic"
        ? Tensor.Zeros([5], dtype)
        : Tensor.FromArray(new float[] { -1.2f, 1.0f, -0.5f, 0.8f }, 4).To(dtype)); // PyTorch's start is a float32 tensor too

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesPyTorchSteps(string caseName)
    {
        var c = ArchFixtures.Case(File, caseName);
        string problem = c.GetProperty("problem").GetString()!;
        int steps = c.GetProperty("steps").GetInt32();
        // Float64 follows PyTorch to rounding. In Float32 the iterations amplify the rounding of the loss's gradient (PyTorch's
        // own Float32 and Float64 runs differ by 4e-4 on lbfgs_logistic_history3), so Float32 is held to 1e-3.
        foreach (var (dtype, tag, rtol, atol) in new[] { (DType.Float64, "f64", 1e-9, 1e-11), (DType.Float32, "f32", 1e-3, 2e-5) })
        {
            var w = Start(problem, dtype);
            var opt = Create(c.GetProperty("kwargs"), w);
            Tensor Closure()
            {
                opt.ZeroGrad();
                var loss = Objective(problem, w);
                loss.Backward();
                return loss;
            }
            for (int k = 0; k < steps; k++)
            {
                var loss = opt.Step(Closure);
                TensorAssert.Close(ArchFixtures.Get(File, $"lbfgs.{caseName}.{tag}.loss{k}"), loss, rtol, atol, $"{caseName} ({tag}) loss of step {k}");
                TensorAssert.Close(ArchFixtures.Get(File, $"lbfgs.{caseName}.{tag}.after{k}"), w, rtol, atol, $"{caseName} ({tag}) parameters after step {k}");
            }
            if (dtype == DType.Float64)
            {
                var state = opt.StateDict().State[0];
                Assert.Equal(ArchFixtures.Get(File, $"lbfgs.{caseName}.f64.func_evals").ItemDouble(), state["func_evals"].ItemDouble());
                Assert.Equal(ArchFixtures.Get(File, $"lbfgs.{caseName}.f64.n_iter").ItemDouble(), state["n_iter"].ItemDouble());
            }
        }
    }

    [Fact]
    public void StateDictResumesTheSameSteps()
    {
        var c = ArchFixtures.Case(File, "lbfgs_logistic_history3");
        var w = Start("logistic", DType.Float64);
        var opt = Create(c.GetProperty("kwargs"), w);
        Tensor Closure(Lbfgs o, Tensor p)
        {
            o.ZeroGrad();
            var loss = Objective("logistic", p);
            loss.Backward();
            return loss;
        }
        opt.Step(() => Closure(opt, w));
        var saved = opt.StateDict();
        Assert.Equal([3, 5], saved.State[0]["old_dirs"].Shape);
        var w2 = new Parameter(w.Detach().Clone());
        var opt2 = Create(c.GetProperty("kwargs"), w2);
        opt2.LoadStateDict(saved);
        for (int k = 1; k < 3; k++) opt2.Step(() => Closure(opt2, w2));
        TensorAssert.Close(ArchFixtures.Get(File, "lbfgs.lbfgs_logistic_history3.f64.after2"), w2, 1e-9, 1e-11, "resumed");
    }

    [Fact]
    public void MisuseGivesClearErrors()
    {
        var w = new Parameter(Tensor.Zeros(3));
        var opt = new Lbfgs([w]);
        Assert.Contains("closure", Assert.Throws<InvalidOperationException>(() => opt.Step()).Message);
        Assert.Contains("strong_wolfe", Assert.Throws<ArgumentException>(() => new Lbfgs([w], lineSearchFn: "backtracking")).Message);
        Assert.Contains("parameter groups", Assert.Throws<ArgumentException>(() => opt.AddParamGroup(new ParamGroup([new Parameter(Tensor.Zeros(2))]))).Message);
        Assert.Contains("same dtype", Assert.Throws<ArgumentException>(() =>
            new Lbfgs([new Parameter(Tensor.Zeros(1)), new Parameter(Tensor.Zeros([2], DType.Float64))])).Message);
    }

    [Fact]
    public void StopsAtOnceWhenTheGradientIsBelowTolerance()
    {
        var w = new Parameter(Tensor.Ones(3));
        var opt = new Lbfgs([w], toleranceGrad: 1e-3);
        int calls = 0;
        opt.Step(() =>
        {
            calls++;
            opt.ZeroGrad();
            var loss = ((w - 1f) * (w - 1f)).Sum();
            loss.Backward();
            return loss;
        });
        Assert.Equal(1, calls);
        TensorAssert.Close(Tensor.Ones(3), w, 0, 0, "unchanged");
    }
}
