using System.Text.RegularExpressions;

namespace SharpGrad.Tests.Docs;

/// <summary>
/// Keeps the guides honest: every ```csharp block of docs/getting-started.md and docs/pytorch-guide.md must be, line for
/// line (after removing the common indentation), one <c>#region doc:NAME</c> block of DocModels.cs, DocSnippets.cs or Zoo/ZooModels.cs (the gallery) —
/// code that compiles with the test project and runs in a test that asserts what the guide says it does. Edit a snippet in
/// the test file first, then paste it into the guide.
/// </summary>
public partial class DocSnippetTests
{
    private static readonly string[] GuideFiles = ["getting-started.md", "pytorch-guide.md"];

    public static readonly TheoryData<string> Guides = new(GuideFiles);

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "SharpGrad.slnx"))) return dir.FullName;
        throw new InvalidOperationException($"SharpGrad.slnx not found above {AppContext.BaseDirectory}.");
    }

    [GeneratedRegex(@"^```csharp[ \t]*\r?\n(.*?)^```[ \t]*$", RegexOptions.Singleline | RegexOptions.Multiline)]
    private static partial Regex CodeBlock();

    [GeneratedRegex(@"^[ \t]*#region doc:(?<name>[\w-]+)[ \t]*\r?\n(?<body>.*?)^[ \t]*#endregion", RegexOptions.Singleline | RegexOptions.Multiline)]
    private static partial Regex Region();

    /// <summary>The lines without their common indentation and trailing blanks, and without leading/trailing empty lines.</summary>
    internal static string Normalize(string text)
    {
        var lines = text.Replace("\r\n", "\n").Split('\n').Select(l => l.TrimEnd()).ToList();
        while (lines.Count > 0 && lines[0].Length == 0) lines.RemoveAt(0);
        while (lines.Count > 0 && lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1);
        int indent = lines.Where(l => l.Length > 0).Select(l => l.Length - l.TrimStart().Length).DefaultIfEmpty(0).Min();
        return string.Join("\n", lines.Select(l => l.Length >= indent ? l[indent..] : l));
    }

    internal static Dictionary<string, string> Regions()
    {
        var dir = Path.Combine(RepoRoot(), "tests", "SharpGrad.Tests");
        var regions = new Dictionary<string, string>();
        foreach (var file in new[] { "Docs/DocModels.cs", "Docs/DocSnippets.cs", "Zoo/ZooModels.cs" })
            foreach (Match m in Region().Matches(File.ReadAllText(Path.Combine(dir, file))))
                Assert.True(regions.TryAdd(m.Groups["name"].Value, Normalize(m.Groups["body"].Value)), $"region doc:{m.Groups["name"].Value} appears twice");
        return regions;
    }

    internal static List<string> Blocks(string guide) =>
        CodeBlock().Matches(File.ReadAllText(Path.Combine(RepoRoot(), "docs", guide))).Select(m => Normalize(m.Groups[1].Value)).ToList();

    [Theory]
    [MemberData(nameof(Guides))]
    public void EveryCSharpBlockOfTheGuideIsATestedSnippet(string guide)
    {
        var regions = Regions();
        var blocks = Blocks(guide);
        Assert.NotEmpty(blocks);
        var bodies = regions.Values.ToHashSet();
        foreach (var block in blocks)
        {
            if (bodies.Contains(block)) continue;
            // Name the region the block was probably copied from, to make the failure easy to fix.
            var firstLine = block.Split('\n')[0];
            var near = regions.Where(r => r.Value.Split('\n')[0] == firstLine).Select(r => r.Key).FirstOrDefault();
            Assert.Fail($"docs/{guide}: this ```csharp block is not a #region doc:… block of tests/SharpGrad.Tests/Docs" +
                (near is null ? "" : $" (it starts like doc:{near}, which differs)") + $":\n{block}");
        }
    }

    [Fact]
    public void EverySnippetIsShownInAGuide()
    {
        var shown = GuideFiles.SelectMany(Blocks).ToHashSet();
        var unused = Regions().Where(r => !shown.Contains(r.Value)).Select(r => r.Key).ToList();
        Assert.True(unused.Count == 0, $"#region doc:{string.Join(", doc:", unused)} in tests/SharpGrad.Tests/Docs are in no guide (remove them or quote them)");
    }

    [Fact]
    public void NormalizeRemovesOnlyTheCommonIndentation()
    {
        Assert.Equal("a\n  b\n\nc", Normalize("\n    a  \n      b\n\n    c\n\n"));
        Assert.NotEqual(Normalize("a\nb"), Normalize("a\n b"));
    }
}
