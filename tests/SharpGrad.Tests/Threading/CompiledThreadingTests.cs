using SharpGrad.Tests.Compiler;

namespace SharpGrad.Tests.Threading;

/// <summary>
/// The compiled half of docs/threading.md: one <c>Compile()</c> shared by 8 threads never returns a wrong answer (each call
/// gives the single-threaded result bit for bit, or throws the <see cref="CompiledCallGuard"/>'s exception naming the fix);
/// one <c>Compile()</c> per thread (all sharing the model's parameters) gives every thread the single-threaded results.
/// </summary>
public class CompiledThreadingTests
{
    private const int Threads = 8;

    [Fact]
    public void OneCompilePerThread_EightThreads_BitIdenticalToOneThread()
    {
        var (cnn, cnnInputs) = Cnn();
        var compiledCnn = new ThreadLocal<CompiledCnn.Compiled>(() => cnn.Compile());
        var cnnFailures = Run(cnnInputs, Expected(cnn.Compile().Forward, cnnInputs), x => compiledCnn.Value!.Forward(x), allowGuard: false);
        var (mlp, mlpInputs) = Mlp();
        var compiledMlp = new ThreadLocal<CompiledMlp.Compiled>(() => mlp.Compile());
        var mlpFailures = Run(mlpInputs, Expected(mlp.Compile().Forward, mlpInputs), x => compiledMlp.Value!.Forward(x), allowGuard: false);
        Assert.All(cnnFailures.Concat(mlpFailures), Assert.Null);
    }

    [Fact]
    public void OneCompileSharedByEightThreads_NeverAWrongAnswer_EachCallRightOrRefused()
    {
        var (cnn, cnnInputs) = Cnn();
        var sharedCnn = cnn.Compile();
        var cnnFailures = Run(cnnInputs, Expected(cnn.Compile().Forward, cnnInputs), sharedCnn.Forward, allowGuard: true);
        var (mlp, mlpInputs) = Mlp();
        var sharedMlp = mlp.Compile();
        var mlpFailures = Run(mlpInputs, Expected(mlp.Compile().Forward, mlpInputs), sharedMlp.Forward, allowGuard: true);
        Assert.All(cnnFailures.Concat(mlpFailures), Assert.Null);

        // After the storm the shared program is free again and still right.
        using (Autograd.NoGrad()) Assert.Equal(Bits(cnn.Compile().Forward(cnnInputs[3])), Bits(sharedCnn.Forward(cnnInputs[3])));
    }

    [Fact]
    public void ASecondThreadCallingWhileACallIsInProgress_Throws_ForwardAndBackward()
    {
        // Deterministic overlap: a forward hook on a child holds the first call inside the compiled Forward.
        var (model, inputs) = Mlp();
        var compiled = model.Compile();
        var x = inputs[2].Clone().RequiresGrad_();
        var y = compiled.Forward(x); // recorded: its tape backward runs the same program
        using var inside = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var fc1 = model.NamedModules().Single(m => m.Name == "fc1").Module;
        using var hook = fc1.RegisterForwardHook((m, i, o) =>
        {
            if (Thread.CurrentThread.Name != "holder") return;
            inside.Set();
            release.Wait();
        });
        uint[]? held = null;
        var holder = new Thread(() =>
        {
            using (Autograd.NoGrad()) held = Bits(compiled.Forward(inputs[0]));
        }) { Name = "holder" };
        holder.Start();
        inside.Wait();
        InvalidOperationException ex;
        using (Autograd.NoGrad()) ex = Assert.Throws<InvalidOperationException>(() => compiled.Forward(inputs[1]));
        var backward = Assert.ThrowsAny<Exception>(() => y.Sum().Backward());
        release.Set();
        holder.Join();

        Assert.Contains("CompiledMlp.Compiled.Forward was called from two threads at once", ex.Message);
        Assert.Contains("Compile() once per thread", ex.Message);
        Assert.Contains("CompiledMlp.Compiled.Forward (backward) was called from two threads at once", backward.ToString());
        using (Autograd.NoGrad()) Assert.Equal(Bits(model.Compile().Forward(inputs[0])), held);
    }

    [Fact]
    public void AHookCallingTheSameProgramAgain_Throws()
    {
        var (model, inputs) = Mlp();
        var compiled = model.Compile();
        var fc2 = model.NamedModules().Single(m => m.Name == "fc2").Module;
        using (fc2.RegisterForwardHook((m, i, o) => { compiled.Forward(inputs[1]); }))
        {
            var ex = Assert.Throws<InvalidOperationException>(() => compiled.Forward(inputs[0]));
            Assert.Contains("CompiledMlp.Compiled.Forward was called while a call of the same compiled program was still running on this thread", ex.Message);
        }
    }

    private static (CompiledCnn Model, Tensor[] Inputs) Cnn()
    {
        // (explicit generators: the tests run in parallel, and others rely on Rng.Default's sequence)
        var rng = new Rng(1808);
        var model = new CompiledCnn();
        model.Eval();
        return (model, Enumerable.Range(0, 12).Select(i => Tensor.Randn([1 + i % 5, 3, 8, 8], rng: rng)).ToArray());
    }

    private static (CompiledMlp Model, Tensor[] Inputs) Mlp()
    {
        var rng = new Rng(1809);
        var model = new CompiledMlp();
        model.Eval();
        return (model, Enumerable.Range(0, 12).Select(i => Tensor.Randn([1 + i % 7, 40], rng: rng)).ToArray());
    }

    private static uint[][] Expected(Func<Tensor, Tensor> forward, Tensor[] inputs)
    {
        using (Autograd.NoGrad()) return inputs.Select(x => Bits(forward(x))).ToArray();
    }

    /// <summary>
    /// 8 threads call <paramref name="forward"/> 40 times each on the inputs in their own order; returns one failure message
    /// (or null) per thread. With <paramref name="allowGuard"/>, the guard's exception counts as a right outcome.
    /// </summary>
    private static string?[] Run(Tensor[] inputs, uint[][] expected, Func<Tensor, Tensor> forward, bool allowGuard)
    {
        var failures = new string?[Threads];
        using var start = new Barrier(Threads);
        var threads = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            start.SignalAndWait();
            for (int k = 0; k < 40; k++)
            {
                int i = (t * 5 + k * 7) % inputs.Length;
                try
                {
                    uint[] got;
                    using (Autograd.NoGrad()) got = Bits(forward(inputs[i]));
                    if (!got.AsSpan().SequenceEqual(expected[i])) failures[t] ??= $"thread {t}, call {k}: input {i} differs from the single-threaded result";
                }
                catch (InvalidOperationException ex) when (allowGuard && ex.Message.Contains("was called from two threads at once", StringComparison.Ordinal))
                {
                    // refused, as the contract says
                }
                catch (Exception ex)
                {
                    failures[t] ??= $"thread {t}, call {k} threw {ex}";
                }
            }
        })).ToList();
        foreach (var th in threads) th.Start();
        foreach (var th in threads) th.Join();
        return failures;
    }

    private static uint[] Bits(Tensor t) => t.ToArray().Select(BitConverter.SingleToUInt32Bits).ToArray();
}
