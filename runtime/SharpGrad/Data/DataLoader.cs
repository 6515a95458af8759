using System.Collections;

namespace SharpGrad.Data;

/// <summary>
/// Iterates over a data set in batches built by a collate function (PyTorch: <c>torch.utils.data.DataLoader</c> with
/// <c>collate_fn</c>). Each enumeration is one epoch: with <c>shuffle</c>, epoch <c>k</c> (the k-th call of
/// <see cref="GetEnumerator"/>, counting from 0, see <see cref="Epoch"/>) visits the samples in a permutation drawn from
/// a <see cref="Rng"/> seeded from <c>(seed, k)</c>, so the same seed gives the same sequence of orders and different
/// epochs different orders. A <c>sampler</c> (an <see cref="ISampler{T}"/> of indices, e.g. a
/// <see cref="WeightedRandomSampler"/> or SharpGrad.Distributed's <c>DistributedSampler</c>) or a <c>batchSampler</c>
/// (of whole batches) decides the order instead, enumerated once per epoch, as in PyTorch. With <c>numWorkers &gt; 0</c>
/// whole batches are built ahead on background tasks (at most <c>numWorkers × prefetchFactor</c> in flight); the batches
/// and their order are exactly those of
/// <c>numWorkers: 0</c>. An exception thrown while building a batch is rethrown on the consuming thread when that batch
/// is reached; disposing the enumerator (e.g. <c>break</c> out of <c>foreach</c>) stops the workers.
/// </summary>
/// <typeparam name="TItem">The data set's item type.</typeparam>
/// <typeparam name="TBatch">The batch type the collate function produces.</typeparam>
public class DataLoader<TItem, TBatch> : IEnumerable<TBatch>
{
    private readonly Func<IReadOnlyList<TItem>, TBatch>? _collate;
    private readonly long _seed;
    private readonly ISampler<int>? _sampler;
    private readonly RandomSampler? _shuffleSampler;
    private readonly ISampler<int[]>? _batchSampler;
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
    /// <param name="sampler">The order of the samples, one enumeration per epoch (PyTorch: <c>sampler</c>); excludes <paramref name="shuffle"/>.</param>
    /// <param name="batchSampler">The batches' indices, one enumeration per epoch (PyTorch: <c>batch_sampler</c>); excludes
    /// <paramref name="batchSize"/>, <paramref name="shuffle"/>, <paramref name="sampler"/> and <paramref name="dropLast"/>.</param>
    /// <exception cref="ArgumentException">Both <paramref name="sampler"/> and <paramref name="shuffle"/>, or
    /// <paramref name="batchSampler"/> with one of the options it replaces.</exception>
    public DataLoader(IDataset<TItem> dataset, Func<IReadOnlyList<TItem>, TBatch> collate, int batchSize = 1, bool shuffle = false,
        bool dropLast = false, int numWorkers = 0, long? seed = null, int prefetchFactor = 2,
        ISampler<int>? sampler = null, ISampler<int[]>? batchSampler = null)
        : this(dataset, batchSize, shuffle, dropLast, numWorkers, seed, prefetchFactor, sampler, batchSampler)
    {
        ArgumentNullException.ThrowIfNull(collate);
        _collate = collate;
    }

    /// <summary>For subclasses that override <see cref="LoadBatch"/> instead of passing a collate function.</summary>
    private protected DataLoader(IDataset<TItem> dataset, int batchSize, bool shuffle, bool dropLast, int numWorkers, long? seed, int prefetchFactor,
        ISampler<int>? sampler, ISampler<int[]>? batchSampler)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        // PyTorch's rules and messages.
        if (sampler is not null && shuffle)
        {
            throw new ArgumentException("DataLoader: the sampler option is mutually exclusive with shuffle; the sampler decides the order (use a RandomSampler to shuffle).", nameof(sampler));
        }
        if (batchSampler is not null && (batchSize != 1 || shuffle || sampler is not null || dropLast))
        {
            throw new ArgumentException(
                "DataLoader: the batchSampler option is mutually exclusive with batchSize, shuffle, sampler and dropLast; the batch sampler decides all of them " +
                "(e.g. new BatchSampler(sampler, batchSize, dropLast)).", nameof(batchSampler));
        }
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
        _batchSampler = batchSampler;
        if (batchSampler is null)
        {
            if (shuffle) _shuffleSampler = new RandomSampler(dataset.Count, _seed);
            _sampler = sampler ?? _shuffleSampler ?? (ISampler<int>)new SequentialSampler(dataset.Count);
        }
    }

    /// <summary>The data set (PyTorch: <c>loader.dataset</c>).</summary>
    public IDataset<TItem> Dataset { get; }

    /// <summary>Samples per batch (PyTorch: <c>loader.batch_size</c>).</summary>
    public int BatchSize { get; }

    /// <summary>Whether each epoch visits the samples in a new random order.</summary>
    public bool Shuffle { get; }

    /// <summary>Whether an incomplete last batch is dropped (PyTorch: <c>loader.drop_last</c>).</summary>
    public bool DropLast { get; }

    /// <summary>The order of the samples (PyTorch: <c>loader.sampler</c>): the one passed, else a <see cref="RandomSampler"/>
    /// with <see cref="Shuffle"/> or a <see cref="SequentialSampler"/>; null when a batch sampler was passed.</summary>
    public ISampler<int>? Sampler => _sampler;

    /// <summary>The batch sampler passed to the constructor (PyTorch: <c>loader.batch_sampler</c>), or null.</summary>
    public ISampler<int[]>? BatchSampler => _batchSampler;

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
    public int Count => _batchSampler?.Count ?? (DropLast ? _sampler!.Count / BatchSize : (int)(((long)_sampler!.Count + BatchSize - 1) / BatchSize));

    /// <summary>The batches of one epoch, each the sample indices in visiting order (PyTorch: <c>list(loader.batch_sampler)</c>).</summary>
    private int[][] EpochBatches(long epoch)
    {
        int n = Dataset.Count;
        if (_batchSampler is not null)
        {
            var given = _batchSampler.ToArray();
            for (int b = 0; b < given.Length; b++)
            {
                if (given[b] is not { Length: > 0 } batch)
                {
                    throw new InvalidOperationException($"DataLoader: the batch sampler yielded an empty (or null) batch at position {b} of the epoch; every batch needs at least one index.");
                }
                CheckIndices(batch, n, "batch sampler");
            }
            return given;
        }
        var order = _shuffleSampler is not null ? _shuffleSampler.Indices(epoch) : _sampler!.ToArray();
        if (_shuffleSampler is null) CheckIndices(order, n, "sampler");
        int count = DropLast ? order.Length / BatchSize : (int)(((long)order.Length + BatchSize - 1) / BatchSize);
        var batches = new int[count][];
        for (int b = 0; b < count; b++)
        {
            int start = b * BatchSize;
            batches[b] = order.AsSpan(start, Math.Min(BatchSize, order.Length - start)).ToArray();
        }
        return batches;
    }

    private static void CheckIndices(int[] indices, int n, string what)
    {
        for (int i = 0; i < indices.Length; i++)
        {
            if ((uint)indices[i] >= (uint)n)
            {
                throw new ArgumentOutOfRangeException(what, indices[i],
                    $"DataLoader: the {what} yielded index {indices[i]}, but the data set has {n} samples (indices 0 to {n - 1}).");
            }
        }
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
        var batches = EpochBatches(epoch);
        return NumWorkers == 0 ? Synchronous(batches) : new PrefetchEnumerator(this, batches);
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private IEnumerator<TBatch> Synchronous(int[][] batches)
    {
        foreach (var batch in batches) yield return LoadBatch(batch);
    }

    /// <summary>Builds batches on background tasks, delivering them in order. Workers claim batch numbers in increasing
    /// order, and only after taking one of the bounded number of free places, so the batch the consumer waits for is always
    /// claimed (or about to be) and every claimed batch completes: no deadlock, at most capacity batches held.</summary>
    private sealed class PrefetchEnumerator : IEnumerator<TBatch>
    {
        private readonly DataLoader<TItem, TBatch> _loader;
        private readonly int[][] _batchIndices;
        private readonly int _batches;
        private readonly TaskCompletionSource<TBatch>?[] _slots;
        private readonly SemaphoreSlim _space;
        private readonly CancellationTokenSource _cts = new();
        private readonly Task[] _workers;
        private int _claimed = -1;
        private int _next;
        private TBatch _current = default!;
        private bool _disposed;

        public PrefetchEnumerator(DataLoader<TItem, TBatch> loader, int[][] batchIndices)
        {
            _loader = loader;
            _batchIndices = batchIndices;
            int batches = _batches = batchIndices.Length;
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
                    slot.TrySetResult(_loader.LoadBatch(_batchIndices[b]));
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
    /// <param name="sampler">The order of the samples, one enumeration per epoch (PyTorch: <c>sampler</c>); excludes <paramref name="shuffle"/>.</param>
    /// <param name="batchSampler">The batches' indices, one enumeration per epoch (PyTorch: <c>batch_sampler</c>); excludes
    /// <paramref name="batchSize"/>, <paramref name="shuffle"/>, <paramref name="sampler"/> and <paramref name="dropLast"/>.</param>
    /// <exception cref="ArgumentException">Both <paramref name="sampler"/> and <paramref name="shuffle"/>, or
    /// <paramref name="batchSampler"/> with one of the options it replaces.</exception>
    public DataLoader(IDataset<Tensor[]> dataset, int batchSize = 1, bool shuffle = false, bool dropLast = false,
        int numWorkers = 0, long? seed = null, int prefetchFactor = 2, ISampler<int>? sampler = null, ISampler<int[]>? batchSampler = null)
        : base(dataset, batchSize, shuffle, dropLast, numWorkers, seed, prefetchFactor, sampler, batchSampler)
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
