using SharpGrad;
using SharpGrad.Layers;
using SharpGrad.Optimizers;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.EndToEnd;

/// <summary>The two acceptance models of the foundation: the y = x² regression and the fixtures' named CNN.</summary>
public class ClassicModelTests
{
    [Fact]
    public void SequentialLearnsASquareWithSgdAndMse()
    {
        var rng = new Rng(1);
        var x = Tensor.Linspace(-1, 1, 100).View(100, 1);
        var clean = x * x;
        var y = clean + Tensor.Randn([100, 1], rng: rng) * 0.05f;

        Rng.ManualSeed(1);
        #pragma warning disable SG2009 // this test exercises a run-time Sequential on purpose
        var model = new Sequential(new Linear(1, 10), new ReLU(), new Linear(10, 1));
        #pragma warning restore SG2009
        Assert.Equal(new[] { "0.weight", "0.bias", "2.weight", "2.bias" }, model.NamedParameters().Select(p => p.Name));

        var optimizer = new Sgd(model.Parameters(), lr: 0.1f, momentum: 0.9f);
        float first = float.NaN;
        for (int step = 0; step < 3000; step++)
        {
            optimizer.ZeroGrad();
            var loss = Losses.Mse(model.Forward(x), y);
            if (step == 0) first = loss.Item();
            loss.Backward();
            optimizer.Step();
        }
        using (Autograd.NoGrad())
        {
            float cleanMse = Losses.Mse(model.Forward(x), clean).Item();
            Assert.True(cleanMse < 0.01f, $"MSE against the noise-free curve is {cleanMse} (started at {first}); expected below 0.01");
        }
    }

    [Fact]
    public void TheFixtureCnnHasPyTorchsParameterNamesInOrder()
    {
        var expected = Manifest.Case("models.safetensors", "cnn").GetProperty("state_dict_keys").EnumerateArray().Select(e => e.GetString()).ToArray();
        var model = new FixtureCnn();
        Assert.Equal(expected, model.NamedParameters().Select(p => p.Name).ToArray());
    }

    [Fact]
    public void TheFixtureCnnReproducesPyTorchsOutputLossAndGradientsEagerly()
    {
        var model = new FixtureCnn();
        var weights = SafeTensorsFile.Load("cnn.safetensors");
        using (Autograd.NoGrad())
        {
            foreach (var (name, p) in model.NamedParameters()) p.Copy_(weights[name]);
        }
        var fixture = SafeTensorsFile.Load("models.safetensors");
        var x = fixture["cnn.x"].RequiresGrad_();
        var output = model.Forward(x);
        // float32 sums over 27–512 terms: 1e-4 relative.
        TensorAssert.Close(fixture["cnn.out"], output, rtol: 1e-4, atol: 1e-5, what: "cnn.out");
        var loss = Losses.CrossEntropy(output, fixture["cnn.target"]);
        TensorAssert.Close(fixture["cnn.loss"], loss, rtol: 1e-5, atol: 1e-6, what: "cnn.loss");
        loss.Backward();
        TensorAssert.Close(fixture["cnn.grad_x"], x.Grad!, rtol: 1e-4, atol: 1e-6, what: "cnn.grad_x");
        foreach (var (name, p) in model.NamedParameters())
        {
            TensorAssert.Close(fixture["cnn.grad." + name], p.Grad!, rtol: 1e-4, atol: 1e-6, what: "cnn.grad." + name);
        }
    }
}

/// <summary>The fixtures' CNN: a conv block built with add_module names and a dense block built from an OrderedDict.</summary>
[Module]
public partial class FixtureCnn
{
    readonly Sequential conv = new Sequential()
        .Add("conv1", new Conv2d(3, 32, 3, 1, 1))
        .Add("relu1", new ReLU())
        .Add("pool1", new MaxPool2d(2));

    readonly Sequential dense = new(
        ("dense1", new Linear(512, 64)),
        ("relu2", new ReLU()),
        ("dense2", new Linear(64, 10)));

    public Tensor Forward(Tensor x)
    {
        var h = conv.Forward(x);
        return dense.Forward(h.View(h.Size(0), -1));
    }
}
