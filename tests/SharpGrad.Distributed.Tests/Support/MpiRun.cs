using System.Diagnostics;

namespace SharpGrad.Distributed.Tests.Support;

/// <summary>What one <c>mpiexec</c> run printed, how it ended and how long it took.</summary>
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
    private static string? FindMpiexec() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, "mpiexec")).FirstOrDefault(File.Exists);

    public static MpiResult Worker(string scenario, TimeSpan timeout, int ranks = 2)
        => Run(typeof(MpiRun).Assembly.Location, ["worker", scenario], timeout, ranks);

    /// <summary>Runs <c>mpiexec -n ranks dotnet program args…</c> (or, with <paramref name="ranks"/> 0, the program alone, without a launcher).</summary>
    public static MpiResult Run(string program, string[] args, TimeSpan timeout, int ranks = 2)
    {
        var mpiexec = FindMpiexec();
        const string install = "the MPI tests need MPICH: run `apt-get install -y mpich libmpich-dev` (.ci/run does it), then run the tests again.";
        if (mpiexec is null)
        {
            if (Environment.GetEnvironmentVariable("CI") == "true") Assert.Fail("mpiexec not found: " + install);
            Skip.If(true, "mpiexec not found: " + install);
        }
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";
        var psi = new ProcessStartInfo(ranks == 0 ? dotnet : mpiexec!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        var command = ranks == 0 ? [program, .. args] : new[] { "-n", ranks.ToString(System.Globalization.CultureInfo.InvariantCulture), dotnet, program }.Concat(args);
        foreach (var a in command) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        var watch = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var lines = new List<string>();
        void Collect(object _, DataReceivedEventArgs e)
        {
            if (e.Data is null) return;
            lock (lines) lines.Add(e.Data);
        }
        p.OutputDataReceived += Collect;
        p.ErrorDataReceived += Collect;
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            lock (lines) Assert.Fail($"{string.Join(' ', psi.ArgumentList)} did not finish within {timeout}; output so far:\n{string.Join('\n', lines)}");
        }
        p.WaitForExit();
        lock (lines) return new MpiResult(p.ExitCode, string.Join('\n', lines), watch.Elapsed);
    }
}
