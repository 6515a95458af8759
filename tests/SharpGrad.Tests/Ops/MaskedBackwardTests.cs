using SharpGrad;
using SharpGrad.Serialization;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Ops;

/// <summary>
/// The pointwise ops whose PyTorch backward selects (<c>where(f′ ≠ 0, g·f′, 0)</c>: ReLU, ReLU6, Hardtanh, the shrinks,
/// Hardsigmoid, Clamp; Sign's gradient is zeros) give +0 where the derivative is 0 even when the upstream gradient is NaN,
/// ±∞ or negative; those whose backward multiplies (LeakyReLU, also with slope 0, Abs) give NaN there, as PyTorch does.
/// Against masked_backward.py's fixture, in float64 (bit for bit, the sign of each zero included) and float32 (the vector
/// kernel and its scalar tail: 37 elements), with the backward plain and recorded (create_graph).
/// </summary>
public class MaskedBackwardTests
{
    private static readonly Lazy<IReadOnlyDictionary<string, Tensor>> Fixture = new(() =>
        StateDict.Load(Path.Combine(AppContext.BaseDirectory, "Fixtures", "catalogue", "masked_backward.safetensors")));

    private static Tensor Op(string name, Tensor x) => name switch
    {
        "relu" => x.Relu(),
        "relu6" => Functional.Relu6(x),
        "hardtanh" => Functional.Hardtanh(x, -0.5, 0.7),
        "softshrink" => Functional.Softshrink(x, 0.5),
        "hardshrink" => Functional.Hardshrink(x, 0.5),
        "hardsigmoid" => Functional.Hardsigmoid(x),
        "clamp" => x.Clamp(-0.4, 0.6),
        "sign" => x.Sign(),
        "leaky_relu" => Functional.LeakyRelu(x, 0.1),
        "leaky_relu_zero_slope" => Functional.LeakyRelu(x, 0.0),
        "abs" => x.Abs(),
        _ => throw new ArgumentException(name),
    };

    public static TheoryData<string, bool, bool> Cases()
    {
        var data = new TheoryData<string, bool, bool>();
        foreach (var name in new[] { "relu", "relu6", "hardtanh", "softshrink", "hardshrink", "hardsigmoid", "clamp", "sign", "leaky_relu", "leaky_relu_zero_slope", "abs" })
            foreach (bool float32 in new[] { false, true })
                foreach (bool createGraph in new[] { false, true })
                    data.Add(name, float32, createGraph);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void GradientMatchesPyTorchUnderNonFiniteUpstream(string name, bool float32, bool createGraph)
    {
        Tensor F(string key) => Fixture.Value.TryGetValue($"{name}.{key}", out var t) ? t.Clone() : throw new KeyNotFoundException($"{name}.{key}");
        var dtype = float32 ? DType.Float32 : DType.Float64;
        var x = F("x").To(dtype).RequiresGrad_();
        var seed = F("seed_grad").To(dtype);
        var y = Op(name, x);
        var g = Autograd.Grad([y], [x], [seed], createGraph: createGraph)[0]!;

        var expected = F("grad_x").ToDoubleArray();
        var actual = g.ToDoubleArray();
        // hardsigmoid: PyTorch 1.13 multiplies by the float constant 1/6 (hardsigmoid_backward's one_sixth), 3e-8 off in float64
        double rtol = float32 ? 1e-6 : name == "hardsigmoid" ? 1e-7 : 1e-15;
        TensorAssert.Close(expected, actual, rtol, 0, $"{name} ({dtype}, createGraph {createGraph}): grad_x");
        for (int i = 0; i < expected.Length; i++)
        {
            if (expected[i] == 0)
                Assert.True(double.IsNegative(expected[i]) == double.IsNegative(actual[i]),
                    $"{name} ({dtype}, createGraph {createGraph}): element {i} (x = {F("x").ToDoubleArray()[i]}, upstream {F("seed_grad").ToDoubleArray()[i]}) "
                    + $"is {(double.IsNegative(actual[i]) ? "-0" : "+0")}, PyTorch gives {(double.IsNegative(expected[i]) ? "-0" : "+0")}");
        }
        // the fixture reaches the case: a NaN or ±∞ upstream where the derivative is 0 (PyTorch: +0 when selecting, NaN·0 otherwise)
        var up = F("seed_grad").ToDoubleArray();
        bool selects = name is not ("leaky_relu" or "leaky_relu_zero_slope" or "abs");
        if (name != "leaky_relu")
            Assert.Contains(Enumerable.Range(0, up.Length), i => !double.IsFinite(up[i]) && (selects ? expected[i] == 0 : double.IsNaN(expected[i]) && x.ToDoubleArray()[i] <= 0));
    }
}
