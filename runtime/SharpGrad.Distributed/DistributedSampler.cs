using System.Collections;
using SharpGrad.Data;

namespace SharpGrad.Distributed;

/// <summary>
/// Gives each rank its own share of a data set's indices, every rank the same number (PyTorch:
/// <c>torch.utils.data.distributed.DistributedSampler</c>, with its sharding and padding rules and its random order):
/// the indices — shuffled by <c>torch.randperm</c>'s permutation for seed <c>seed + epoch</c>, or in order — are padded
/// by repeating the first ones up to a multiple of the number of ranks (or cut down to one, with <c>dropLast</c>), and
/// rank r takes every <c>numReplicas</c>-th index starting at r. Pass it to a DataLoader as <c>sampler:</c> and call
/// <see cref="SetEpoch"/> at the start of every epoch, as in PyTorch, so that each epoch has a new order.
/// </summary>
public sealed class DistributedSampler : ISampler<int>
{
    /// <summary>Shards a data set of <paramref name="length"/> items over the ranks of <paramref name="group"/> (PyTorch:
    /// <c>DistributedSampler(dataset, shuffle=…, seed=…, drop_last=…)</c>, which reads the rank and size from the default group).</summary>
    /// <param name="length">The number of items of the data set (PyTorch: <c>len(dataset)</c>).</param>
    /// <param name="group">The ranks to share the data between.</param>
    /// <param name="shuffle">Shuffle the indices, differently every epoch (PyTorch: <c>shuffle</c>).</param>
    /// <param name="seed">The seed of the shuffle; every rank must use the same (PyTorch: <c>seed</c>).</param>
    /// <param name="dropLast">Drop the last indices so that they divide evenly, instead of repeating the first ones (PyTorch: <c>drop_last</c>).</param>
    public DistributedSampler(int length, ProcessGroup group, bool shuffle = true, int seed = 0, bool dropLast = false)
        : this(length, (group ?? throw new ArgumentNullException(nameof(group))).Size, group.Rank, shuffle, seed, dropLast) { }

    /// <summary>Shards <paramref name="dataset"/> (its <c>Count</c> when the sampler is created) over the ranks of
    /// <paramref name="group"/> (PyTorch: <c>DistributedSampler(dataset, shuffle=…, seed=…, drop_last=…)</c>).</summary>
    public DistributedSampler(IDataset<object> dataset, ProcessGroup group, bool shuffle = true, int seed = 0, bool dropLast = false)
        : this((dataset ?? throw new ArgumentNullException(nameof(dataset))).Count, group, shuffle, seed, dropLast) { }

    /// <summary>Shards a data set of <paramref name="length"/> items for rank <paramref name="rank"/> of
    /// <paramref name="numReplicas"/> (PyTorch: <c>DistributedSampler(dataset, num_replicas, rank, shuffle, seed, drop_last)</c>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">A negative length, fewer than one replica, or a rank outside 0 … numReplicas − 1.</exception>
    public DistributedSampler(int length, int numReplicas, int rank, bool shuffle = true, int seed = 0, bool dropLast = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (numReplicas < 1) throw new ArgumentOutOfRangeException(nameof(numReplicas), numReplicas, "DistributedSampler: numReplicas must be at least 1.");
        if (rank < 0 || rank >= numReplicas)
        {
            throw new ArgumentOutOfRangeException(nameof(rank), rank, $"DistributedSampler: invalid rank {rank}; rank should be in the interval [0, {numReplicas - 1}].");
        }
        Length = length;
        NumReplicas = numReplicas;
        Rank = rank;
        Shuffle = shuffle;
        Seed = seed;
        DropLast = dropLast;
        // PyTorch: ceil((len - replicas) / replicas) with drop_last and an uneven length, else ceil(len / replicas).
        Count = dropLast && length % numReplicas != 0
            ? (int)Math.Ceiling((double)(length - numReplicas) / numReplicas)
            : (int)(((long)length + numReplicas - 1) / numReplicas);
        Count = Math.Max(Count, 0);
        TotalSize = Count * numReplicas;
    }

    /// <summary>The number of items of the data set.</summary>
    public int Length { get; }

    /// <summary>The number of ranks sharing the data (PyTorch: <c>num_replicas</c>).</summary>
    public int NumReplicas { get; }

    /// <summary>This rank (PyTorch: <c>rank</c>).</summary>
    public int Rank { get; }

    /// <summary>Whether the indices are shuffled (PyTorch: <c>shuffle</c>).</summary>
    public bool Shuffle { get; }

    /// <summary>The seed of the shuffle (PyTorch: <c>seed</c>).</summary>
    public int Seed { get; }

    /// <summary>Whether the tail is dropped instead of padded (PyTorch: <c>drop_last</c>).</summary>
    public bool DropLast { get; }

    /// <summary>The epoch whose order the sampler yields (PyTorch: <c>epoch</c>); set it with <see cref="SetEpoch"/>.</summary>
    public int Epoch { get; private set; }

    /// <summary>Indices per rank and epoch (PyTorch: <c>num_samples</c>, <c>len(sampler)</c>).</summary>
    public int Count { get; }

    /// <summary>Indices over all ranks per epoch, padding included (PyTorch: <c>total_size</c>).</summary>
    public int TotalSize { get; }

    /// <summary>Sets the epoch, which changes the shuffle (PyTorch: <c>set_epoch</c>); call it before each epoch, on every rank.</summary>
    public void SetEpoch(int epoch) => Epoch = epoch;

    /// <summary>This rank's indices for the current epoch.</summary>
    public IEnumerator<int> GetEnumerator() => ((IEnumerable<int>)Indices()).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>This rank's indices for the current epoch, in order (PyTorch: <c>list(sampler)</c>).</summary>
    public int[] Indices()
    {
        int[] all = Shuffle ? TorchRandPerm.Permutation(Length, (long)Seed + Epoch) : Enumerable.Range(0, Length).ToArray();
        var padded = new int[TotalSize];
        if (TotalSize <= all.Length)
        {
            all.AsSpan(0, TotalSize).CopyTo(padded);
        }
        else if (all.Length > 0)
        {
            // Repeat the indices from the start until the total is reached (PyTorch's two padding cases give exactly this).
            for (int i = 0; i < TotalSize; i++) padded[i] = all[i % all.Length];
        }
        var mine = new int[Count];
        for (int i = 0; i < Count; i++) mine[i] = padded[Rank + i * NumReplicas];
        return mine;
    }
}

/// <summary>
/// <c>torch.randperm(n, generator=torch.Generator().manual_seed(seed))</c> on the CPU, exactly: PyTorch's CPU generator is a
/// 32-bit Mersenne Twister (mt19937) seeded with the low 32 bits of the seed, and randperm is a Fisher–Yates shuffle taking
/// <c>random() % (n − i)</c> at step i (64-bit draws for very large n). Used so that DistributedSampler shards exactly as
/// PyTorch's does for the same seed and epoch.
/// </summary>
internal static class TorchRandPerm
{
    public static int[] Permutation(int n, long seed)
    {
        var p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        var mt = new MersenneTwister((uint)seed);
        bool wide = n >= uint.MaxValue / 20;
        for (int i = 0; i < n - 1; i++)
        {
            ulong r = wide ? ((ulong)mt.Next() << 32) | mt.Next() : mt.Next();
            int z = (int)(r % (ulong)(n - i));
            (p[i], p[z + i]) = (p[z + i], p[i]);
        }
        return p;
    }

    /// <summary>The standard mt19937 (Matsumoto and Nishimura), as in C++'s <c>std::mt19937</c> and PyTorch's <c>at::mt19937</c>.</summary>
    private sealed class MersenneTwister
    {
        private readonly uint[] _state = new uint[624];
        private int _index;

        public MersenneTwister(uint seed)
        {
            _state[0] = seed;
            for (int i = 1; i < 624; i++) _state[i] = 1812433253u * (_state[i - 1] ^ (_state[i - 1] >> 30)) + (uint)i;
            _index = 624;
        }

        public uint Next()
        {
            if (_index >= 624)
            {
                for (int i = 0; i < 624; i++)
                {
                    uint y = (_state[i] & 0x80000000u) | (_state[(i + 1) % 624] & 0x7fffffffu);
                    _state[i] = _state[(i + 397) % 624] ^ (y >> 1) ^ ((y & 1) != 0 ? 0x9908b0dfu : 0);
                }
                _index = 0;
            }
            uint x = _state[_index++];
            x ^= x >> 11;
            x ^= (x << 7) & 0x9d2c5680u;
            x ^= (x << 15) & 0xefc60000u;
            x ^= x >> 18;
            return x;
        }
    }
}
