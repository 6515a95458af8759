using System.Diagnostics;
using SharpGrad.Tests.Shared;

namespace SharpGrad.Distributed.Tests.Support;

/// <summary>What one run printed (standard output, then standard error), how it ended and how long it took.</summary>
public sealed record MpiResult(int ExitCode, string Output, TimeSpan Elapsed)
{
    public override string ToString() => $"exit code {ExitCode} after {Elapsed.TotalSeconds:F1} s; output:\n{Output}";
}

/// <summary>
/// Runs this test assembly as an MPI job: <c>mpiexec -n N dotnet SharpGrad.Distributed.Tests.dll worker SCENARIO</c>
/// (see Worker/WorkerProgram.cs), with a timeout after which the whole process tree is killed and the test fails.
/// Without mpiexec the tests are skipped on a developer's machine, and fail under CI (CI=true), where .ci/run installs MPICH.
/// </summary>
public static class MpiRun
{
    private const string Install = "the MPI tests need MPICH: run `apt-get install -y mpich libmpich-dev` (.ci/run does it), then run the tests again.";

    public static MpiResult Worker(string scenario, TimeSpan timeout, int ranks = 2)
        => Run(typeof(MpiRun).Assembly.Location, ["worker", scenario], timeout, ranks);

    /// <summary>Runs <c>mpiexec -n ranks dotnet program args…</c> (or, with <paramref name="ranks"/> 0, the program alone, without a launcher).</summary>
    public static MpiResult Run(string program, string[] args, TimeSpan timeout, int ranks = 2)
    {
        if (!ExternalProcess.OnPath("mpiexec"))
        {
            if (Environment.GetEnvironmentVariable("CI") == "true") Assert.Fail("mpiexec not found: " + Install);
            Skip.If(true, "mpiexec not found: " + Install);
        }
        string[] command = ranks == 0
            ? [ExternalProcess.Dotnet, program, .. args]
            : ["mpiexec", "-n", ranks.ToString(System.Globalization.CultureInfo.InvariantCulture), ExternalProcess.Dotnet, program, .. args];
        var watch = Stopwatch.StartNew();
        var (code, stdout, stderr) = ExternalProcess.Run(command[0], command[1..], timeout);
        return new MpiResult(code, stdout + stderr, watch.Elapsed);
    }
}
