using System.Diagnostics;

namespace SharpGrad.Tests.Shared;

/// <summary>What the tests that drive other programs share (linked into SharpGrad.Tests and SharpGrad.Package.Tests):
/// running a process with a time limit, the dotnet host of the test run, and whether NativeAOT can link here.</summary>
internal static class ExternalProcess
{
    /// <summary>The dotnet host running the tests (or the one on PATH).</summary>
    public static string Dotnet => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    /// <summary>NativeAOT links with clang against zlib: without them a publish fails late with a linker error.</summary>
    public static bool MissingNativeToolchain => !OnPath("clang") || !File.Exists("/usr/include/zlib.h");

    public const string NativeToolchainMessage =
        "NativeAOT needs clang and zlib1g-dev on this machine: run `apt-get update && apt-get install -y clang zlib1g-dev` " +
        "(.ci/run does it), then run the tests again.";

    /// <summary>Without the toolchain a developer's run reports a NativeAOT test as skipped; under CI (.ci/run installs it)
    /// a missing toolchain fails the test, never a silent skip.</summary>
    public static void SkipWithoutNativeToolchainOutsideCi() =>
        Skip.If(MissingNativeToolchain && Environment.GetEnvironmentVariable("CI") != "true", NativeToolchainMessage);

    /// <summary>Runs <paramref name="file"/> with <paramref name="args"/>; fails the test if it outlives <paramref name="timeout"/>.</summary>
    public static (int Code, string Stdout, string Stderr) Run(string file, IEnumerable<string> args, TimeSpan timeout, string? workingDirectory = null)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (workingDirectory is not null) psi.WorkingDirectory = workingDirectory;
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"{Path.GetFileName(file)} {string.Join(' ', args)} did not finish within {timeout}.");
        }
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>True when <paramref name="tool"/> is an executable on PATH.</summary>
    public static bool OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).Any(dir => File.Exists(Path.Combine(dir, tool)));
}
