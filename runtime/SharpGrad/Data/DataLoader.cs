using System.Collections;

namespace SharpGrad.Data;

/// <summary>
/// Iterates over a data set in batches built by a collate function (PyTorch: <c>torch.utils.data.DataLoader</c> with
/// <c>collate_fn</c>). Each enumeration is one epoch: with <c>shuffle</c>, epoch <c>k</c> (the k-th call of
/// <see cref="GetEnumerator"/>, counting from 0, see <see cref="Epoch"/>) visits the samples in a permutation drawn from
/// a <see cref="Rng"/> seeded from <c>(seed, k)</c>, so the same seed gives the same sequence of orders and different
/// epochs different orders. With <c>numWorkers &gt; 0</c> whole batches are built ahead on background tasks
/// (at most <c>numWorkers × prefetchFactor</c> in flight); the batches and their order are exactly those of
/// <c>numWorkers: 0</c>. An exception thrown while building a batch is rethrown on the consuming thread when that batch
/// is reached; disposing the enumerator (e.g. <c>break</c> out of <c>foreach</c>) stops the workers.
/// </summary>
/// <typeparam name="TItem">The data set's item type.</typeparam>
/// <typeparam name="TBatch">The batch type the collate function produces.</typeparam>
public class DataLoader<TItem, TBatch> : IEnumerable<TBatch>
{
    private readonly Func<IReadOnlyList<TItem>, TBatch>? _collate;
    private readonly long _seed;
    private long _epoch;

    /// <summary>Creates a loader with a custom collate function (PyTorch: <c>DataLoader(dataset, batch_size, shuffle,
    /// num_workers=…, collate_fn=…, drop_last=…, generator=torch.Generator().manual_seed(seed), prefetch_factor=…)</c>).</summary>
    /// <param name="dataset">The data set to read.</param>
    /// <param name="collate">Turns the samples of one batch (in order) into a batch (PyTorch: <c>collate_fn</c>). With
    /// <paramref name="numWorkers"/> &gt; 0 it runs on worker threads.</param>
    /// <param name="batchSize">Samples per batch (PyTorch: <c>batch_size</c>).</param>
    /// <param name="shuffle">Visit the samples in a new random order every epoch (PyTorch: <c>shuffle</c>).</param>
    /// <param name="dropLast">Drop the last batch if it is smaller than <paramref name="batchSize"/> (PyTorch: <c>drop_last</c>).</param>
    /// <param name="numWorkers">0: build batches on the consuming thread; n &gt; 0: prefetch them on n background tasks (PyTorch: <c>num_workers</c>).</param>
    /// <param name="seed">Seed of the shuffling (PyTorch: <c>generator</c>); null draws one from <see cref="Rng.Default"/>, so
    /// <see cref="Rng.ManualSeed"/> makes the order reproducible.</param>
    /// <param name="prefetchFactor">Batches built ahead per worker (PyTorch: <c>prefetch_factor</c>).</param>
    public DataLoader(IDataset<TItem> dataset, Func<IReadOnlyList<TItem>, TBatch> collate, int batchSize = 1, bool shuffle = false,
        bool dropLast = false, int numWorkers = 0, long? seed = null, int prefetchFactor = 2)
        : this(dataset, batchSize, shuffle, dropLast, numWorkers, seed, prefetchFactor)
    {
        ArgumentNullException.ThrowIfNull(collate);
        _collate = collate;
    }

    /// <summary>For subclasses that override <see cref="LoadBatch"/> instead of passing a collate function.</summary>
    private protected DataLoader(IDataset<TItem> dataset, int batchSize, bool shuffle, bool dropLast, int numWorkers, long? seed, int prefetchFactor)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "DataLoader: batchSize must be at least 1.");
        if (numWorkers < 0) throw new ArgumentOutOfRangeException(nameof(numWorkers), numWorkers, "DataLoader: numWorkers must be 0 (load on the consuming thread) or positive.");
        if (prefetchFactor < 1) throw new ArgumentOutOfRangeException(nameof(prefetchFactor), prefetchFactor, "DataLoader: prefetchFactor must be at least 1.");
        Dataset = dataset;
        BatchSize = batchSize;
        Shuffle = shuffle;
        DropLast = dropLast;
        NumWorkers = numWorkers;
        PrefetchFactor = prefetchFactor;
        _seed = seed ?? (shuffle ? (long)Rng.Default.NextUInt64() : 0);
    }

    /// <summary>The data set (PyTorch: <c>loader.dataset</c>).</summary>
    public IDataset<TItem> Dataset { get; }

    /// <summary>Samples per batch (PyTorch: <c>loader.batch_size</c>).</summary>
    public int BatchSize { get; }

    /// <summary>Whether each epoch visits the samples in a new random order.</summary>
    public bool Shuffle { get; }

    /// <summary>Whether an incomplete last batch is dropped (PyTorch: <c>loader.drop_last</c>).</summary>
    public bool DropLast { get; }

    /// <summary>Background workers; 0 loads on the consuming thread (PyTorch: <c>loader.num_workers</c>).</summary>
    public int NumWorkers { get; }

    /// <summary>Batches built ahead per worker (PyTorch: <c>loader.prefetch_factor</c>).</summary>
    public int PrefetchFactor { get; }

    /// <summary>The seed of the shuffling (the one passed, or the one drawn from <see cref="Rng.Default"/>).</summary>
    public long Seed => _seed;

    /// <summary>The epoch the next enumeration will be; each <see cref="GetEnumerator"/> call takes it and adds one.
    /// Set it to replay an epoch's order (like PyTorch's <c>DistributedSampler.set_epoch</c>).</summary>
    public long Epoch
    {
        get => Interlocked.Read(ref _epoch);
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            Interlocked.Exchange(ref _epoch, value);
        }
    }

    /// <summary>The number of batches per epoch (PyTorch: <c>len(loader)</c>).</summary>
    public int Count => BatchCount(Dataset.Count);

    private int BatchCount(int n) => DropLast ? n / BatchSize : (int)(((long)n + BatchSize - 1) / BatchSize);

    /// <summary>The sample indices of one epoch, in visiting order (PyTorch: <c>list(loader.sampler)</c>).</summary>
    internal int[] EpochOrder(long epoch, int n)
    {
        if (!Shuffle)
        {
            var order = new int[n];
            for (int i = 0; i < n; i++) order[i] = i;
            return order;
        }
        return new Rng(MixSeed(_seed, epoch)).Permutation(n);
    }

    // A seed per (seed, epoch) pair: distinct epochs give unrelated streams (not overlapping SplitMix sequences).
    private static long MixSeed(long seed, long epoch)
    {
        ulong z = (ulong)seed * 0xD1342543DE82EF95UL ^ ((ulong)epoch + 1) * 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 32)) * 0xD6E8FEB86659FD93UL;
        z = (z ^ (z >> 32)) * 0xD6E8FEB86659FD93UL;
        return (long)(z ^ (z >> 32));
    }

    /// <summary>Builds the batch of the samples <paramref name="indices"/> (in that order). The default fetches each
    /// sample and calls the collate function; subclasses may gather faster. May run on worker threads.</summary>
    protected virtual TBatch LoadBatch(int[] indices)
    {
        if (_collate is null) throw new InvalidOperationException("DataLoader: no collate function was given and LoadBatch is not overridden.");
        var items = new TItem[indices.Length];
        for (int i = 0; i < items.Length; i++) items[i] = Dataset[indices[i]];
        return _collate(items);
    }

    /// <summary>Starts a new epoch and iterates over its batches (PyTorch: <c>iter(loader)</c>). With <see cref="NumWorkers"/>
    /// &gt; 0 the workers start now; dispose the enumerator to stop them early.</summary>
    public IEnumerator<TBatch> GetEnumerator()
    {
        long epoch = Interlocked.Increment(ref _epoch) - 1;
        int n = Dataset.Count;
        var order = EpochOrder(epoch, n);
        int batches = BatchCount(n);
        return NumWorkers == 0 ? Synchronous(order, batches) : new PrefetchEnumerator(this, order, batches);
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private int[] BatchIndices(int[] order, int batch)
    {
        int start = batch * BatchSize;
        return order.AsSpan(start, Math.Min(BatchSize, order.Length - start)).ToArray();
    }

    private IEnumerator<TBatch> Synchronous(int[] order, int batches)
    {
        for (int b = 0; b < batches; b++) yield return LoadBatch(BatchIndices(order, b));
    }

    /// <summary>Builds batches on background tasks, delivering them in order. Workers claim batch numbers in increasing
    /// order, and only after taking one of the bounded number of free places, so the batch the consumer waits for is always
    /// claimed (or about to be) and every claimed batch completes: no deadlock, at most capacity batches held.</summary>
    private sealed class PrefetchEnumerator : IEnumerator<TBatch>
    {
        private readonly DataLoader<TItem, TBatch> _loader;
        private readonly int[] _order;
        private readonly int _batches;
        private readonly TaskCompletionSource<TBatch>?[] _slots;
        private readonly SemaphoreSlim _space;
        private readonly CancellationTokenSource _cts = new();
        private readonly Task[] _workers;
        private int _claimed = -1;
        private int _next;
        private TBatch _current = default!;
        private bool _disposed;

        public PrefetchEnumerator(DataLoader<TItem, TBatch> loader, int[] order, int batches)
        {
            _loader = loader;
            _order = order;
            _batches = batches;
            _slots = new TaskCompletionSource<TBatch>?[batches];
            for (int i = 0; i < batches; i++) _slots[i] = new TaskCompletionSource<TBatch>(TaskCreationOptions.RunContinuationsAsynchronously);
            int capacity = (int)Math.Min(int.MaxValue, (long)loader.NumWorkers * loader.PrefetchFactor);
            _space = new SemaphoreSlim(capacity, capacity);
            _workers = new Task[loader.NumWorkers];
            for (int w = 0; w < _workers.Length; w++) _workers[w] = Task.Run(WorkAsync);
        }

        private async Task WorkAsync()
        {
            var token = _cts.Token;
            while (true)
            {
                try
                {
                    await _space.WaitAsync(token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                if (token.IsCancellationRequested) return;
                int b = Interlocked.Increment(ref _claimed);
                if (b >= _batches)
                {
                    _space.Release();
                    return;
                }
                var slot = _slots[b]!;
                try
                {
                    slot.TrySetResult(_loader.LoadBatch(_loader.BatchIndices(_order, b)));
                }
                catch (Exception ex)
                {
                    slot.TrySetException(ex);
                    // Later batches are not needed: the consumer stops at this one.
                    _cts.Cancel();
                    return;
                }
            }
        }

        public TBatch Current => _current;

        object? IEnumerator.Current => _current;

        public bool MoveNext()
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_next >= _batches) return false;
            var slot = _slots[_next]!;
            // Rethrows a worker's exception with its original type and stack trace.
            var batch = slot.Task.GetAwaiter().GetResult();
            _slots[_next] = null;
            _next++;
            _space.Release();
            _current = batch;
            return true;
        }

        public void Reset() => throw new NotSupportedException("DataLoader: an epoch cannot be restarted; enumerate the loader again for the next epoch.");

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            _cts.Cancel();
            try
            {
                // A worker finishes at most the batch it is building, then sees the cancellation.
                Task.WaitAll(_workers);
            }
            catch (AggregateException)
            {
                // Workers report their failures through the slots, never through their tasks.
            }
            _cts.Dispose();
            _space.Dispose();
        }
    }
}

/// <summary>
/// Iterates over a data set of <c>Tensor[]</c> samples in batches of stacked tensors (PyTorch:
/// <c>torch.utils.data.DataLoader</c> with the default collation). Each batch is a <c>Tensor[]</c> whose field <c>j</c>
/// stacks field <c>j</c> of its samples along a new dimension 0 (dtype preserved); <c>foreach (var (x, y) in loader)</c>
/// deconstructs two-field batches (see <see cref="BatchExtensions"/>). For a <see cref="TensorDataset"/> the rows are
/// gathered straight into each batch tensor. Shuffling, epochs, workers: see <see cref="DataLoader{TItem, TBatch}"/>.
/// </summary>
public sealed class DataLoader : DataLoader<Tensor[], Tensor[]>
{
    private readonly Tensor[]? _sources;

    /// <summary>Creates a loader (PyTorch: <c>DataLoader(dataset, batch_size, shuffle, num_workers=…, drop_last=…,
    /// generator=torch.Generator().manual_seed(seed), prefetch_factor=…)</c>).</summary>
    /// <param name="dataset">The data set; for a <see cref="TensorDataset"/> rows are gathered directly (its tensors are read
    /// as they are when the loader is created if they are not contiguous, else at every batch).</param>
    /// <param name="batchSize">Samples per batch (PyTorch: <c>batch_size</c>).</param>
    /// <param name="shuffle">Visit the samples in a new random order every epoch (PyTorch: <c>shuffle</c>).</param>
    /// <param name="dropLast">Drop the last batch if it is smaller than <paramref name="batchSize"/> (PyTorch: <c>drop_last</c>).</param>
    /// <param name="numWorkers">0: build batches on the consuming thread; n &gt; 0: prefetch them on n background tasks (PyTorch: <c>num_workers</c>).</param>
    /// <param name="seed">Seed of the shuffling (PyTorch: <c>generator</c>); null draws one from <see cref="Rng.Default"/>.</param>
    /// <param name="prefetchFactor">Batches built ahead per worker (PyTorch: <c>prefetch_factor</c>).</param>
    public DataLoader(IDataset<Tensor[]> dataset, int batchSize = 1, bool shuffle = false, bool dropLast = false,
        int numWorkers = 0, long? seed = null, int prefetchFactor = 2)
        : base(dataset, batchSize, shuffle, dropLast, numWorkers, seed, prefetchFactor)
    {
        if (dataset is TensorDataset td)
        {
            using (Autograd.NoGrad())
            {
                _sources = td.Tensors.Select(t => t.Contiguous()).ToArray();
            }
        }
    }

    /// <inheritdoc/>
    protected override Tensor[] LoadBatch(int[] indices)
    {
        if (_sources is null)
        {
            var items = new Tensor[indices.Length][];
            for (int i = 0; i < items.Length; i++) items[i] = Dataset[indices[i]];
            return Collate.Default(items);
        }
        var batch = new Tensor[_sources.Length];
        for (int j = 0; j < batch.Length; j++) batch[j] = Collate.GatherRows(_sources[j], indices);
        return batch;
    }
}
