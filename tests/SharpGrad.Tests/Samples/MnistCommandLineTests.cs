namespace SharpGrad.Tests.Samples;

/// <summary>
/// Issue 18, finding 7: <c>--out</c> pointing somewhere unwritable trained for the whole run and then died with a stack trace
/// (exit 134); a bad <c>--test</c> printed "Mnist: Mnist: …". Both are now one line on stderr and exit code 2, before training.
/// </summary>
public class MnistCommandLineTests
{
    private static string DataDir => Path.Combine(AppContext.BaseDirectory, "Data", "Files");

    private static (int ExitCode, string Out, string Err) RunProgram(params string[] args) => MnistSampleTests.RunProgram(args);

    private static void AssertOneLineError(string stderr, string contains)
    {
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(lines.Length == 1, $"expected one line on stderr, got:\n{stderr}");
        Assert.StartsWith("Mnist: ", lines[0]);
        Assert.DoesNotContain("Mnist: Mnist:", lines[0]);
        Assert.Contains(contains, lines[0]);
    }

    [Fact]
    public void AnUnwritableOutFolder_FailsBeforeTraining_WithOneLineAndExitCode2()
    {
        // The tests may run as root, who may write anywhere: a folder "inside" a regular file is unwritable for everyone.
        var file = Path.GetTempFileName();
        try
        {
            var outDir = Path.Combine(file, "out");
            var (code, stdout, stderr) = RunProgram("--epochs", "1", "--train", "64", "--test", "50", "--out", outDir, "--data", DataDir);
            Assert.Equal(2, code);
            AssertOneLineError(stderr, outDir);
            Assert.DoesNotContain("epoch 1/1", stdout); // it did not train first
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void TooManyTestImages_IsOneLineWithASinglePrefix()
    {
        var (code, _, stderr) = RunProgram("--test", "99999", "--data", DataDir, "--out", Path.GetTempPath());
        Assert.Equal(2, code);
        AssertOneLineError(stderr, "99999 test images requested");
    }
}
