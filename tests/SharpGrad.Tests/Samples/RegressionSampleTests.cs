namespace SharpGrad.Tests.Samples;

public class RegressionSampleTests
{
    [Fact]
    public void RunSavesRestoresBothWaysAndPlots()
    {
        var dir = Path.Combine(Path.GetTempPath(), "sharpgrad-regression-sample-" + Guid.NewGuid().ToString("N"));
        try
        {
            var stdout = new StringWriter();
            var stderr = new StringWriter();
            int code = RegressionDemo.RunCli(["--steps", "200", "--out", dir], stdout, stderr);
            var text = stdout.ToString();
            Assert.True(code == 0, $"exit code {code}\n{text}\n{stderr}");
            Assert.Contains("step     1  loss ", text);
            var agreement = text.Split('\n').Single(l => l.StartsWith("predictions on 201 points:", StringComparison.Ordinal)).TrimEnd();
            Assert.Contains("Sequential.Load max abs difference 0,", agreement);
            Assert.Contains("LoadStateDict 0 ->", agreement);
            Assert.EndsWith("identical", agreement);

            Assert.True(File.Exists(Path.Combine(dir, "regression.safetensors")));
            Assert.True(File.Exists(Path.Combine(dir, "regression_state.safetensors")));
            PngCheck.AssertPlot(Path.Combine(dir, "regression.png"));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void HelpAndBadOptions()
    {
        var o = new StringWriter();
        Assert.Equal(0, RegressionDemo.RunCli(["--help"], o, new StringWriter()));
        Assert.Contains("--steps N", o.ToString());
        var e = new StringWriter();
        Assert.Equal(2, RegressionDemo.RunCli(["--steps", "zero"], new StringWriter(), e));
        Assert.Contains("--steps expects a positive integer", e.ToString());
    }
}
