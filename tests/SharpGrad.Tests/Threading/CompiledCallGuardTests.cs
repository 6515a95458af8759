using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Threading;

/// <summary>
/// The runtime half of the compiled program's thread contract (docs/threading.md): <see cref="CompiledCallGuard"/> makes a
/// second, overlapping call throw instead of sharing buffers. <see cref="FakeProgram"/> uses it the way generated code will.
/// </summary>
public class CompiledCallGuardTests
{
    /// <summary>A stand-in for a generated program: one reused buffer, guarded like generated code will guard it.</summary>
    private sealed class FakeProgram
    {
        private readonly CompiledCallGuard _guard = new("Fake.Compiled");
        private readonly float[] _buffer = new float[256];

        public float[] Forward(float value)
        {
            using var call = _guard.Enter("Forward");
            for (int i = 0; i < _buffer.Length; i++) _buffer[i] = value;
            Thread.Yield(); // let another thread in, if it can get in
            var y = new float[_buffer.Length];
            for (int i = 0; i < _buffer.Length; i++) y[i] = _buffer[i] * 2;
            return y;
        }
    }

    [Fact]
    public void OverlappingCallFromAnotherThread_ThrowsNamingTheFix_AndTheGuardIsFreeAfterwards()
    {
        var guard = new CompiledCallGuard("Net.Compiled");
        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var holder = new Thread(() =>
        {
            using (guard.Enter("Forward"))
            {
                entered.Set();
                release.Wait();
            }
        });
        holder.Start();
        entered.Wait();
        Assert.True(guard.IsBusy);
        var ex = Assert.Throws<InvalidOperationException>(() => guard.Enter("Forward"));
        Assert.Contains("Net.Compiled.Forward", ex.Message);
        Assert.Contains("two threads", ex.Message);
        Assert.Contains("Compile() once per thread", ex.Message);
        release.Set();
        holder.Join();
        Assert.False(guard.IsBusy);
        using (guard.Enter("Forward")) Assert.True(guard.IsBusy);
        Assert.False(guard.IsBusy);
    }

    [Fact]
    public void NestedCallOnTheSameThread_Throws_AndAnExceptionInsideACallReleasesTheGuard()
    {
        var guard = new CompiledCallGuard("Net.Compiled");
        using (guard.Enter("Forward"))
        {
            var ex = Assert.Throws<InvalidOperationException>(() => guard.Enter("Loss"));
            Assert.Contains("Net.Compiled.Loss", ex.Message);
            Assert.Contains("this thread", ex.Message);
        }
        Assert.Throws<DivideByZeroException>(() =>
        {
            using var call = guard.Enter("Forward");
            int zero = 0;
            _ = 1 / zero;
        });
        Assert.False(guard.IsBusy);
    }

    [Fact]
    public void EightThreadsOnOneGuardedProgram_EitherGetTheRightAnswerOrTheClearException_NeverAWrongOne()
    {
        var program = new FakeProgram();
        int right = 0, refused = 0, wrong = 0;
        var threads = Enumerable.Range(0, 8).Select(t => new Thread(() =>
        {
            for (int k = 0; k < 2000; k++)
            {
                float v = t * 10_000 + k;
                try
                {
                    var y = program.Forward(v);
                    if (y.All(e => e == 2 * v)) Interlocked.Increment(ref right);
                    else Interlocked.Increment(ref wrong);
                }
                catch (InvalidOperationException ex) when (ex.Message.Contains("two threads"))
                {
                    Interlocked.Increment(ref refused);
                }
            }
        })).ToList();
        foreach (var th in threads) th.Start();
        foreach (var th in threads) th.Join();
        Assert.Equal(0, wrong);
        Assert.Equal(8 * 2000, right + refused);
        Assert.True(right > 0);
    }

}

/// <summary>Generated programs allocate nothing per call in the steady state; the guard must not change that.</summary>
[Collection(AllocationCollection.Name)]
public class CompiledCallGuardAllocationTests
{
    [Fact]
    public void EnteringAndLeaving_AllocatesNothing()
    {
        var guard = new CompiledCallGuard("Net.Compiled");
        using (guard.Enter("Forward")) { }
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            using var call = guard.Enter("Forward");
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
