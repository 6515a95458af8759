using SharpGrad.Layers;

namespace SharpGrad.Distributed.Tests.Worker;

/// <summary>
/// The collectives under <c>mpiexec -n 2</c>: every ReduceOp on Float32, Float64 and Int64 tensors of 0, 1, 7 and 3×5
/// elements, against the values computed here from both ranks' inputs; Broadcast from each root; AllGather; Barrier;
/// bad use (different shapes, dtypes, ops, roots or collectives across ranks) raising a DistributedException on every
/// rank, after which the group still works; Checkpoint.
/// </summary>
public static class CollectiveScenarios
{
    private static readonly DType[] DTypes = [DType.Float32, DType.Float64, DType.Int64];
    private static readonly int[][] Shapes = [[0], [1], [7], [3, 5]];

    /// <summary>Rank r's element i: small integers (and halves for floats), so that every expected value is exact.</summary>
    private static double Value(int rank, int i, DType dtype) => (i % 5) - 2 + 3 * rank + (dtype == DType.Int64 ? 0 : 0.5 * ((i + rank) % 2));

    private static Tensor Make(int rank, int[] shape, DType dtype)
    {
        int n = shape.Aggregate(1, (a, b) => a * b);
        var values = Enumerable.Range(0, n).Select(i => Value(rank, i, dtype)).ToArray();
        return dtype switch
        {
            DType.Float32 => Tensor.FromArray(values.Select(v => (float)v).ToArray(), shape),
            DType.Float64 => Tensor.FromArray(values, shape),
            _ => Tensor.FromArray(values.Select(v => (long)v).ToArray(), shape),
        };
    }

    public static void Run(ProcessGroup group, Report report)
    {
        report.True(group.Size == 2 && group.Rank is 0 or 1 && group.Backend.StartsWith("mpi", StringComparison.Ordinal),
            "group", $"rank {group.Rank} of {group.Size} on {group.Backend}");
        AllReduceEveryOpAndDType(group, report);
        BroadcastAndAllGather(group, report);
        BadUseIsAnErrorOnEveryRankAndTheGroupStillWorks(group, report);
        CheckpointOnOneRankWhileTheOthersWait(group, report);
    }

    private static void AllReduceEveryOpAndDType(ProcessGroup group, Report report)
    {
        foreach (var dtype in DTypes)
        {
            foreach (var shape in Shapes)
            {
                foreach (var op in Enum.GetValues<ReduceOp>())
                {
                    string name = $"AllReduce {op} {dtype} [{string.Join(",", shape)}]";
                    var t = Make(group.Rank, shape, dtype);
                    if (op == ReduceOp.Average && dtype == DType.Int64)
                    {
                        report.Throws<ArgumentException>(() => group.AllReduce(t, op), name, "floating-point", "Int64");
                        continue;
                    }
                    var a = Make(0, shape, dtype).ToDoubleArray();
                    var b = Make(1, shape, dtype).ToDoubleArray();
                    var expected = a.Zip(b, (x, y) => op switch
                    {
                        ReduceOp.Sum => x + y,
                        ReduceOp.Average => (x + y) / 2,
                        ReduceOp.Product => x * y,
                        ReduceOp.Max => Math.Max(x, y),
                        _ => Math.Min(x, y),
                    }).ToArray();
                    int version = t.Version;
                    group.AllReduce(t, op);
                    report.Close(Tensor.FromArray(expected, shape).To(dtype), t, 0, name);
                    if (t.NumElements > 0) report.True(t.Version > version, name + " bumps the version", "the version did not change");
                }
            }
        }
        var mask = Tensor.FromArray(new float[] { 1, 0, group.Rank, 0 }).Gt(0.5f);
        var or = mask.Clone();
        group.AllReduce(or, ReduceOp.Max);
        report.True(or.ToBoolArray().SequenceEqual([true, false, true, false]), "AllReduce Max Bool (or)", string.Join(",", or.ToBoolArray()));
        group.AllReduce(mask, ReduceOp.Min);
        report.True(mask.ToBoolArray().SequenceEqual([true, false, false, false]), "AllReduce Min Bool (and)", string.Join(",", mask.ToBoolArray()));
    }

    private static void BroadcastAndAllGather(ProcessGroup group, Report report)
    {
        foreach (var dtype in DTypes)
        {
            foreach (var shape in Shapes)
            {
                for (int root = 0; root < 2; root++)
                {
                    var t = group.Rank == root ? Make(root, shape, dtype) : Tensor.Zeros(shape, dtype);
                    group.Broadcast(t, root);
                    report.Close(Make(root, shape, dtype), t, 0, $"Broadcast root {root} {dtype} [{string.Join(",", shape)}]");
                }
                var parts = group.AllGather(Make(group.Rank, shape, dtype));
                report.True(parts.Length == 2, $"AllGather {dtype} [{string.Join(",", shape)}] count", $"{parts.Length} parts");
                for (int r = 0; r < parts.Length; r++) report.Close(Make(r, shape, dtype), parts[r], 0, $"AllGather {dtype} [{string.Join(",", shape)}] part {r}");
            }
        }
        // A view at an offset in a larger storage is reduced in place, leaving the rest alone.
        var big = Tensor.FromArray(new float[] { 100, 1 + group.Rank, 2 + group.Rank, 100 });
        group.AllReduce(big.Narrow(0, 1, 2));
        report.Close(Tensor.FromArray(new float[] { 100, 3, 5, 100 }), big, 0, "AllReduce of a narrowed view");
        group.Barrier();
        report.Ok("Barrier");
    }

    private static void BadUseIsAnErrorOnEveryRankAndTheGroupStillWorks(ProcessGroup group, Report report)
    {
        int r = group.Rank;
        report.Throws<DistributedException>(() => group.AllReduce(Tensor.Zeros(r + 2)), "mismatched shapes",
            "rank 0: AllReduce(Sum) of a Float32 tensor of shape [2]", "rank 1: AllReduce(Sum) of a Float32 tensor of shape [3]");
        report.Throws<DistributedException>(() => group.AllReduce(Tensor.Zeros([2], r == 0 ? DType.Float32 : DType.Float64)), "mismatched dtypes",
            "Float32 tensor", "Float64 tensor");
        report.Throws<DistributedException>(() => group.AllReduce(Tensor.Zeros(2), r == 0 ? ReduceOp.Sum : ReduceOp.Max), "mismatched ops",
            "AllReduce(Sum)", "AllReduce(Max)");
        report.Throws<DistributedException>(() => group.Broadcast(Tensor.Zeros(2), root: r), "mismatched roots", "Broadcast(root 0)", "Broadcast(root 1)");
        report.Throws<DistributedException>(() =>
        {
            if (r == 0) group.AllReduce(Tensor.Zeros(4));
            else group.Barrier();
        }, "mismatched collectives", "rank 0: AllReduce(Sum)", "rank 1: Barrier()");
        report.Throws<ArgumentException>(() => group.AllReduce(Tensor.Zeros(3, 4).Transpose(0, 1)), "not contiguous", "not contiguous", "[4, 3]");
        report.Throws<ArgumentOutOfRangeException>(() => group.Broadcast(Tensor.Zeros(1), root: 2), "root out of range", "root 2", "ranks 0 to 1");
        var t = Tensor.FromArray(new float[] { r + 1 });
        group.AllReduce(t);
        report.Close(Tensor.FromArray(new float[] { 3 }), t, 0, "the group works after the errors");
    }

    private static void CheckpointOnOneRankWhileTheOthersWait(ProcessGroup group, Report report)
    {
        // One file name for both ranks: rank 0 draws it.
        var id = Tensor.FromArray(new long[] { group.Rank == 0 ? Random.Shared.NextInt64(1, long.MaxValue) : 0 });
        group.Broadcast(id);
        var path = Path.Combine(Path.GetTempPath(), $"sharpgrad-checkpoint-{id.ToLongArray()[0]}.safetensors");
        try
        {
            for (int root = 0; root < 2; root++)
            {
                Rng.ManualSeed(root);
                var model = new Linear(3, 2);
                var expected = model.Weight.Detach().Clone();
                group.Checkpoint(() =>
                {
                    Thread.Sleep(300); // the others must wait, not race ahead to a missing or half-written file
                    model.Save(path);
                }, root);
                var loaded = SharpGrad.Serialization.StateDict.Load(path);
                report.Close(expected, loaded["weight"], 0, $"Checkpoint root {root}: every rank reads the saved weights");
                group.Barrier(); // nobody overwrites the file while another rank still reads it
            }
            if (group.Rank == 0)
            {
                report.Throws<IOException>(() => group.Checkpoint(() => throw new IOException("disk full (on purpose)")), "Checkpoint failure on the root", "disk full");
            }
            else
            {
                report.Throws<DistributedException>(() => group.Checkpoint(() => throw new IOException("disk full (on purpose)")), "Checkpoint failure on the root",
                    "rank 0 failed to save the checkpoint", "IOException: disk full (on purpose)");
            }
        }
        finally
        {
            group.Barrier();
            if (group.Rank == 0) File.Delete(path);
        }
    }
}
