using System.Text.RegularExpressions;
using SharpGrad.Generator.Tests.Support;

namespace SharpGrad.Generator.Tests.Docs;

/// <summary>
/// docs/compiler-walkthrough.md quotes the file the generator emits for <see cref="CompilerSources.Mlp"/>. Every
/// ```csharp block there must be, line for line (indentation aside), a run of consecutive lines of that generated file —
/// or of the model's source — so the walkthrough fails here instead of silently describing code the generator no longer
/// writes. When the emitter changes, re-quote the sections from the new snapshot.
/// </summary>
public partial class WalkthroughTests
{
    [GeneratedRegex(@"^```csharp[ \t]*\r?\n(.*?)^```[ \t]*$", RegexOptions.Singleline | RegexOptions.Multiline)]
    private static partial Regex CodeBlock();

    private static string[] Lines(string text) => text.Replace("\r\n", "\n").Split('\n').Select(l => l.Trim()).ToArray();

    private static bool ContainsRun(string[] haystack, string[] needle)
    {
        for (int start = 0; start + needle.Length <= haystack.Length; start++)
        {
            int k = 0;
            while (k < needle.Length && haystack[start + k] == needle[k]) k++;
            if (k == needle.Length) return true;
        }
        return false;
    }

    private static string Walkthrough()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var path = Path.Combine(dir.FullName, "docs", "compiler-walkthrough.md");
            if (File.Exists(Path.Combine(dir.FullName, "SharpGrad.slnx")) && File.Exists(path)) return File.ReadAllText(path);
        }
        throw new InvalidOperationException("docs/compiler-walkthrough.md not found above " + AppContext.BaseDirectory);
    }

    [Fact]
    public void EveryQuotedBlockIsInTheGeneratedFileOrTheModel()
    {
        var (result, _) = GeneratorHarness.Run(CompilerSources.Mlp);
        var generated = Lines(result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.Mlp.Compiled.g.cs").SourceText.ToString());
        var model = Lines(CompilerSources.Mlp);
        var blocks = CodeBlock().Matches(Walkthrough()).Select(m => Lines(m.Groups[1].Value.TrimEnd())).ToList();
        Assert.True(blocks.Count >= 10, $"expected the walkthrough to quote the generated file section by section, found {blocks.Count} blocks");
        foreach (var block in blocks)
        {
            Assert.True(ContainsRun(generated, block) || ContainsRun(model, block),
                "docs/compiler-walkthrough.md quotes code that the generator does not emit for CompilerSources.Mlp (re-quote it from " +
                "Snapshots/Compiler.Demo.Compiled.Mlp.Compiled.verified.cs):\n" + string.Join("\n", block));
        }
    }
}
