using SharpGrad.Layers;

namespace SharpGrad.Distributed.Tests.Worker;

/// <summary>
/// A rank fails while rank 0 waits in a collective. Each must end the whole job with a message saying what happened,
/// in bounded time; none may hang. Rank 0 prints "UNEXPECTED" if its collective ever returns.
/// </summary>
public static class FailureScenarios
{
    /// <summary>Rank 1 throws an exception nobody catches.</summary>
    public static int RankThrows()
    {
        var group = ProcessGroup.InitMpi(TimeSpan.FromSeconds(60));
        if (group.Rank == 1) throw new InvalidOperationException("rank 1 failed on purpose");
        group.AllReduce(Tensor.Ones(3));
        Console.WriteLine("rank 0: UNEXPECTED: AllReduce returned");
        return 0;
    }

    /// <summary>Rank 1 leaves the group (disposes it and ends) while rank 0 calls a collective.</summary>
    public static int RankLeavesEarly()
    {
        using var group = ProcessGroup.InitMpi(TimeSpan.FromSeconds(60));
        if (group.Rank == 1) return 0;
        group.AllReduce(Tensor.Ones(3));
        Console.WriteLine("rank 0: UNEXPECTED: AllReduce returned");
        return 0;
    }

    /// <summary>Rank 1 is stuck (alive, never calling the collective); rank 0's timeout is 3 seconds.</summary>
    public static int RankHangs()
    {
        using var group = ProcessGroup.InitMpi(TimeSpan.FromSeconds(3));
        if (group.Rank == 1) Thread.Sleep(TimeSpan.FromMinutes(5));
        group.AllReduce(Tensor.Ones(3));
        Console.WriteLine($"rank {group.Rank}: UNEXPECTED: AllReduce returned");
        return 0;
    }

    /// <summary>Rank 0 has one more batch than rank 1 (the classic uneven-data bug): rank 1 ends while rank 0's DDP waits
    /// for its gradients.</summary>
    public static int UnevenBatches()
    {
        using var group = ProcessGroup.InitMpi(TimeSpan.FromSeconds(60));
        var model = new Linear(4, 2);
        using var ddp = new DistributedDataParallel(model, group);
        int batches = group.Rank == 0 ? 3 : 2;
        for (int i = 0; i < batches; i++)
        {
            model.ZeroGrad();
            model.Forward(Tensor.Randn(8, 4)).Sum().Backward();
            Console.WriteLine($"rank {group.Rank}: step {i} done");
        }
        if (group.Rank == 0) Console.WriteLine("rank 0: UNEXPECTED: the third step returned");
        return 0;
    }
}
