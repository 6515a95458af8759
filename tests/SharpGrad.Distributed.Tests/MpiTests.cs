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
