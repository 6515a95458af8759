using System.Text.Json;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.LossTests;

/// <summary>Every loss case of losses.safetensors (23 losses × mean/sum/none): output and input gradients vs PyTorch.</summary>
public class LossFixtureTests
{
    private const string File = "losses.safetensors";

    public static IEnumerable<object[]> Cases() => Manifest.Cases(File).Select(c => new object[] { c.GetProperty("case").GetString()! });

    private static Reduction ParseReduction(string r) => r switch { "mean" => Reduction.Mean, "sum" => Reduction.Sum, "none" => Reduction.None, _ => throw new NotSupportedException(r) };

    private static double Kw(JsonElement kw, string name, double dflt) => kw.TryGetProperty(name, out var v) ? v.GetDouble() : dflt;

    /// <summary>Calls the SharpGrad loss for a PyTorch loss name (options as the fixture generator used them; see README.md).</summary>
    internal static Tensor Call(string loss, Dictionary<string, Tensor> a, JsonElement kw, Reduction r, SafeTensorsFile f)
    {
        foreach (var p in kw.EnumerateObject())
        {
            Assert.Contains(p.Name, new[] { "beta", "delta", "margin" }); // every option the manifest uses is handled below
        }
        return loss switch
        {
            "l1_loss" => SharpGrad.Losses.L1(a["input"], a["target"], r),
            "mse_loss" => SharpGrad.Losses.Mse(a["input"], a["target"], r),
            "smooth_l1_loss" => SharpGrad.Losses.SmoothL1(a["input"], a["target"], r, beta: Kw(kw, "beta", 1.0)),
            "huber_loss" => SharpGrad.Losses.Huber(a["input"], a["target"], r, delta: Kw(kw, "delta", 1.0)),
            "binary_cross_entropy" => SharpGrad.Losses.BinaryCrossEntropy(a["input"], a["target"], reduction: r),
            "binary_cross_entropy_with_logits" => SharpGrad.Losses.BinaryCrossEntropyWithLogits(a["input"], a["target"], reduction: r),
            "cross_entropy" => SharpGrad.Losses.CrossEntropy(a["input"], a["target"], reduction: r),
            "cross_entropy_smoothing" => SharpGrad.Losses.CrossEntropy(a["input"], a["target"], labelSmoothing: 0.1, reduction: r),
            "cross_entropy_ignore" => SharpGrad.Losses.CrossEntropy(a["input"], a["target"], ignoreIndex: -100, reduction: r),
            "cross_entropy_weighted" => SharpGrad.Losses.CrossEntropy(a["input"], a["target"], weight: f["cross_entropy_weighted.weight"], reduction: r),
            "nll_loss" or "nll_loss_2d" => SharpGrad.Losses.Nll(a["input"], a["target"], reduction: r),
            "kl_div" => SharpGrad.Losses.KLDiv(a["input"], a["target"], r),
            "margin_ranking_loss" => SharpGrad.Losses.MarginRanking(a["input1"], a["input2"], a["target"], Kw(kw, "margin", 0), r),
            "hinge_embedding_loss" => SharpGrad.Losses.HingeEmbedding(a["input"], a["target"], Kw(kw, "margin", 1), r),
            "multilabel_margin_loss" => SharpGrad.Losses.MultiLabelMargin(a["input"], a["target"], r),
            "soft_margin_loss" => SharpGrad.Losses.SoftMargin(a["input"], a["target"], r),
            "multilabel_soft_margin_loss" => SharpGrad.Losses.MultiLabelSoftMargin(a["input"], a["target"], reduction: r),
            "cosine_embedding_loss" => SharpGrad.Losses.CosineEmbedding(a["input1"], a["input2"], a["target"], Kw(kw, "margin", 0), r),
            "multi_margin_loss" => SharpGrad.Losses.MultiMargin(a["input"], a["target"], margin: Kw(kw, "margin", 1), reduction: r),
            "triplet_margin_loss" => SharpGrad.Losses.TripletMargin(a["anchor"], a["positive"], a["negative"], Kw(kw, "margin", 1), reduction: r),
            "poisson_nll_loss" => SharpGrad.Losses.PoissonNll(a["input"], a["target"], reduction: r),
            "gaussian_nll_loss" => SharpGrad.Losses.GaussianNll(a["input"], a["target"], a["var"], reduction: r),
            _ => throw new NotSupportedException(loss),
        };
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesPyTorch(string caseName)
    {
        var c = Manifest.Case(File, caseName);
        var f = SafeTensorsFile.Load(File);
        var grads = c.GetProperty("grads").EnumerateArray().Select(e => e.GetString()!).ToHashSet();
        var args = new Dictionary<string, Tensor>();
        foreach (var name in c.GetProperty("inputs").EnumerateArray().Select(e => e.GetString()!))
        {
            var t = f[$"{caseName}.{name}"];
            if (grads.Contains(name)) t.RequiresGrad = true;
            args[name] = t;
        }
        var r = ParseReduction(c.GetProperty("reduction").GetString()!);
        var outT = Call(c.GetProperty("loss").GetString()!, args, c.GetProperty("kwargs"), r, f);
        var expected = f[$"{caseName}.out"];
        if (r != Reduction.None) Assert.Equal(0, outT.Rank);
        else Assert.Equal(expected.Shape, outT.Shape);
        // 1e-5 relative; the absolute 1e-6 covers outputs near zero.
        TensorAssert.Close(expected, outT, 1e-5, 1e-6, $"{caseName} output");

        outT.Backward(f[$"{caseName}.seed_grad"].Reshape(outT.Shape));
        foreach (var g in grads)
        {
            Assert.True(args[g].Grad is not null, $"{caseName}: no gradient for {g}");
            TensorAssert.Close(f[$"{caseName}.grad_{g}"], args[g].Grad!, 1e-5, 1e-6, $"{caseName} grad_{g}");
        }
    }
}
