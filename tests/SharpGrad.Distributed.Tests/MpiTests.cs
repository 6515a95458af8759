using SharpGrad.Distributed.Tests.Support;

namespace SharpGrad.Distributed.Tests;

/// <summary>
/// The MPI scenarios of Worker/, each run as <c>mpiexec -n 2 dotnet SharpGrad.Distributed.Tests.dll worker SCENARIO</c>
/// with a timeout. The passing scenarios must report every check as passed on both ranks; the failure scenarios must end
/// the job with a non-zero exit code and a message naming what went wrong, well within their timeout.
/// </summary>
[Collection(MpiCollection.Name)]
public class MpiTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(4);

    private static void AssertAllPassed(MpiResult result, params string[] checks)
    {
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.DoesNotContain("FAIL", result.Output);
        for (int rank = 0; rank < 2; rank++)
        {
            Assert.Contains($"rank {rank}: done, ", result.Output);
            Assert.Matches($"rank {rank}: done, [0-9]+ checks, 0 failed", result.Output);
            foreach (var check in checks) Assert.True(result.Output.Contains($"rank {rank}: ok {check}", StringComparison.Ordinal), $"rank {rank} did not report '{check}'. {result}");
        }
    }

    [SkippableFact]
    public void CollectivesOnEveryOpDTypeAndShapeAndBadUse()
    {
        var result = MpiRun.Worker("collectives", Timeout);
        AssertAllPassed(result,
            "group",
            "AllReduce Sum Float32 [0]", "AllReduce Sum Float32 [7]", "AllReduce Average Float64 [3,5]", "AllReduce Product Int64 [7]",
            "AllReduce Max Int64 [1]", "AllReduce Min Float32 [3,5]", "AllReduce Average Int64 [7]", "AllReduce Max Bool (or)", "AllReduce Min Bool (and)",
            "Broadcast root 1 Float64 [3,5]", "Broadcast root 0 Int64 [0]", "AllGather Int64 [3,5] part 1", "AllReduce of a narrowed view", "Barrier",
            "mismatched shapes", "mismatched dtypes", "mismatched ops", "mismatched roots", "mismatched collectives", "not contiguous",
            "root out of range", "the group works after the errors",
            "Checkpoint root 0: every rank reads the saved weights", "Checkpoint root 1: every rank reads the saved weights", "Checkpoint failure on the root");
    }

    [SkippableFact]
    public void DataParallelTrainingEqualsOneProcessOnTheWholeBatch()
    {
        var result = MpiRun.Worker("ddp", Timeout);
        var checks = new List<string>();
        foreach (var mode in new[] { "Eager", "CompiledTape", "LossBackward" })
        {
            foreach (var suffix in new[] { "", " NoSync over 2 micro-batches" })
            {
                string name = $"ddp {mode}{suffix}";
                checks.AddRange([$"{name}: conv.weight", $"{name}: fc2.bias", $"{name}: synchronised steps", $"{name}: the ranks hold the same parameters"]);
            }
        }
        checks.AddRange([
            "ddp used by both ranks: stem.weight", "ddp used by one rank: extra.weight", "ddp unused by every rank: never.weight keeps no gradient",
            "ddp buffer bn.running_mean is rank 0's on every rank", "ddp buffer bn.num_batches_tracked is rank 0's on every rank",
            "ddp buffers were updated by the forward", "ddp different models on the ranks",
            "sampler: the loader visits the sampler's indices", "sampler: the ranks' shards cover the data set, padded to 12", "sampler: rank 1's shard"]);
        AssertAllPassed(result, [.. checks]);
    }

    [SkippableFact]
    public void DistributedMnistSampleReachesTheAccuracyOfOneProcess()
    {
        string program = Path.Combine(AppContext.BaseDirectory, "DistributedMnist.dll");
        string[] options = ["--epochs", "2", "--train", "2048", "--test", "1000"];
        var outDir = Path.Combine(Path.GetTempPath(), "sharpgrad-dmnist-" + Guid.NewGuid().ToString("N"));
        try
        {
            var two = MpiRun.Run(program, [.. options, "--out", Path.Combine(outDir, "two")], Timeout);
            var one = MpiRun.Run(program, [.. options, "--out", Path.Combine(outDir, "one")], Timeout, ranks: 0);
            Assert.True(two.ExitCode == 0, two.ToString());
            Assert.True(one.ExitCode == 0, one.ToString());
            Assert.Contains("2 rank(s) on mpi", two.Output);
            Assert.Contains("batch size 32 (16 per rank)", two.Output);
            Assert.Contains("1 rank(s) on self", one.Output);
            double Accuracy(MpiResult r)
            {
                var m = System.Text.RegularExpressions.Regex.Match(r.Output, @"test accuracy: ([0-9.]+) %");
                Assert.True(m.Success, r.ToString());
                return double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            }
            double a2 = Accuracy(two), a1 = Accuracy(one);
            // The same global batches, weights and steps; only the dropout masks differ (drawn per rank).
            Assert.True(a1 > 85, $"one process reached only {a1} %. {one}");
            Assert.True(Math.Abs(a2 - a1) <= 2, $"2 ranks: {a2} %, one process: {a1} %.\n{two}\n{one}");
            Assert.True(File.Exists(Path.Combine(outDir, "two", "mnist_cnn.safetensors")), "rank 0 did not write the weights");
        }
        finally
        {
            if (Directory.Exists(outDir)) Directory.Delete(outDir, recursive: true);
        }
    }

    private static void AssertFailedClearly(MpiResult result, TimeSpan within, params string[] parts)
    {
        Assert.True(result.ExitCode != 0, "the job should have failed. " + result);
        Assert.DoesNotContain("UNEXPECTED", result.Output);
        foreach (var part in parts) Assert.True(result.Output.Contains(part, StringComparison.Ordinal), $"the output lacks '{part}'. {result}");
        Assert.True(result.Elapsed < within, $"the job took {result.Elapsed.TotalSeconds:F1} s to fail (allowed: {within.TotalSeconds} s). {result}");
    }

    [SkippableFact]
    public void ARankThatThrowsEndsTheJobWithItsException()
    {
        var result = MpiRun.Worker("fail-throw", Timeout);
        AssertFailedClearly(result, TimeSpan.FromSeconds(45),
            "SharpGrad.Distributed: rank 1 of 2: unhandled exception", "rank 1 failed on purpose", "Ending every rank of the job (MPI_Abort)");
    }

    [SkippableFact]
    public void ARankThatLeavesWhileAnotherWaitsIsReportedByBoth()
    {
        var result = MpiRun.Worker("fail-exit", Timeout);
        AssertFailedClearly(result, TimeSpan.FromSeconds(45),
            "rank 0: AllReduce(Sum) of a Float32 tensor of shape [3]", "rank 1: the shutdown of the group", "Ending every rank of the job (MPI_Abort)");
    }

    [SkippableFact]
    public void AStuckRankMakesTheOthersTimeOutInsteadOfHanging()
    {
        var result = MpiRun.Worker("fail-hang", Timeout);
        AssertFailedClearly(result, TimeSpan.FromSeconds(50),
            "SharpGrad.Distributed: rank 0 of 2: AllReduce(Sum) of a Float32 tensor of shape [3] did not complete within 00:00:03", "Ending every rank of the job (MPI_Abort)");
    }

    [SkippableFact]
    public void UnevenBatchesAcrossRanksAreReportedNotHung()
    {
        var result = MpiRun.Worker("fail-uneven", Timeout);
        AssertFailedClearly(result, TimeSpan.FromSeconds(45),
            "rank 0: the gradient reduction of DistributedDataParallel step 2", "rank 1: the shutdown of the group", "Ending every rank of the job (MPI_Abort)");
    }
}

/// <summary>The MPI jobs run one at a time: each uses two processes of the shared cores.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MpiCollection
{
    public const string Name = "MPI jobs";
}
