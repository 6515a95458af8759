using BenchmarkDotNet.Attributes;
using SharpGrad.Kernels;

namespace SharpGrad.Benchmarks;

/// <summary>SGEMM on the shapes the workloads use (m×k · k×n).</summary>
[MemoryDiagnoser]
public class GemmBench
{
    private float[] _a = [], _b = [], _c = [];

    /// <summary>"m,k,n".</summary>
    [Params("64,784,256", "64,256,128", "256,256,256", "1024,1024,1024")]
    public string Shape { get; set; } = "64,784,256";

    private int _m, _k, _n;

    [GlobalSetup]
    public void Setup()
    {
        var p = Shape.Split(',').Select(int.Parse).ToArray();
        (_m, _k, _n) = (p[0], p[1], p[2]);
        var r = new Random(0);
        _a = Enumerable.Range(0, _m * _k).Select(_ => r.NextSingle()).ToArray();
        _b = Enumerable.Range(0, _k * _n).Select(_ => r.NextSingle()).ToArray();
        _c = new float[_m * _n];
    }

    [Benchmark]
    public void Sgemm() => Gemm.Sgemm(false, false, _m, _n, _k, 1f, _a, 0, _k, _b, 0, _n, 0f, _c, 0, _n);

    /// <summary>Aᵀ·B, as in a Linear layer's weight gradient.</summary>
    [Benchmark]
    public void SgemmTransA() => Gemm.Sgemm(true, false, _m, _n, _k, 1f, _a, 0, _m, _b, 0, _n, 0f, _c, 0, _n);
}

/// <summary>The workload CNN's second convolution: [32, 16, 14, 14] * [32, 16, 3, 3], padding 1.</summary>
[MemoryDiagnoser]
public class ConvBench
{
    private Tensor _x = null!, _w = null!, _b = null!, _gy = null!;

    [GlobalSetup]
    public void Setup()
    {
        Rng.ManualSeed(0);
        _x = Tensor.Randn(32, 16, 14, 14);
        _w = Tensor.Randn(32, 16, 3, 3);
        _b = Tensor.Randn(32);
        _gy = Tensor.Randn(32, 32, 14, 14);
    }

    [Benchmark]
    public Tensor Forward()
    {
        using var ng = Autograd.NoGrad();
        return Functional.Conv2d(_x, _w, _b, padding: 1);
    }

    [Benchmark]
    public Tensor? ForwardBackward()
    {
        var x = _x.Detach().RequiresGrad_();
        var w = _w.Detach().RequiresGrad_();
        Functional.Conv2d(x, w, _b, padding: 1).Backward(_gy);
        return w.Grad;
    }
}

/// <summary>Elementwise ops on one million floats.</summary>
[MemoryDiagnoser]
public class ElementwiseBench
{
    private Tensor _a = null!, _b = null!, _row = null!;

    [GlobalSetup]
    public void Setup()
    {
        Rng.ManualSeed(0);
        _a = Tensor.Randn(1000, 1000);
        _b = Tensor.Randn(1000, 1000);
        _row = Tensor.Randn(1000);
    }

    [Benchmark] public Tensor Add() => _a + _b;
    [Benchmark] public Tensor AddBroadcastRow() => _a + _row;
    [Benchmark] public Tensor Mul() => _a * _b;
    [Benchmark] public Tensor Relu() => Functional.Relu(_a);
    [Benchmark] public Tensor Exp() => _a.Exp();
    [Benchmark] public Tensor AddInPlace() => _a.Add_(_b);
    [Benchmark] public Tensor SumAll() => _a.Sum();
    [Benchmark] public Tensor AddTransposed() => _a + _b.T();
}
