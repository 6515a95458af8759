using SharpGrad.Tests.Compiler;

namespace SharpGrad.Tests.Threading;

/// <summary>
/// The compiled half of docs/threading.md that holds today: one <c>Compile()</c> per thread (all sharing the model's
/// parameters) gives every thread bit for bit the results of a single thread. (Sharing one <c>Compile()</c> between
/// threads is refused once generated code calls <see cref="CompiledCallGuard"/>; see CompiledCallGuardTests.)
/// </summary>
public class CompiledThreadingTests
{
    [Fact]
    public void OneCompilePerThread_EightThreads_BitIdenticalToOneThread()
    {
        // (explicit generators: the tests run in parallel, and others rely on Rng.Default's sequence)
        var rng = new Rng(1808);
        var model = new CompiledCnn();
        model.Eval();
        var inputs = Enumerable.Range(0, 12).Select(i => Tensor.Randn([1 + i % 5, 3, 8, 8], rng: rng)).ToArray();
        var single = model.Compile();
        uint[][] expected;
        using (Autograd.NoGrad()) expected = inputs.Select(x => Bits(single.Forward(x))).ToArray();

        var compiled = new ThreadLocal<CompiledCnn.Compiled>(() => model.Compile());
        var failures = new string?[8];
        var threads = Enumerable.Range(0, 8).Select(t => new Thread(() =>
        {
            try
            {
                for (int k = 0; k < 30; k++)
                {
                    int i = (t * 5 + k * 7) % inputs.Length;
                    uint[] got;
                    using (Autograd.NoGrad()) got = Bits(compiled.Value!.Forward(inputs[i]));
                    if (!got.AsSpan().SequenceEqual(expected[i])) failures[t] ??= $"thread {t}, call {k}: input {i} differs from the single-threaded result";
                }
            }
            catch (Exception ex)
            {
                failures[t] = $"thread {t} threw {ex}";
            }
        })).ToList();
        foreach (var th in threads) th.Start();
        foreach (var th in threads) th.Join();
        Assert.All(failures, Assert.Null);
    }

    private static uint[] Bits(Tensor t) => t.ToArray().Select(BitConverter.SingleToUInt32Bits).ToArray();
}
