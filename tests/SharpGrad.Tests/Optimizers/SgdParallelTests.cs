using SharpGrad.Kernels;
using SharpGrad.Optimizers;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Optimizers;

/// <summary>
/// SGD's update of a large parameter split into ranges over the worker threads (Sgd.Update): every option against a
/// naive scalar reference in double, on odd sizes (a range edge inside a vector, a tail shorter than a vector), with 1, 2
/// and 3 threads, over three steps (the momentum buffer's first step and the later ones).
/// </summary>
[Collection(ThreadCountCollection.Name)]
public class SgdParallelTests
{
    public static IEnumerable<object[]> Cases()
    {
        // sizes: below one part (serial), a few parts with an odd tail, many parts
        foreach (int size in new[] { 1_001, 65_537 + 13, 200_704 + 5 })
        {
            yield return [size, 0.0, 0.0, 0.0, false, false];
            yield return [size, 0.9, 0.0, 0.0, false, false];
            yield return [size, 0.9, 0.25, 1e-2, false, true];
            yield return [size, 0.5, 0.0, 1e-3, true, false];
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void SplitUpdateMatchesNaive(int size, double momentum, double dampening, double weightDecay, bool nesterov, bool maximize)
    {
        const double lr = 0.1;
        int saved = Parallelism.MaxThreads;
        try
        {
            foreach (int threads in new[] { 1, 2, 3 })
            {
                Parallelism.MaxThreads = threads;
                var rng = new Random(size + threads);
                var p0 = new float[size];
                for (int i = 0; i < size; i++) p0[i] = rng.NextSingle() - 0.5f;
                var p = new Parameter(Tensor.FromArray((float[])p0.Clone(), size));
                var opt = new Sgd([p], lr, momentum, dampening, weightDecay, nesterov, maximize);

                var expected = p0.Select(v => (double)v).ToArray();
                var buf = new double[size];
                for (int step = 0; step < 3; step++)
                {
                    var g = new float[size];
                    for (int i = 0; i < size; i++) g[i] = rng.NextSingle() - 0.5f;
                    p.Grad = Tensor.FromArray(g, size);
                    opt.Step();
                    // torch.optim.SGD's update, element by element
                    for (int i = 0; i < size; i++)
                    {
                        double d = maximize ? -g[i] : g[i];
                        if (weightDecay != 0) d += weightDecay * expected[i];
                        if (momentum != 0)
                        {
                            buf[i] = step == 0 ? d : momentum * buf[i] + (1 - dampening) * d;
                            d = nesterov ? d + momentum * buf[i] : buf[i];
                        }
                        expected[i] -= lr * d;
                    }
                }
                var actual = p.Detach().ToArray().Select(v => (double)v).ToArray();
                TensorAssert.Close(expected, actual, 1e-5, 1e-6,
                    $"SGD size={size} threads={threads} momentum={momentum} dampening={dampening} weightDecay={weightDecay} nesterov={nesterov} maximize={maximize}");
            }
        }
        finally
        {
            Parallelism.MaxThreads = saved;
        }
    }
}
