using BenchmarkDotNet.Attributes;
using SharpGrad.Kernels;

namespace SharpGrad.Benchmarks;

/// <summary>
/// The backward of a piecewise-constant pointwise op (o += g · f′), on the mask-derivative vector path that
/// <c>Pointwise.Backward</c> takes and on the scalar reference path, in one run: ReLU on the MLP's hidden sizes
/// (64×256, 64×128) and on the CNN's first activation (32×16×28×28), LeakyReLU and Hardtanh on the MLP's first.
/// </summary>
[MemoryDiagnoser]
public class PointwiseBackwardBench
{
    private float[] _x = [], _y = [], _g = [], _o = [];

    /// <summary>Elements: 64×256, 64×128 (MLP fc1/fc2 outputs), 32×16×28×28 (CNN conv1 output).</summary>
    [Params(16384, 8192, 401408)]
    public int N { get; set; } = 16384;

    [GlobalSetup]
    public void Setup()
    {
        var r = new Random(0);
        _x = Enumerable.Range(0, N).Select(_ => r.NextSingle() * 4 - 2).ToArray();
        _y = _x.Select(v => Math.Max(v, 0f)).ToArray();
        _g = Enumerable.Range(0, N).Select(_ => r.NextSingle() - 0.5f).ToArray();
        _o = new float[N];
    }

    [Benchmark(Baseline = true)]
    public void ReluScalar() => Pointwise.ScalarBackward<ReluOp, float, F32>(_x, _y, _g, _o, accumulate: true, 0, 0);

    [Benchmark]
    public void ReluVector() => Pointwise.Backward<ReluOp>(_x, _y, _g, _o, N);

    [Benchmark]
    public void LeakyReluScalar() => Pointwise.ScalarBackward<LeakyReluOp, float, F32>(_x, _y, _g, _o, accumulate: true, 0.01, 0);

    [Benchmark]
    public void LeakyReluVector() => Pointwise.Backward<LeakyReluOp>(_x, _y, _g, _o, N, 0.01);

    [Benchmark]
    public void HardtanhScalar() => Pointwise.ScalarBackward<HardtanhOp, float, F32>(_x, _y, _g, _o, accumulate: true, -1, 1);

    [Benchmark]
    public void HardtanhVector() => Pointwise.Backward<HardtanhOp>(_x, _y, _g, _o, N, -1, 1);
}
