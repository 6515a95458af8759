namespace SharpGrad.Distributed.Tests.Worker;

/// <summary>
/// The program the MPI tests launch on every rank: <c>mpiexec -n 2 dotnet SharpGrad.Distributed.Tests.dll worker SCENARIO</c>.
/// Each scenario prints one line per check ("rank R: ok NAME" or "rank R: FAIL NAME: why") and a last line
/// "rank R: done, N checks, F failed"; the exit code is 0 only when no check failed. The failure scenarios make a rank
/// fail on purpose and expect the job to end with a clear message.
/// </summary>
public static class WorkerProgram
{
    public static int Main(string[] args)
    {
        if (args.Length != 2 || args[0] != "worker")
        {
            Console.Error.WriteLine("usage: dotnet SharpGrad.Distributed.Tests.dll worker collectives|ddp|fail-throw|fail-exit|fail-hang|fail-uneven  (run by the tests under mpiexec)");
            return 2;
        }
        // One kernel thread per rank: the ranks share the machine's cores.
        SharpGrad.Kernels.Parallelism.MaxThreads = 1;
        return args[1] switch
        {
            "collectives" => Run(CollectiveScenarios.Run),
            "ddp" => Run(DdpScenarios.Run),
            "fail-throw" => FailureScenarios.RankThrows(),
            "fail-exit" => FailureScenarios.RankLeavesEarly(),
            "fail-hang" => FailureScenarios.RankHangs(),
            "fail-uneven" => FailureScenarios.UnevenBatches(),
            _ => Unknown(args[1]),
        };
    }

    private static int Unknown(string scenario)
    {
        Console.Error.WriteLine($"unknown scenario '{scenario}'");
        return 2;
    }

    private static int Run(Action<ProcessGroup, Report> scenario)
    {
        using var group = ProcessGroup.InitMpi(TimeSpan.FromSeconds(60));
        var report = new Report(group.Rank);
        try
        {
            scenario(group, report);
        }
        catch (Exception e)
        {
            report.Fail("scenario", e.ToString());
        }
        Console.WriteLine($"rank {group.Rank}: done, {report.Checks} checks, {report.Failures} failed");
        return report.Failures == 0 ? 0 : 1;
    }
}

/// <summary>Prints each check's outcome, prefixed with the rank.</summary>
public sealed class Report(int rank)
{
    public int Checks { get; private set; }

    public int Failures { get; private set; }

    public void Ok(string name)
    {
        Checks++;
        Console.WriteLine($"rank {rank}: ok {name}");
    }

    public void Fail(string name, string why)
    {
        Checks++;
        Failures++;
        Console.WriteLine($"rank {rank}: FAIL {name}: {why}");
    }

    public void True(bool condition, string name, string why)
    {
        if (condition) Ok(name);
        else Fail(name, why);
    }

    /// <summary>Equal values, to <paramref name="rtol"/> of the largest expected magnitude (0: exactly).</summary>
    public void Close(Tensor expected, Tensor actual, double rtol, string name)
    {
        if (!expected.Shape.SequenceEqual(actual.Shape) || expected.DType != actual.DType)
        {
            Fail(name, $"expected {expected.DType} {string.Join("x", expected.Shape)}, got {actual.DType} {string.Join("x", actual.Shape)}");
            return;
        }
        var e = expected.ToDoubleArray();
        var a = actual.ToDoubleArray();
        double scale = e.Length == 0 ? 0 : e.Max(Math.Abs);
        double worst = 0;
        int at = -1;
        for (int i = 0; i < e.Length; i++)
        {
            double d = Math.Abs(e[i] - a[i]);
            if (d > worst || double.IsNaN(d)) (worst, at) = (double.IsNaN(d) ? double.PositiveInfinity : d, i);
        }
        if (worst <= rtol * scale) Ok(name);
        else Fail(name, $"element {at}: expected {e[at]}, got {a[at]} (difference {worst:G3}, allowed {rtol * scale:G3})");
    }

    /// <summary>The action throws <typeparamref name="T"/> whose message contains every one of <paramref name="parts"/>.</summary>
    public void Throws<T>(Action action, string name, params string[] parts) where T : Exception
    {
        try
        {
            action();
        }
        catch (T e)
        {
            var missing = parts.Where(p => !e.Message.Contains(p, StringComparison.Ordinal)).ToList();
            if (missing.Count == 0) Ok(name);
            else Fail(name, $"the message lacks {string.Join(" | ", missing)}: {e.Message}");
            return;
        }
        catch (Exception e)
        {
            Fail(name, $"expected {typeof(T).Name}, got {e}");
            return;
        }
        Fail(name, $"expected {typeof(T).Name}, nothing was thrown");
    }
}
