using System.Globalization;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using SharpGrad.Tests.Shared;

namespace SharpGrad.Package.Tests;

/// <summary>What a user gets from <c>dotnet add package SharpGrad</c> and <c>dotnet new sharpgrad-console</c>, tried as a
/// user would, on this run's packages.</summary>
public class PackageTests(PackageFixture pkg) : IClassFixture<PackageFixture>
{
    [Fact]
    public void TheSharpGradPackageHoldsTheRuntimeTheGeneratorTheAnalyzersItsReadmeAndLicence()
    {
        using var nupkg = pkg.OpenPackage("SharpGrad");
        var files = nupkg.Entries.Select(e => e.FullName).ToHashSet();
        Assert.Contains("lib/net10.0/SharpGrad.dll", files);
        Assert.Contains("lib/net10.0/SharpGrad.xml", files);
        Assert.Contains("analyzers/dotnet/cs/SharpGrad.Generator.dll", files);
        Assert.Contains("analyzers/dotnet/cs/SharpGrad.Analyzers.dll", files);
        Assert.Contains("analyzers/dotnet/cs/SharpGrad.CodeFixes.dll", files);
        Assert.Contains("build/SharpGrad.props", files);
        Assert.Contains("buildTransitive/SharpGrad.props", files);
        Assert.Contains("README.md", files);
        // Every SG1xxx/SG2xxx message ends with its docs page (no help link): the pages ship in the package.
        Assert.Contains("docs/diagnostics/SG2005.md", files);
        Assert.Contains("docs/diagnostics/README.md", files);
        // The Roslyn components are only in analyzers/, never referenced by the user's program.
        Assert.DoesNotContain(files, f => f.StartsWith("lib/", StringComparison.Ordinal) && f.Contains("Generator", StringComparison.Ordinal));

        var meta = Nuspec(nupkg);
        Assert.Equal("SharpGrad", meta.Get("id"));
        Assert.Equal(pkg.Version, meta.Get("version"));
        Assert.Equal("MIT", meta.Get("license"));
        Assert.Equal("README.md", meta.Get("readme"));
        Assert.False(string.IsNullOrWhiteSpace(meta.Get("description")));
        Assert.False(string.IsNullOrWhiteSpace(meta.Get("authors")));
        Assert.Contains("pytorch", meta.Get("tags"));
        // No invented URL: the repository element carries the commit, and no url while the project is not hosted.
        Assert.Null(meta.Get("projectUrl"));
        Assert.Matches("^[0-9a-f]{40}$", meta.Child("repository")?.Attribute("commit")?.Value ?? "");

        using var snupkg = pkg.OpenPackage("SharpGrad", "snupkg");
        Assert.Contains("lib/net10.0/SharpGrad.pdb", snupkg.Entries.Select(e => e.FullName));
    }

    [Fact]
    public void OnlyTheLibrariesAndTheTemplatesArePackages()
    {
        var packages = Directory.GetFiles(pkg.Feed, "*.nupkg").Select(f => Path.GetFileName(f)!).Order().ToArray();
        Assert.Equal([$"SharpGrad.{pkg.Version}.nupkg", $"SharpGrad.Onnx.{pkg.Version}.nupkg", $"SharpGrad.Templates.{pkg.Version}.nupkg"], packages);
        // The generator and analyzer projects say they are not packable: packing them gives no package.
        var r = PackageFixture.Dotnet(PackageFixture.RepoRoot, TimeSpan.FromMinutes(5), "pack", Path.Combine(PackageFixture.RepoRoot, "generator", "SharpGrad.Generator", "SharpGrad.Generator.csproj"),
            "-c", "Release", "-o", Path.Combine(pkg.Root, "generator-feed"), "--artifacts-path", Path.Combine(pkg.Root, "artifacts"), "-nologo");
        Assert.Equal(0, r.Code);
        Assert.False(Directory.Exists(Path.Combine(pkg.Root, "generator-feed")) && Directory.EnumerateFiles(Path.Combine(pkg.Root, "generator-feed")).Any(),
            "the generator project must not produce a package");

        using var onnx = pkg.OpenPackage("SharpGrad.Onnx");
        var meta = Nuspec(onnx);
        Assert.Equal("MIT", meta.Get("license"));
        var deps = meta.Descendants().Where(e => e.Name.LocalName == "dependency").ToDictionary(e => e.Attribute("id")!.Value, e => e.Attribute("version")!.Value);
        Assert.Equal(pkg.Version, deps["SharpGrad"]);
        Assert.True(deps.ContainsKey("Google.Protobuf"));
        Assert.False(deps.ContainsKey("Grpc.Tools"), "protoc is a build-time tool of SharpGrad.Onnx, not a dependency of its users");

        using var templates = pkg.OpenPackage("SharpGrad.Templates");
        Assert.Contains("content/sharpgrad-console/.template.config/template.json", templates.Entries.Select(e => e.FullName));
        Assert.Equal("Template", Nuspec(templates).Descendants().Single(e => e.Name.LocalName == "packageType").Attribute("name")!.Value);
    }

    [Fact]
    public void TheTemplateProjectReferencesThePackageByVersionBuildsWithAnAnalyzerWarningAndTrains()
    {
        var csproj = File.ReadAllText(Path.Combine(pkg.App, "PkgApp.csproj"));
        Assert.Contains($"<PackageReference Include=\"SharpGrad\" Version=\"{pkg.Version}\" />", csproj);

        var app = pkg.CopyOfApp("app-warning");
        // A user's autograd mistake: View of a transposed tensor of known shape (SG2005, docs/diagnostics/SG2005.md).
        File.WriteAllText(Path.Combine(app, "Misuse.cs"), """
            using SharpGrad;

            namespace PkgApp;

            public static class Misuse
            {
                public static Tensor Flattened()
                {
                    var images = Tensor.Randn(2, 3, 4);
                    return images.Transpose(1, 2).View(-1);
                }
            }
            """);
        var build = PackageFixture.Dotnet(app, TimeSpan.FromMinutes(10), "build", "-nologo").EnsureSuccess("dotnet build of the template project");
        Assert.Matches(@"Misuse\.cs\(\d+,\d+\): warning SG2005: .*\(docs/diagnostics/SG2005\.md\)", build.Output);
        Assert.DoesNotContain("https://", build.Output.Split('\n').First(l => l.Contains("warning SG2005", StringComparison.Ordinal)));
        Assert.DoesNotContain(": error", build.Output);

        var run = PackageFixture.Dotnet(app, TimeSpan.FromMinutes(5), "run", "--no-build").EnsureSuccess("dotnet run");
        AssertTrained(run.Stdout, "the JIT run");
        Assert.True(File.Exists(Path.Combine(app, "model.safetensors")));
    }

    [Fact]
    public void AShapeMismatchInAModuleIsABuildErrorAtTheCall()
    {
        var app = pkg.CopyOfApp("app-error");
        File.WriteAllText(Path.Combine(app, "Broken.cs"), """
            using SharpGrad;
            using SharpGrad.Layers;

            namespace PkgApp;

            [Module]
            public sealed partial class Broken
            {
                private readonly Linear fc1 = new(2, 16);
                private readonly Linear fc2 = new(32, 2);

                public Tensor Forward([Shape("N", 2)] Tensor x) => fc2.Forward(fc1.Forward(x));
            }
            """);
        var build = PackageFixture.Dotnet(app, TimeSpan.FromMinutes(10), "build", "-nologo");
        Assert.NotEqual(0, build.Code);
        Assert.Matches(@"Broken\.cs\(12,\d+\): error SG1010", build.Output);
    }

    [SkippableFact]
    public void TheAppPublishesWithNativeAotWithoutWarningsRunsAndExportsOnnx()
    {
        ExternalProcess.SkipWithoutNativeToolchainOutsideCi();
        var (exe, log) = pkg.Native;
        Assert.True(exe is not null, log);
        Assert.DoesNotMatch(new Regex("warning", RegexOptions.IgnoreCase), log);
        long size = new FileInfo(exe!).Length;
        Assert.True(size < 8 * 1024 * 1024, $"the native executable is {size} bytes");

        var dir = Directory.CreateDirectory(Path.Combine(pkg.Root, "native-run")).FullName;
        var run = PackageFixture.Run(exe!, dir, [], TimeSpan.FromMinutes(5)).EnsureSuccess("the native executable");
        AssertTrained(run.Stdout, "the native run");
        Assert.Contains("exported model.onnx", run.Stdout);
        var onnx = File.ReadAllBytes(Path.Combine(dir, "model.onnx"));
        var text = System.Text.Encoding.ASCII.GetString(onnx);
        // The graph the generator wrote for the template's Classifier (no export code in the app): its layers' state-dict
        // names, Gemm and Relu nodes, the input named after Forward's parameter with the dynamic batch axis.
        var sources = Directory.EnumerateFiles(Path.Combine(pkg.Root, "app-native"), "*.cs", SearchOption.AllDirectories).ToList();
        Assert.Contains(sources, f => File.ReadAllText(f).Contains("OnnxExporter.Export(model", StringComparison.Ordinal));
        Assert.DoesNotContain(sources, f => File.ReadAllText(f).Contains("BuildOnnxGraph", StringComparison.Ordinal));
        foreach (var name in new[] { "SharpGrad", "fc1.weight", "fc3.bias", "Gemm", "Relu", "batch", "output" })
            Assert.Contains(name, text);
    }

    /// <summary>The template's output: the loss falls, and the two spirals are told apart.</summary>
    private static void AssertTrained(string stdout, string what)
    {
        var losses = Regex.Matches(stdout, @"loss (\d+\.\d+)").Select(m => double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToArray();
        Assert.True(losses.Length >= 2, $"{what} printed no loss:\n{stdout}");
        Assert.True(losses[^1] < losses[0] / 4, $"{what}: the loss should fall well below its first value: {string.Join(", ", losses)}");
        var acc = Regex.Match(stdout, @"test accuracy: (\d+\.\d+)");
        Assert.True(acc.Success, $"{what} printed no accuracy:\n{stdout}");
        Assert.True(double.Parse(acc.Groups[1].Value, CultureInfo.InvariantCulture) >= 0.9, $"{what}: {acc.Value}");
    }

    private static XElement Nuspec(System.IO.Compression.ZipArchive package)
    {
        var entry = package.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal));
        using var s = entry.Open();
        return XDocument.Load(s).Root!.Elements().Single(e => e.Name.LocalName == "metadata");
    }
}

internal static class NuspecExtensions
{
    public static string? Get(this XElement metadata, string name) =>
        metadata.Elements().FirstOrDefault(e => e.Name.LocalName == name)?.Value;

    public static XElement? Child(this XElement metadata, string name) =>
        metadata.Elements().FirstOrDefault(e => e.Name.LocalName == name);
}
