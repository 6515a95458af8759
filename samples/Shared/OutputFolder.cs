namespace SharpGrad.Samples.Shared;

/// <summary>The folder a sample writes its results to.</summary>
public static class OutputFolder
{
    /// <summary>Creates <paramref name="dir"/> if needed and checks that a file can be written in it — before training, so
    /// that a bad <c>--out</c> fails at once rather than after the run.</summary>
    /// <exception cref="IOException">The folder can't be created or written to (the message names it and why).</exception>
    public static void EnsureWritable(string dir)
    {
        try
        {
            Directory.CreateDirectory(dir);
            var probe = Path.Combine(dir, ".sharpgrad-write-test-" + Environment.ProcessId);
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new IOException($"can't write the results to --out '{dir}': {e.Message} Choose a folder you can write to.", e);
        }
    }
}
