namespace SharpGrad.Generator.Tests.Support;

/// <summary>
/// Compares generated text with a committed <c>Snapshots/NAME.verified.cs</c>. On a difference it writes
/// <c>NAME.received.cs</c> and fails with a line diff; with <c>SHARPGRAD_ACCEPT_SNAPSHOTS=1</c> it overwrites the
/// verified file instead.
/// </summary>
internal static class Snapshot
{
    /// <summary>The longest line generated code may have: a reviewer reads it without scrolling.</summary>
    public const int MaxLineWidth = 160;

    /// <summary>Fails when a line of generated <paramref name="text"/> is wider than <see cref="MaxLineWidth"/> characters.</summary>
    public static void AssertReadableWidth(string name, string text)
    {
        var wide = text.Split('\n').Select((line, i) => (Line: line, Number: i + 1)).Where(l => l.Line.Length > MaxLineWidth).ToList();
        Assert.True(wide.Count == 0, $"{name}: {wide.Count} line(s) over {MaxLineWidth} characters:\n"
            + string.Join("\n", wide.Take(5).Select(l => $"{l.Number} ({l.Line.Length}): {l.Line}")));
    }

    public static void Verify(string name, string actual)
    {
        var directory = Path.Combine(FindProjectDirectory(), "Snapshots");
        Directory.CreateDirectory(directory);
        var verifiedPath = Path.Combine(directory, name + ".verified.cs");
        var receivedPath = Path.Combine(directory, name + ".received.cs");
        actual = actual.Replace("\r\n", "\n");
        AssertReadableWidth(name, actual);

        if (Environment.GetEnvironmentVariable("SHARPGRAD_ACCEPT_SNAPSHOTS") == "1")
        {
            File.WriteAllText(verifiedPath, actual);
            if (File.Exists(receivedPath)) File.Delete(receivedPath);
            return;
        }

        var expected = File.Exists(verifiedPath) ? File.ReadAllText(verifiedPath).Replace("\r\n", "\n") : null;
        if (expected == actual)
        {
            if (File.Exists(receivedPath)) File.Delete(receivedPath);
            return;
        }

        File.WriteAllText(receivedPath, actual);
        var message = expected is null
            ? $"No snapshot {verifiedPath} yet. Wrote {receivedPath}; review it, then rename it or run with SHARPGRAD_ACCEPT_SNAPSHOTS=1."
            : $"Generated source differs from {verifiedPath} (wrote {receivedPath}; run with SHARPGRAD_ACCEPT_SNAPSHOTS=1 to accept):\n{Diff(expected, actual)}";
        Assert.Fail(message);
    }

    /// <summary>
    /// The test project's folder, found by walking up from the test assembly's output folder
    /// (<c>bin/Debug/net10.0</c>). Not from <c>[CallerFilePath]</c>: CI builds are deterministic
    /// (<c>ContinuousIntegrationBuild</c>), which maps source paths to <c>/_/</c>.
    /// </summary>
    private static string FindProjectDirectory()
    {
        var start = AppContext.BaseDirectory;
        for (var dir = start; dir is not null; dir = Path.GetDirectoryName(dir.TrimEnd(Path.DirectorySeparatorChar)))
        {
            if (File.Exists(Path.Combine(dir, "SharpGrad.Generator.Tests.csproj"))) return dir;
        }
        throw new InvalidOperationException($"Cannot find SharpGrad.Generator.Tests.csproj above the test output folder {start}.");
    }

    /// <summary>A minimal line diff: common prefix and suffix kept out, the differing middle shown as -/+ lines.</summary>
    internal static string Diff(string expected, string actual)
    {
        var a = expected.Split('\n');
        var b = actual.Split('\n');
        int start = 0;
        while (start < a.Length && start < b.Length && a[start] == b[start]) start++;
        int endA = a.Length - 1, endB = b.Length - 1;
        while (endA >= start && endB >= start && a[endA] == b[endB]) { endA--; endB--; }
        var lines = new List<string> { $"@@ line {start + 1} @@" };
        for (int i = Math.Max(0, start - 2); i < start; i++) lines.Add("  " + a[i]);
        for (int i = start; i <= endA; i++) lines.Add("- " + a[i]);
        for (int i = start; i <= endB; i++) lines.Add("+ " + b[i]);
        for (int i = endA + 1; i < Math.Min(a.Length, endA + 3); i++) lines.Add("  " + a[i]);
        return string.Join("\n", lines);
    }
}
