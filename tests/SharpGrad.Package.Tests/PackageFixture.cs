using System.IO.Compression;
using SharpGrad.Tests.Shared;

namespace SharpGrad.Package.Tests;

/// <summary>Packs SharpGrad, SharpGrad.Onnx and SharpGrad.Templates once per test run into a local feed, under a version
/// of this run alone (0.1.0-pkgtest.&lt;id&gt;: the NuGet cache can never hand back a stale copy), installs the templates
/// into a private template hive and scaffolds <c>dotnet new sharpgrad-console</c> outside the repository. Each stage runs
/// once, on first use, and its result is shared by the tests; everything is removed afterwards, the run's package
/// versions in the NuGet cache included.</summary>
public sealed class PackageFixture : IDisposable
{
    private readonly Lazy<string> _feed;
    private readonly Lazy<string> _app;
    private readonly Lazy<(string? Exe, string Log)> _native;

    public PackageFixture()
    {
        _feed = new(Pack);
        _app = new(Scaffold);
        _native = new(PublishNative);
    }

    public string Root { get; } = Path.Combine(Path.GetTempPath(), "sharpgrad-package-" + Guid.NewGuid().ToString("N")[..12]);

    /// <summary>This run's package version.</summary>
    public string Version { get; } = "0.1.0-pkgtest.t" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>The local feed holding this run's packages.</summary>
    public string Feed => _feed.Value;

    /// <summary>The scaffolded application's folder (with nuget.config naming the feed); tests copy it before changing it.</summary>
    public string App => _app.Value;

    /// <summary>The NativeAOT executable of the application (published once), with the publish log.</summary>
    public (string? Exe, string Log) Native => _native.Value;

    public static string RepoRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "SharpGrad.slnx"))) return dir.FullName;
            throw new InvalidOperationException($"SharpGrad.slnx not found above {AppContext.BaseDirectory}.");
        }
    }

    private string Pack()
    {
        var feed = Path.Combine(Root, "feed");
        // --artifacts-path: this build's bin/obj live under Root, never clashing with the developer's (or the running
        // `dotnet test SharpGrad.slnx`'s) builds of the same projects.
        foreach (var project in new[] { "runtime/SharpGrad.Onnx/SharpGrad.Onnx.csproj", "runtime/SharpGrad/SharpGrad.csproj", "templates/SharpGrad.Templates/SharpGrad.Templates.csproj" })
        {
            Dotnet(RepoRoot, TimeSpan.FromMinutes(10), "pack", Path.Combine(RepoRoot, project), "-c", "Release", "-o", feed,
                "--artifacts-path", Path.Combine(Root, "artifacts"), $"-p:Version={Version}", "-nologo").EnsureSuccess("dotnet pack " + project);
        }
        return feed;
    }

    private string Scaffold()
    {
        var hive = Path.Combine(Root, "template-hive");
        Dotnet(Root, TimeSpan.FromMinutes(3), "new", "install", Path.Combine(Feed, $"SharpGrad.Templates.{Version}.nupkg"), "--debug:custom-hive", hive)
            .EnsureSuccess("dotnet new install");
        var app = Path.Combine(Root, "app");
        Dotnet(Root, TimeSpan.FromMinutes(3), "new", "sharpgrad-console", "-n", "PkgApp", "-o", app, "--debug:custom-hive", hive)
            .EnsureSuccess("dotnet new sharpgrad-console");
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="sharpgrad-local" value="{Feed}" />
              </packageSources>
            </configuration>
            """);
        return app;
    }

    /// <summary>A copy of the scaffolded application (sources only) that a test may change.</summary>
    public string CopyOfApp(string name)
    {
        var target = Path.Combine(Root, name);
        foreach (var file in Directory.EnumerateFiles(App, "*", SearchOption.AllDirectories))
        {
            var rel = Path.GetRelativePath(App, file);
            if (rel.StartsWith("bin", StringComparison.Ordinal) || rel.StartsWith("obj", StringComparison.Ordinal)) continue;
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(target, rel))!);
            File.Copy(file, Path.Combine(target, rel));
        }
        return target;
    }

    private (string? Exe, string Log) PublishNative()
    {
        if (ExternalProcess.MissingNativeToolchain) return (null, ExternalProcess.NativeToolchainMessage);
        // The application as a user would extend it: it also exports its model to ONNX (SharpGrad.Onnx), so the publish
        // shows that both packages are NativeAOT-clean.
        var app = CopyOfApp("app-native");
        AddOnnxExport(app, Version);
        var outDir = Path.Combine(Root, "native");
        var r = Dotnet(app, TimeSpan.FromMinutes(15), "publish", "-c", "Release", "-r", "linux-x64", "-o", outDir, "-nologo");
        var log = $"dotnet publish exited with {r.Code}:\n{r.Stdout}\n{r.Stderr}";
        var exe = Path.Combine(outDir, "PkgApp");
        return r.Code == 0 && File.Exists(exe) ? (exe, log) : (null, log);
    }

    /// <summary>Adds SharpGrad.Onnx to the application, and to Program.cs the export of the trained model to model.onnx after
    /// saving it. No export code is written: the generator in the SharpGrad package writes the model's export at build time
    /// because the project now references SharpGrad.Onnx (docs/onnx.md).</summary>
    public static void AddOnnxExport(string app, string version)
    {
        var csproj = Path.Combine(app, "PkgApp.csproj");
        File.WriteAllText(csproj, File.ReadAllText(csproj).Replace(
            "<PackageReference Include=\"SharpGrad\"", $"<PackageReference Include=\"SharpGrad.Onnx\" Version=\"{version}\" />\n    <PackageReference Include=\"SharpGrad\"", StringComparison.Ordinal));
        var program = Path.Combine(app, "Program.cs");
        const string save = "model.Save(\"model.safetensors\");";
        var text = File.ReadAllText(program);
        Assert.Contains(save, text);
        File.WriteAllText(program, text.Replace(save, save + "\nSharpGrad.Onnx.OnnxExporter.Export(model, \"model.onnx\");\nConsole.WriteLine(\"exported model.onnx\");", StringComparison.Ordinal));
    }

    /// <summary>Runs <c>dotnet</c> in <paramref name="workingDirectory"/>, without build servers (none outlives the command
    /// holding our pipes).</summary>
    public static ProcessResult Dotnet(string workingDirectory, TimeSpan timeout, params string[] args)
    {
        var all = args.ToList();
        if (args[0] is "build" or "publish" or "pack" or "run") all.Insert(1, "--disable-build-servers");
        return Run(ExternalProcess.Dotnet, workingDirectory, all, timeout);
    }

    public static ProcessResult Run(string file, string workingDirectory, IReadOnlyList<string> args, TimeSpan timeout)
    {
        var (code, stdout, stderr) = ExternalProcess.Run(file, args, timeout, workingDirectory);
        return new ProcessResult(code, stdout, stderr, $"{Path.GetFileName(file)} {string.Join(' ', args)}");
    }

    /// <summary>The .nupkg of <paramref name="id"/> in the feed, opened.</summary>
    public ZipArchive OpenPackage(string id, string extension = "nupkg") => ZipFile.OpenRead(Path.Combine(Feed, $"{id}.{Version}.{extension}"));

    public void Dispose()
    {
        try
        {
            if (Directory.Exists(Root)) Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
        // This run's versions in the global packages folder: unique to the run, so nothing else uses them.
        var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } p
            ? p : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        foreach (var id in new[] { "sharpgrad", "sharpgrad.onnx" })
        {
            var dir = Path.Combine(cache, id, Version);
            try
            {
                if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}

public sealed record ProcessResult(int Code, string Stdout, string Stderr, string Command)
{
    public string Output => Stdout + Stderr;

    public ProcessResult EnsureSuccess(string what)
    {
        Assert.True(Code == 0, $"{what} failed (exit code {Code}): {Command}\n{Stdout}\n{Stderr}");
        return this;
    }
}
