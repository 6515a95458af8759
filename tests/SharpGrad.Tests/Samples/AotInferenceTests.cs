extern alias aotinference;

using System.Diagnostics;
using System.Text;
using SharpGrad.Data;
using SharpGrad.Tests.Shared;
using AotProgram = aotinference::SharpGrad.Samples.AotInference.Program;

namespace SharpGrad.Tests.Samples;

/// <summary>Publishes samples/AotInference once with NativeAOT (into a temporary folder, with its own artifacts) and
/// shares the result between the tests of <see cref="AotInferenceTests"/>.</summary>
public sealed class AotPublishFixture : IDisposable
{
    public string Root { get; } = Path.Combine(Path.GetTempPath(), "sharpgrad-aot-" + Guid.NewGuid().ToString("N"));
    private readonly Lazy<(string? Exe, string Log)> _publish;

    public AotPublishFixture() => _publish = new(Publish);

    /// <summary>The native executable; fails the calling test (with the publish log) if the publish failed.</summary>
    public string Executable
    {
        get
        {
            ExternalProcess.SkipWithoutNativeToolchainOutsideCi();
            var (exe, log) = _publish.Value;
            if (exe is null) Assert.Fail(log);
            return exe!;
        }
    }

    public string PublishLog => _publish.Value.Log;

    private (string? Exe, string Log) Publish()
    {
        if (ExternalProcess.MissingNativeToolchain) return (null, ExternalProcess.NativeToolchainMessage);
        var project = Path.Combine(AotInferenceTests.RepoRoot, "samples", "AotInference", "AotInference.csproj");
        var outDir = Path.Combine(Root, "publish");
        // --artifacts-path keeps every bin/obj of this build out of the repository (no clash with the developer's builds);
        // --disable-build-servers so that no MSBuild/compiler server outlives the command holding our output pipes.
        var (code, stdout, stderr) = ExternalProcess.Run(ExternalProcess.Dotnet,
            ["publish", project, "-c", "Release", "-r", "linux-x64", "-p:PublishAot=true", "-o", outDir,
             "--artifacts-path", Path.Combine(Root, "artifacts"), "--disable-build-servers", "-nologo"],
            TimeSpan.FromMinutes(15));
        var log = $"dotnet publish exited with {code}:\n{stdout}\n{stderr}";
        var exe = Path.Combine(outDir, "AotInference");
        return code == 0 && File.Exists(exe) ? (exe, log) : (null, log);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>samples/AotInference: the NativeAOT executable gives the same predictions as the JIT build (the same code run
/// in-process), bad arguments give one line and exit code 2, and the publish is warning-free.</summary>
public class AotInferenceTests(AotPublishFixture aot) : IClassFixture<AotPublishFixture>
{
    private static readonly string DataDir = Path.Combine(AppContext.BaseDirectory, "Data", "Files");
    private static readonly string Images = Path.Combine(DataDir, "mnist10k-images-idx3-ubyte.gz");
    private static readonly string Labels = Path.Combine(DataDir, "mnist10k-labels-idx1-ubyte.gz");

    [SkippableFact]
    public void NativeExecutableGivesTheJitBuildsPredictionsOnTheFirst200Images()
    {
        var native = RunNative(Images, "0", "200");
        Assert.True(native.Code == 0, $"native exit code {native.Code}, stderr: {native.Stderr}");
        Assert.Equal("", native.Stderr);
        var jit = RunJit(Images, "0", "200");
        Assert.Equal(0, jit.Code);

        var nativeLines = Lines(native.Stdout);
        var jitLines = Lines(jit.Stdout);
        Assert.Equal(200, nativeLines.Length);
        Assert.Equal(jitLines, nativeLines);

        // The predictions are a trained model's, not noise both builds agree on: compare with the labels.
        var labels = Idx.Read(Labels).ToLongArray();
        int correct = 0;
        for (int i = 0; i < 200; i++)
        {
            var parts = nativeLines[i].Split(' ');
            Assert.Equal(2, parts.Length);
            Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), parts[0]);
            if (long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) == labels[i]) correct++;
        }
        Assert.True(correct >= 180, $"only {correct}/200 predictions match the labels: are the shipped weights loaded?");
    }

    [SkippableFact]
    public void StartAndCountSelectImagesAndUncompressedIdxAndPgmFilesWork()
    {
        var dir = Directory.CreateDirectory(Path.Combine(aot.Root, "inputs-" + Guid.NewGuid().ToString("N"))).FullName;
        var raw = Path.Combine(dir, "images-idx3-ubyte");
        using (var gz = new System.IO.Compression.GZipStream(File.OpenRead(Images), System.IO.Compression.CompressionMode.Decompress))
        using (var f = File.Create(raw)) gz.CopyTo(f);

        var all = Lines(RunJit(Images, "9990").Stdout);
        Assert.Equal(10, all.Length);
        Assert.StartsWith("9990 ", all[0]);
        Assert.StartsWith("9999 ", all[^1]);
        Assert.Equal(all[3..5], Lines(RunNative(raw, "9993", "2").Stdout));   // uncompressed IDX, native
        Assert.Equal(all[3..5], Lines(RunJit(raw, "9993", "2").Stdout));

        // Image 9995 written as P5 and as P2 PGM files: same digit as from the IDX file.
        var pixels = Idx.Read(Images).Select(0, 9995).ToByteArray();
        var p5 = Path.Combine(dir, "digit.pgm");
        File.WriteAllBytes(p5, [.. Encoding.ASCII.GetBytes("P5\n# image 9995\n28 28\n255\n"), .. pixels]);
        var p2 = Path.Combine(dir, "digit-ascii.pgm");
        File.WriteAllText(p2, "P2\n28 28\n255\n" + string.Join("\n", pixels.Chunk(28).Select(row => string.Join(" ", row))) + "\n");
        string digit = all[5].Split(' ')[1];
        foreach (var pgm in new[] { p5, p2 })
        {
            Assert.Equal(["0 " + digit], Lines(RunNative(pgm).Stdout));
            Assert.Equal(["0 " + digit], Lines(RunJit(pgm).Stdout));
        }
    }

    public static TheoryData<string, string[]> BadArguments()
    {
        var missing = Path.Combine(Path.GetTempPath(), "sharpgrad-no-such-file-" + Guid.NewGuid().ToString("N") + ".gz");
        return new()
        {
            { "usage", [] },
            { "usage", [Images, "0", "1", "extra"] },
            { "not found", [missing] },
            { "non-negative integer", [Images, "x"] },
            { "non-negative integer", [Images, "-1"] },
            { "out of range", [Images, "10000"] },
            { "exceeds", [Images, "9999", "2"] },
            { "at least 1", [Images, "0", "0"] },
            { "[N, 28, 28]", [Labels] },                                           // an IDX file, but labels
            { "bad magic", [Path.Combine(AppContext.BaseDirectory, "Data", "Files", "iris.csv")] },
            { "directory", [AppContext.BaseDirectory] },
            { "29x28", ["@pgm P5 29 28 255\n"] },                                   // written by the test, see Materialize
            { "truncated", ["@pgm-header-only P5\n28 28\n255\n"] },
            { "maxval", ["@pgm P2\n28 28\n0\n"] },
        };
    }

    [SkippableTheory]
    [MemberData(nameof(BadArguments))]
    public void BadArgumentsAndFilesGiveOneLineAndExitCode2(string expected, string[] args)
    {
        args = Materialize(args);
        foreach (var (name, (code, stdout, stderr)) in new[] { ("native", RunNative(args)), ("JIT", RunJit(args)) })
        {
            Assert.True(code == 2, $"{name}: exit code {code}, stderr: {stderr}");
            Assert.Equal("", stdout);
            var lines = Lines(stderr);
            Assert.True(lines.Length == 1, $"{name}: expected one line on stderr, got:\n{stderr}");
            Assert.StartsWith("AotInference: ", lines[0]);
            Assert.Contains(expected, lines[0]);
        }
    }

    [SkippableFact]
    public void PublishIsWarningFreeAndTheExecutableIsSmall()
    {
        _ = aot.Executable;
        Assert.DoesNotContain("warning", aot.PublishLog, StringComparison.OrdinalIgnoreCase);
        long size = new FileInfo(aot.Executable).Length;
        Assert.True(size <= 5 * 1024 * 1024, $"the native executable is {size} bytes, over 5 MB");
        Assert.True(File.Exists(Path.Combine(Path.GetDirectoryName(aot.Executable)!, AotProgram.WeightsFile)), "the weights are published next to the executable");
    }

    // ---------------- helpers ----------------

    /// <summary>"@pgm HEADER" arguments become a PGM file with that header and 29x28 zero pixels; "@pgm-header-only HEADER"
    /// a file with the header alone.</summary>
    private string[] Materialize(string[] args) => args.Select(a =>
    {
        if (!a.StartsWith("@pgm", StringComparison.Ordinal)) return a;
        Directory.CreateDirectory(aot.Root);
        var path = Path.Combine(aot.Root, Guid.NewGuid().ToString("N") + ".pgm");
        bool headerOnly = a.StartsWith("@pgm-header-only ", StringComparison.Ordinal);
        var header = Encoding.ASCII.GetBytes(a[(a.IndexOf(' ', StringComparison.Ordinal) + 1)..]);
        File.WriteAllBytes(path, headerOnly ? header : [.. header, .. new byte[29 * 28]]);
        return path;
    }).ToArray();

    private (int Code, string Stdout, string Stderr) RunNative(params string[] args) =>
        ExternalProcess.Run(aot.Executable, args, TimeSpan.FromMinutes(1));

    private static (int Code, string Stdout, string Stderr) RunJit(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = AotProgram.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();

    internal static string RepoRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "SharpGrad.slnx"))) return dir.FullName;
            }
            throw new InvalidOperationException($"SharpGrad.slnx not found above {AppContext.BaseDirectory}.");
        }
    }
}
