using System.Buffers;

namespace SharpGrad.Kernels;

/// <summary>
/// The pool the kernels rent their scratch buffers from (im2col columns, GEMM packs). A pool of its own
/// (<see cref="ArrayPool{T}.Create(int, int)"/>, one lock per size) rather than <see cref="ArrayPool{T}.Shared"/>: the
/// shared pool's per-core stacks call <c>Thread.GetCurrentProcessorId</c>, whose first use calibrates itself
/// (<c>ProcessorIdCache</c>, ~0.4 ms) — a visible part of a NativeAOT program's start-up, for no gain on buffers this large.
/// </summary>
internal static class Scratch<T>
{
    /// <summary>Buffers up to 2^27 elements are pooled (a few per size); larger ones are allocated and dropped.</summary>
    public static readonly ArrayPool<T> Pool = ArrayPool<T>.Create(maxArrayLength: 1 << 27, maxArraysPerBucket: 16);
}
