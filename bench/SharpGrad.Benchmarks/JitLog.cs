using System.Diagnostics.Tracing;
using System.Globalization;

namespace SharpGrad.Benchmarks;

/// <summary>
/// `mnist-split --jit-log`: the runtime's JIT events (MethodJittingStarted → MethodLoadVerbose on the same thread) while the
/// epochs run, so that each method compiled in the timed loop is listed with its compile time and the thread that paid it.
/// Diagnostics only (an in-process EventListener; its own dispatch adds work on other threads). The times are wall time
/// between the two events: under load they include the thread's waits for a vCPU.
/// </summary>
internal sealed class JitLog : EventListener
{
    private readonly Dictionary<(long Thread, long Method), (DateTime Start, string Name)> _started = [];
    private readonly List<(DateTime Start, double Ms, long Thread, string Name, string Tier)> _done = [];
    private readonly object _gate = new();
    private volatile bool _on;

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime") EnableEvents(source, EventLevel.Verbose, (EventKeywords)0x10);
    }

    private DateTime _mark = DateTime.MaxValue;

    public void Start() => _on = true;

    /// <summary>The end of the first epoch: the compiles before it are summed apart.</summary>
    public void Mark() => _mark = DateTime.UtcNow;

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (!_on || e.Payload is null || e.PayloadNames is null) return;
        object? Get(string name) { int i = e.PayloadNames.IndexOf(name); return i < 0 ? null : e.Payload[i]; }
        long method = Convert.ToInt64(Get("MethodID") ?? 0L, CultureInfo.InvariantCulture);
        string name = $"{Get("MethodNamespace")}::{Get("MethodName")}";
        lock (_gate)
        {
            if (e.EventName is "MethodJittingStarted_V1" or "MethodJittingStarted")
                _started[(e.OSThreadId, method)] = (e.TimeStamp, name);
            else if (e.EventName is "MethodLoadVerbose_V1" or "MethodLoadVerbose_V2" or "MethodLoadVerbose"
                && _started.Remove((e.OSThreadId, method), out var s))
            {
                int flags = Convert.ToInt32(Get("MethodFlags") ?? 0, CultureInfo.InvariantCulture);
                // MethodFlags bits 7–9: the optimisation tier (1 min opts / tier 0, 2 full opts, 3 tier 1, 4 OSR, 5 tier 1 instrumented, ...)
                int tier = (flags >> 7) & 7;
                _done.Add((s.Start, (e.TimeStamp - s.Start).TotalMilliseconds, e.OSThreadId, s.Name, tier.ToString(CultureInfo.InvariantCulture)));
            }
        }
    }

    /// <summary>Prints the totals per thread before and after <see cref="Mark"/>, then the first epoch's compiles in order.</summary>
    public void Print(long mainThread)
    {
        Thread.Sleep(500);   // the listener's dispatch runs behind
        lock (_gate)
        {
            foreach (var g in _done.GroupBy(d => (d.Thread == mainThread, d.Start.ToUniversalTime() < _mark)))
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  JIT on {(g.Key.Item1 ? "the training thread" : "other threads")} {(g.Key.Item2 ? "in the first epoch" : "later")}: {g.Sum(d => d.Ms):F1} ms in {g.Count()} compiles"));
            foreach (var d in _done.Where(d => d.Start.ToUniversalTime() < _mark).OrderBy(d => d.Start))
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"    {d.Ms,7:F2} ms tier {d.Tier} {(d.Thread == mainThread ? "main " : "other")} {d.Name}"));
        }
    }
}
