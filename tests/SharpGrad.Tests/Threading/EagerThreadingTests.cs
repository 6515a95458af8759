using SharpGrad.Layers;

namespace SharpGrad.Tests.Threading;

/// <summary>
/// The contract of docs/threading.md, eager half: one module (in eval mode) shared by 8 threads for inference gives every
/// result bit for bit as the same module run on one thread — with NoGrad, and with gradients of each thread's own inputs
/// (Autograd.Grad reads the shared parameters and writes no .Grad).
/// </summary>
public class EagerThreadingTests
{
    private const int Threads = 8;
    private const int CallsPerThread = 24;

    private static Sequential Model()
    {
        // (explicit generators for the data: the tests run in parallel, and others rely on Rng.Default's sequence)
        var rng = new Rng(1818);
        #pragma warning disable SG2009 // this test exercises a run-time Sequential on purpose
        var model = new Sequential(
            new Conv2d(3, 8, 3, padding: 1), new BatchNorm2d(8), new ReLU(), new MaxPool2d(2),
            new Conv2d(8, 8, 3, padding: 1, groups: 2), new GELU(), new Flatten(),
            new Linear(8 * 8 * 8, 64), new LayerNorm(64), new Dropout(0.5), new SiLU(), new Linear(64, 10), new LogSoftmax(1));
        #pragma warning restore SG2009
        // non-trivial running statistics, so eval-mode BatchNorm does real work
        using (Autograd.NoGrad())
        {
            for (int i = 0; i < 3; i++) model.Forward(Tensor.Randn([4, 3, 16, 16], rng: rng));
        }
        model.Eval();
        return model;
    }

    private static uint[] Bits(Tensor t) => t.ToArray().Select(BitConverter.SingleToUInt32Bits).ToArray();

    private static void AssertBitIdentical(uint[] expected, uint[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            if (expected[i] != actual[i])
            {
                Assert.Fail($"{what}: element {i} is {BitConverter.UInt32BitsToSingle(actual[i]):R} on a shared thread, " +
                            $"{BitConverter.UInt32BitsToSingle(expected[i]):R} on one thread");
            }
        }
    }

    /// <summary>Runs <paramref name="call"/> for every input on 8 threads at once (each thread in its own order), returns every result.</summary>
    private static uint[][,] RunOnThreads(int inputs, Func<int, uint[]> call)
    {
        var perThread = new uint[Threads][][];
        var failures = new Exception?[Threads];
        using var start = new Barrier(Threads);
        var threads = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            try
            {
                var mine = new uint[CallsPerThread][];
                start.SignalAndWait();
                for (int k = 0; k < CallsPerThread; k++) mine[k] = call((t * 7 + k * 5) % inputs);
                perThread[t] = mine;
            }
            catch (Exception ex)
            {
                failures[t] = ex; // an exception escaping a thread would end the test process
            }
        })).ToList();
        foreach (var th in threads) th.Start();
        foreach (var th in threads) th.Join();
        for (int t = 0; t < Threads; t++)
        {
            if (failures[t] is { } ex) Assert.Fail($"thread {t} threw {ex}");
        }
        return [.. perThread.Select(p => To2D(p))];

        static uint[,] To2D(uint[][] rows)
        {
            var r = new uint[rows.Length, rows[0].Length];
            for (int i = 0; i < rows.Length; i++)
            {
                for (int j = 0; j < rows[i].Length; j++) r[i, j] = rows[i][j];
            }
            return r;
        }
    }

    [Fact]
    public void EightThreadsSharingOneModel_GiveBitIdenticalResults_NoGrad()
    {
        var model = Model();
        var rng = new Rng(18);
        var inputs = Enumerable.Range(0, 16).Select(_ => Tensor.Randn([4, 3, 16, 16], rng: rng)).ToArray();
        uint[] Infer(int i)
        {
            using (Autograd.NoGrad()) return Bits(model.Forward(inputs[i]));
        }
        var expected = Enumerable.Range(0, inputs.Length).Select(Infer).ToArray();
        var before = model.StateDict().Values.Select(Bits).ToArray();

        var results = RunOnThreads(inputs.Length, Infer);
        for (int t = 0; t < Threads; t++)
        {
            for (int k = 0; k < CallsPerThread; k++)
            {
                int i = (t * 7 + k * 5) % inputs.Length;
                AssertBitIdentical(expected[i], Row(results[t], k), $"thread {t}, call {k} (input {i})");
            }
        }
        // inference changed no parameter or buffer
        var after = model.StateDict().Values.Select(Bits).ToArray();
        for (int j = 0; j < before.Length; j++) AssertBitIdentical(before[j], after[j], $"state entry {j}");
    }

    [Fact]
    public void EightThreadsSharingOneModel_GiveBitIdenticalInputGradients()
    {
        var model = Model();
        var rng = new Rng(81);
        var inputs = Enumerable.Range(0, 16).Select(_ => Tensor.Randn([2, 3, 16, 16], rng: rng)).ToArray();
        uint[] GradOfInput(int i)
        {
            var x = inputs[i].Detach().RequiresGrad_();
            var y = model.Forward(x);
            var g = Autograd.Grad([(y * y).Sum()], [x])[0]!;
            return [.. Bits(y), .. Bits(g)];
        }
        var expected = Enumerable.Range(0, inputs.Length).Select(GradOfInput).ToArray();

        var results = RunOnThreads(inputs.Length, GradOfInput);
        for (int t = 0; t < Threads; t++)
        {
            for (int k = 0; k < CallsPerThread; k++)
            {
                int i = (t * 7 + k * 5) % inputs.Length;
                AssertBitIdentical(expected[i], Row(results[t], k), $"thread {t}, call {k} (input {i})");
            }
        }
        Assert.All(model.Parameters(), p => Assert.Null(p.Grad)); // Autograd.Grad wrote no shared .Grad
    }

    private static uint[] Row(uint[,] m, int k) => Enumerable.Range(0, m.GetLength(1)).Select(j => m[k, j]).ToArray();
}
