using SharpGrad.Layers;
using SharpGrad.Serialization;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Serialization;

public class StateDictTests
{
    [Fact]
    public void OrderIsPyTorchs_OwnParametersThenOwnBuffersThenChildren()
    {
        // PyTorch's Module._save_to_state_dict writes a module's parameters, then its buffers, then recurses into children.
        var m = new WithBuffers();
        var keys = m.StateDict().Keys.ToArray();
        Assert.Equal(["a", "num_batches_tracked", "running_mean", "child.weight", "child.bias"], keys);
    }

    [Fact]
    public void SequentialNamesFollowPyTorch_AndParameterlessLayersContributeNothing()
    {
        var keys = TestModels.Net3().StateDict().Keys.ToArray();
        Assert.Equal(["0.weight", "0.bias", "2.weight", "2.bias"], keys);
        var cnn = TestModels.Cnn().StateDict().Keys.ToArray();
        // the fixture's own key order (cnn.safetensors, written from PyTorch's state_dict())
        Assert.Equal(SafeTensors.Read(Path.Combine(SafeTensorsFile.Dir, "cnn.safetensors")).Keys.ToArray(), cnn);
    }

    [Fact]
    public void EntriesAreDetachedAndShareStorage()
    {
        var net = TestModels.Net3(new Rng(1));
        var sd = net.StateDict();
        var w = sd["0.weight"];
        Assert.False(w.RequiresGrad);
        Assert.True(w.IsLeaf);
        using (Autograd.NoGrad()) ((Linear)net[0]).Weight.Fill_(3);
        Assert.All(w.ToArray(), v => Assert.Equal(3f, v));
    }

    [Fact]
    public void LoadCopiesInPlace_KeepsParameterIdentity_RecordsNoGraph()
    {
        var src = TestModels.Net3(new Rng(1));
        var dst = TestModels.Net3(new Rng(2));
        var before = ((Linear)dst[0]).Weight;
        var result = dst.LoadStateDict(src.StateDict());
        Assert.True(result.IsComplete);
        Assert.Same(before, ((Linear)dst[0]).Weight);
        Assert.True(before.IsLeaf);
        Assert.True(before.RequiresGrad);
        Assert.Equal(((Linear)src[0]).Weight.ToArray(), before.ToArray());
        Assert.Equal(((Linear)src[2]).Bias!.ToArray(), ((Linear)dst[2]).Bias!.ToArray());
    }

    [Fact]
    public void StrictLoad_ReportsEveryProblemInOneException()
    {
        var dst = TestModels.Net3(new Rng(2));
        var sd = new StateDict
        {
            ["0.weight"] = Tensor.Zeros(10, 2),     // shape mismatch ([10, 1] expected)
            ["0.bias"] = Tensor.Zeros(10),
            ["2.weight"] = Tensor.Zeros(1, 10),
            // "2.bias" missing
            ["extra.weight"] = Tensor.Zeros(3),     // unexpected
            ["1.running_mean"] = Tensor.Zeros(3),   // unexpected
        };
        var before = ((Linear)dst[0]).Bias!.ToArray();
        var ex = Assert.Throws<StateDictMismatchException>(() => dst.LoadStateDict(sd));
        Assert.Equal(["2.bias"], ex.MissingKeys);
        Assert.Equal(["extra.weight", "1.running_mean"], ex.UnexpectedKeys);
        Assert.Single(ex.Mismatches);
        Assert.Contains("\"2.bias\"", ex.Message);
        Assert.Contains("\"extra.weight\"", ex.Message);
        Assert.Contains("\"1.running_mean\"", ex.Message);
        Assert.Contains("0.weight", ex.Message);
        Assert.Contains("[10, 2]", ex.Message);
        Assert.Contains("[10, 1]", ex.Message);
        // nothing was copied
        Assert.Equal(before, ((Linear)dst[0]).Bias!.ToArray());
    }

    [Fact]
    public void NonStrictLoad_ReturnsMissingAndUnexpected_AndLoadsTheRest()
    {
        var src = TestModels.Net3(new Rng(1));
        var dst = TestModels.Net3(new Rng(2));
        var sd = src.StateDict();
        sd.Remove("2.bias");
        sd["head.weight"] = Tensor.Zeros(2);
        var r = dst.LoadStateDict(sd, strict: false);
        Assert.Equal(["2.bias"], r.MissingKeys);
        Assert.Equal(["head.weight"], r.UnexpectedKeys);
        Assert.Equal(((Linear)src[2]).Weight.ToArray(), ((Linear)dst[2]).Weight.ToArray());
        Assert.NotEqual(((Linear)src[2]).Bias!.ToArray(), ((Linear)dst[2]).Bias!.ToArray());
    }

    [Fact]
    public void NonStrictLoad_StillRejectsShapeMismatches()
    {
        var dst = TestModels.Net3(new Rng(2));
        var sd = new StateDict { ["0.weight"] = Tensor.Zeros(1, 10) };
        var ex = Assert.Throws<StateDictMismatchException>(() => dst.LoadStateDict(sd, strict: false));
        Assert.Contains("size mismatch for 0.weight", ex.Message);
        Assert.DoesNotContain("Missing key", ex.Message); // not strict: missing keys are not errors
    }

    [Fact]
    public void DTypes_WideningAndNarrowingFloatsConvert_FloatIntoIntegerBufferIsRefused()
    {
        var m = new WithBuffers();
        var sd = m.StateDict();
        var d = new StateDict();
        foreach (var (k, v) in sd.Items()) d[k] = v.DType.IsFloatingPoint() ? v.To(DType.Float64) * 2f : v.To(DType.Int32);
        var fresh = new WithBuffers();
        fresh.LoadStateDict(d);
        Assert.Equal(DType.Float32, fresh.A.DType);
        Assert.Equal(new float[] { 2, 4 }, fresh.A.ToArray());

        var bad = new StateDict();
        foreach (var (k, v) in sd.Items()) bad[k] = v;
        bad["num_batches_tracked"] = Tensor.FromArray(new float[] { 1.5f });
        var ex = Assert.Throws<StateDictMismatchException>(() => new WithBuffers().LoadStateDict(bad));
        Assert.Contains("num_batches_tracked", ex.Message);
        Assert.Contains("Float32", ex.Message);
    }

    [Fact]
    public void LoadByExtension_RejectsUnknownExtensions()
    {
        var ex = Assert.Throws<ArgumentException>(() => StateDict.Load("weights.onnx"));
        Assert.Contains(".safetensors", ex.Message);
        var sd = new StateDict { ["x"] = Tensor.Zeros(1) };
        Assert.Throws<ArgumentException>(() => sd.Save(Path.Combine(Path.GetTempPath(), "x.pt")));
    }
}
