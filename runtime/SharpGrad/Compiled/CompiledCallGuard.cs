using System.ComponentModel;

namespace SharpGrad;

/// <summary>
/// Refuses concurrent (and re-entrant) use of one compiled program. A generated <c>Compiled</c> class reuses its buffers from
/// call to call (that is how it allocates nothing in the steady state), so two calls running at once would overwrite each
/// other's intermediate values and return wrong answers; with this guard the second call throws an
/// <see cref="InvalidOperationException"/> that names the fix instead. Generated code holds one guard per program and
/// enters it for the whole of every public method and of every tape backward (both use the buffers):
/// <code>
/// private readonly global::SharpGrad.CompiledCallGuard _guard = new("Net.Compiled");
/// public Tensor Forward(Tensor x)
/// {
///     using var call = _guard.Enter("Forward");
///     …
/// }
/// </code>
/// Entering and leaving is one interlocked exchange each and allocates nothing. See docs/threading.md.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class CompiledCallGuard
{
    private readonly string _program;
    private int _ownerThread; // the managed thread id of the call in progress, 0 when none

    /// <summary>A guard for the program named <paramref name="program"/> (e.g. "Net.Compiled"), named in its errors.</summary>
    public CompiledCallGuard(string program)
    {
        ArgumentException.ThrowIfNullOrEmpty(program);
        _program = program;
    }

    /// <summary>True while a call is in progress.</summary>
    public bool IsBusy => Volatile.Read(ref _ownerThread) != 0;

    /// <summary>
    /// Marks the start of a call of <paramref name="method"/>; dispose the returned scope when the call ends (with
    /// <c>using</c>, so an exception ends it too).
    /// </summary>
    /// <exception cref="InvalidOperationException">Another call of this program is in progress, on another thread or (from a
    /// hook) on this one.</exception>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public Scope Enter(string method)
    {
        int me = Environment.CurrentManagedThreadId;
        int owner = Interlocked.CompareExchange(ref _ownerThread, me, 0);
        if (owner != 0) throw Busy(method, sameThread: owner == me);
        return new Scope(this);
    }

    private InvalidOperationException Busy(string method, bool sameThread) => new(sameThread
        ? $"{_program}.{method} was called while a call of the same compiled program was still running on this thread (from a hook?). " +
          "A compiled program reuses its buffers from call to call, so calls can't nest: call the eager model from the hook, or use a second Compile()."
        : $"{_program}.{method} was called from two threads at once. A compiled program reuses its buffers from call to call, so one instance " +
          "must not be shared between threads: call model.Compile() once per thread (it shares the parameters, nothing is copied), e.g. " +
          "new ThreadLocal<…Compiled>(() => model.Compile()), or keep a pool of them. The eager model may be shared for inference (docs/threading.md).");

    private void Exit() => Volatile.Write(ref _ownerThread, 0);

    /// <summary>The scope of one call; disposing it ends the call.</summary>
    public readonly struct Scope : IDisposable
    {
        private readonly CompiledCallGuard? _guard;

        internal Scope(CompiledCallGuard guard) => _guard = guard;

        /// <summary>Ends the call.</summary>
        public void Dispose() => _guard?.Exit();
    }
}
