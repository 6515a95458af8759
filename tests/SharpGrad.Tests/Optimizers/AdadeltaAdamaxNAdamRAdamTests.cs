using System.Text.Json;
using SharpGrad.Optimizers;
using SharpGrad.Serialization;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Optimizers;

/// <summary>Adadelta, Adamax, NAdam and RAdam against PyTorch's trajectories (Fixtures/arch, 10 steps, Float32 and Float64).</summary>
public class AdadeltaAdamaxNAdamRAdamTests
{
    private const string File = "training.safetensors";

    public static IEnumerable<object[]> Cases() => ArchFixtures.CaseNames(File, "optimizer");

    private static double Num(JsonElement kw, string name, double dflt) => kw.TryGetProperty(name, out var v) ? v.GetDouble() : dflt;

    private static bool Flag(JsonElement kw, string name) => kw.TryGetProperty(name, out var v) && v.GetBoolean();

    private static (double, double)? Betas(JsonElement kw) =>
        kw.TryGetProperty("betas", out var b) ? (b[0].GetDouble(), b[1].GetDouble()) : null;

    /// <summary>The optimizer the manifest describes (PyTorch kwargs → C# arguments, PyTorch's defaults where absent).</summary>
    internal static Optimizer Create(string caseName, IEnumerable<Tensor> ps, double? lrOverride = null)
    {
        var c = ArchFixtures.Case(File, caseName);
        var kw = c.GetProperty("kwargs");
        foreach (var prop in kw.EnumerateObject())
        {
            Assert.Contains(prop.Name, new[] { "lr", "rho", "eps", "weight_decay", "maximize", "betas", "momentum_decay" });
        }
        return c.GetProperty("optimizer").GetString() switch
        {
            "Adadelta" => new Adadelta(ps, lrOverride ?? Num(kw, "lr", 1.0), Num(kw, "rho", 0.9), Num(kw, "eps", 1e-6), Num(kw, "weight_decay", 0), Flag(kw, "maximize")),
            "Adamax" => new Adamax(ps, lrOverride ?? Num(kw, "lr", 2e-3), Betas(kw), Num(kw, "eps", 1e-8), Num(kw, "weight_decay", 0), Flag(kw, "maximize")),
            "NAdam" => new NAdam(ps, lrOverride ?? Num(kw, "lr", 2e-3), Betas(kw), Num(kw, "eps", 1e-8), Num(kw, "weight_decay", 0), Num(kw, "momentum_decay", 4e-3)),
            "RAdam" => new RAdam(ps, lrOverride ?? Num(kw, "lr", 1e-3), Betas(kw), Num(kw, "eps", 1e-8), Num(kw, "weight_decay", 0)),
            var o => throw new NotSupportedException(o),
        };
    }

    private static Parameter[] Start(DType dtype) =>
        [new Parameter(ArchFixtures.Get(File, "opt.p0").To(dtype)), new Parameter(ArchFixtures.Get(File, "opt.p1").To(dtype))];

    private static void SetGrads(Parameter[] ps, int step)
    {
        for (int i = 0; i < ps.Length; i++) ps[i].Grad = ArchFixtures.Get(File, $"opt.grad{step}.p{i}").To(ps[i].DType);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesPyTorchTrajectory(string caseName)
    {
        foreach (var (dtype, tag, rtol, atol) in new[] { (DType.Float32, "f32", 1e-5, 1e-6), (DType.Float64, "f64", 1e-10, 1e-12) })
        {
            var ps = Start(dtype);
            var opt = Create(caseName, ps);
            for (int k = 0; k < 10; k++)
            {
                SetGrads(ps, k);
                int version = ps[0].Version;
                opt.Step();
                Assert.True(ps[0].Version > version, "Step must bump the parameter's version");
                for (int i = 0; i < ps.Length; i++)
                {
                    Assert.Equal(dtype, ps[i].DType);
                    TensorAssert.Close(ArchFixtures.Get(File, $"opt.{caseName}.{tag}.after{k}.p{i}"), ps[i], rtol, atol, $"{caseName} ({tag}) p{i} after step {k}");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void SavedStateContinuesTheSameTrajectory(string caseName)
    {
        var ps = Start(DType.Float32);
        var opt = Create(caseName, ps);
        for (int k = 0; k < 4; k++)
        {
            SetGrads(ps, k);
            opt.Step();
        }
        var path = Path.Combine(Path.GetTempPath(), $"sharpgrad-{caseName}-{Guid.NewGuid():N}.safetensors");
        try
        {
            opt.Save(path);
            // A fresh optimizer with a different lr: LoadStateDict restores the group's hyper-parameters too.
            var ps2 = ps.Select(p => new Parameter(p.Detach().Clone())).ToArray();
            var opt2 = Create(caseName, ps2, lrOverride: 123);
            opt2.Load(path);
            for (int k = 4; k < 10; k++)
            {
                SetGrads(ps2, k);
                opt2.Step();
            }
            for (int i = 0; i < ps2.Length; i++)
            {
                TensorAssert.Close(ArchFixtures.Get(File, $"opt.{caseName}.f32.after9.p{i}"), ps2[i], 1e-5, 1e-6, $"{caseName} p{i} resumed");
            }
        }
        finally
        {
            System.IO.File.Delete(path);
        }
    }

    [Fact]
    public void ParameterGroupsTakeTheirOwnOptions()
    {
        // Group 0 carries the adamax_options case's settings; group 1 only overrides the lr (0 freezes it).
        var p0 = new Parameter(ArchFixtures.Get(File, "opt.p0"));
        var p1 = new Parameter(ArchFixtures.Get(File, "opt.p1"));
        var before1 = p1.Detach().Clone();
        var opt = new Adamax([new ParamGroup([p0], lr: 0.01, betas: (0.8, 0.99), eps: 1e-6, weightDecay: 0.05, maximize: true), new ParamGroup([p1], lr: 0)]);
        for (int k = 0; k < 10; k++)
        {
            p0.Grad = ArchFixtures.Get(File, $"opt.grad{k}.p0");
            p1.Grad = ArchFixtures.Get(File, $"opt.grad{k}.p1");
            opt.Step();
        }
        TensorAssert.Close(ArchFixtures.Get(File, "opt.adamax_options.f32.after9.p0"), p0, 1e-5, 1e-6, "group 0");
        TensorAssert.Close(before1, p1, 0, 0, "group 1 (lr 0)");
        Assert.Equal(0, opt.ParamGroups[1].Lr);
        Assert.Equal((0.9, 0.999), opt.ParamGroups[1].Betas);
    }

    [Fact]
    public void AdadeltaGroupsTakeRhoFromTheGroup()
    {
        var p = new Parameter(ArchFixtures.Get(File, "opt.p0"));
        var q = new Parameter(ArchFixtures.Get(File, "opt.p1"));
        var opt = new Adadelta([new ParamGroup([p], lr: 0.5, rho: 0.8, eps: 1e-5, weightDecay: 0.1, maximize: true), new ParamGroup([q], lr: 0.5, rho: 0.8, eps: 1e-5, weightDecay: 0.1, maximize: true)]);
        for (int k = 0; k < 10; k++)
        {
            p.Grad = ArchFixtures.Get(File, $"opt.grad{k}.p0");
            q.Grad = ArchFixtures.Get(File, $"opt.grad{k}.p1");
            opt.Step();
        }
        TensorAssert.Close(ArchFixtures.Get(File, "opt.adadelta_options.f32.after9.p0"), p, 1e-5, 1e-6, "p0");
        TensorAssert.Close(ArchFixtures.Get(File, "opt.adadelta_options.f32.after9.p1"), q, 1e-5, 1e-6, "p1");
    }

    [Theory]
    [InlineData("nadam")]
    [InlineData("radam")]
    public void MaximizeAscendsLikeMinimizingTheNegatedGradient(string which)
    {
        Optimizer Make(Parameter p, bool maximize) => which == "nadam" ? new NAdam([p], lr: 0.01, maximize: maximize) : new RAdam([p], lr: 0.01, maximize: maximize);
        var a = new Parameter(ArchFixtures.Get(File, "opt.p0"));
        var b = new Parameter(ArchFixtures.Get(File, "opt.p0"));
        var oa = Make(a, maximize: true);
        var ob = Make(b, maximize: false);
        for (int k = 0; k < 8; k++)
        {
            var g = ArchFixtures.Get(File, $"opt.grad{k}.p0");
            a.Grad = g;
            b.Grad = -g;
            oa.Step();
            ob.Step();
        }
        TensorAssert.Close(b, a, 0, 0, $"{which} maximize");
        Assert.True((a.Detach() - ArchFixtures.Get(File, "opt.p0")).Abs().Sum().Item() > 0);
    }

    [Fact]
    public void BadHyperParametersAreNamed()
    {
        var p = new Parameter(Tensor.Zeros(2));
        Assert.Contains("rho", Assert.Throws<ArgumentException>(() => new Adadelta([p], rho: 1.5)).Message);
        Assert.Contains("beta parameter at index 0", Assert.Throws<ArgumentException>(() => new Adamax([p], betas: (1.0, 0.9))).Message);
        Assert.Contains("momentum_decay", Assert.Throws<ArgumentException>(() => new NAdam([p], momentumDecay: -1)).Message);
        Assert.Contains("weight_decay", Assert.Throws<ArgumentException>(() => new RAdam([p], weightDecay: -0.1)).Message);
        Assert.Contains("learning rate", Assert.Throws<ArgumentException>(() => new Adamax([p], lr: -1)).Message);
    }

    [Fact]
    public void NAdamKeepsMuProductAsAFloat32ScalarThroughAStateDict()
    {
        var p = new Parameter(ArchFixtures.Get(File, "opt.p0").To(DType.Float64));
        var opt = new NAdam([p]);
        p.Grad = ArchFixtures.Get(File, "opt.grad0.p0").To(DType.Float64);
        opt.Step();
        var sd = opt.StateDict();
        Assert.Equal(DType.Float32, sd.State[0]["mu_product"].DType);
        Assert.Equal(Array.Empty<int>(), sd.State[0]["mu_product"].Shape);
        var round = OptimizerSerialization.FromStateDict(OptimizerSerialization.ToStateDict(sd));
        var opt2 = new NAdam([new Parameter(p.Detach().Clone())]);
        opt2.LoadStateDict(round);
        Assert.Equal(DType.Float32, opt2.StateOf(opt2.ParamGroups[0].Params[0])["mu_product"].DType);
    }
}
