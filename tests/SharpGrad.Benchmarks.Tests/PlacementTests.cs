namespace SharpGrad.Benchmarks.Tests;

/// <summary>
/// compare's placement paragraph: a multi-threaded process whose probe before or after it was at least
/// <see cref="Placement.FarFactor"/> × the run's fastest round trip is named as far; 1-thread processes never are.
/// </summary>
public sealed class PlacementTests
{
    [Fact]
    public void AMultiThreadedProcessThatStartedOrEndedFarIsNamed()
    {
        // Fastest 54 ns → far from 108 ns. TorchSharp 2t ended at 218 (far); SharpGrad 2t stayed at 72; the 1-thread
        // TorchSharp process started at 216 but a 1-thread figure does not depend on the placement.
        var summary = Compare.PlacementSummary(
        [
            new("TorchSharp", 2, 54, 218),
            new("SharpGrad", 2, 72, 72),
            new("TorchSharp", 1, 216, 74),
            new("SharpGrad", 1, 72, 74),
        ]);
        Assert.Contains("far = ≥ 108 ns", summary, StringComparison.Ordinal);
        Assert.Contains("Far at the start or end: TorchSharp 2t —", summary, StringComparison.Ordinal);
        Assert.DoesNotContain("SharpGrad 2t —", summary, StringComparison.Ordinal);
        Assert.DoesNotContain("TorchSharp 1t —", summary, StringComparison.Ordinal);
        Assert.DoesNotContain("Every multi-threaded process", summary, StringComparison.Ordinal);
    }

    [Fact]
    public void JustBelowTheFactorIsNearAndTheSpreadIsReported()
    {
        // 107 < 2 × 54: every 2-thread process counts as near; the paragraph gives the run's range.
        var summary = Compare.PlacementSummary(
        [
            new("TorchSharp", 2, 54, 107),
            new("SharpGrad", 2, 60, 61),
            new("SharpGrad", 1, 58, 59),
        ]);
        Assert.Contains("Every multi-threaded process started and ended within 2× of the run's fastest round trip (54–107 ns)", summary, StringComparison.Ordinal);
        Assert.DoesNotContain("Far at the start or end", summary, StringComparison.Ordinal);
    }

    [Fact]
    public void WithoutMultiThreadedProbesThereIsNoParagraph()
    {
        Assert.Equal("", Compare.PlacementSummary([new("SharpGrad", 1, 60, 61), new("SharpGrad", 2, double.NaN, double.NaN)]));
    }

    [Fact]
    public void TheProbeMeasuresARoundTripBetweenTwoThreads()
    {
        double ns = Placement.RoundTripNs(batches: 5, roundTrips: 20);
        if (Environment.ProcessorCount < 2)
        {
            Assert.True(double.IsNaN(ns), $"one core: the probe should say n/a (NaN), got {ns}");
            return;
        }
        // A round trip is two cache-line transfers: more than nothing, and finite (the partner thread answered).
        Assert.True(ns > 0 && double.IsFinite(ns), $"round trip {ns} ns");
    }
}
