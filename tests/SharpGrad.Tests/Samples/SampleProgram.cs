using System.Diagnostics;

namespace SharpGrad.Tests.Samples;

/// <summary>Runs a sample program built next to the tests (the test project references the samples).</summary>
internal static class SampleProgram
{
    /// <summary>Runs <c>dotnet <paramref name="dll"/> <paramref name="args"/></c> from the test output folder, with its
    /// output redirected; returns its exit code, stdout and stderr.</summary>
    public static (int ExitCode, string Out, string Err) Run(string dll, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, dll));
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout, stderr.Result);
    }

    /// <summary>Runs it as <see cref="Run"/> does, checks that it succeeded and drew nothing in place (no <c>\r</c>: the
    /// output is redirected, so progress is one line per epoch), and returns its non-empty output lines, trimmed.</summary>
    public static string[] Lines(string dll, params string[] args)
    {
        var (code, stdout, stderr) = Run(dll, args);
        Assert.True(code == 0, $"{dll} exited with code {code}: {stderr}");
        Assert.DoesNotContain('\r', stdout);
        return stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }
}
