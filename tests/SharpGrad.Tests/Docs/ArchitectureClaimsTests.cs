using System.Text.RegularExpressions;

namespace SharpGrad.Tests.Docs;

/// <summary>
/// Enforces docs/architecture.md's "Where each op of the acceptance list is defined" table: for LeakyReLU, Hardtanh,
/// Softplus, GELU, CrossEntropy and Conv2d, the non-test source files (runtime/, generator/, analyzers/) that encode the
/// op — its kernel, its layer class, its catalogue row and defaults, and the tell-tale pieces of its forward, derivative,
/// defaults or shape rule written as literals — must be exactly the files the table lists. A second definition (a default
/// written again, the GELU constants copied, the convolution's output-size formula in another shape model) adds a file and
/// fails here; so does a table entry that no longer holds. Comments are ignored: naming or describing an op is not
/// encoding it. The repository is found from the test's output directory (never from [CallerFilePath]).
/// </summary>
public class ArchitectureClaimsTests
{
    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "SharpGrad.slnx"))) return dir.FullName;
        throw new InvalidOperationException($"SharpGrad.slnx not found above {AppContext.BaseDirectory}.");
    }

    /// <summary>A class or struct declared here, except the serialization registry's <c>ISerializableLayer</c> halves.</summary>
    private static string Declares(string kind, string name) => $@"\b{kind}\s+{name}\b(?![^\n]*ISerializableLayer)";

    /// <summary>The patterns that mark a file as encoding each op (matched with comments removed).</summary>
    private static readonly Dictionary<string, string[]> Encodings = new()
    {
        ["LeakyReLU"] =
        [
            Declares("struct", "LeakyReluOp"), Declares("class", "LeakyReLU"), Declares("class", "LeakyRelu"), @"Pointwise\(""LeakyRelu""",
            @"(?i)leaky[^\n]*\b0\.01\b", @"(?i)\b0\.01\b[^\n]*leaky", @"(?i)negative_?slope\s*=\s*[0-9.]",
        ],
        ["Hardtanh"] =
        [
            Declares("struct", "HardtanhOp"), Declares("class", "Hardtanh"), @"Pointwise\(""Hardtanh""",
            @"(?i)(min|max)_?val\s*=\s*-?[0-9]",
        ],
        ["Softplus"] =
        [
            Declares("struct", "SoftplusOp"), Declares("class", "Softplus"), @"Pointwise\(""Softplus""",
            @"(?i)softplus[^\n]*\b20(\.0)?f?\b", @"(?i)threshold\s*=\s*20", @"Log1p\(\s*Math\.Exp\(",
        ],
        ["GELU"] =
        [
            Declares("struct", "GeluOp"), Declares("class", "GELU"), Declares("class", "Gelu"), @"Pointwise\(""Gelu""",
            @"0\.044715", @"0\.79788456", @"(?i)approximate\s*=\s*""(none|tanh)""",
        ],
        ["CrossEntropy"] =
        [
            Declares("class", "ClassIndexLoss"), Declares("class", "CrossEntropyLoss"), Declares("class", "CrossEntropy"), @"LossRow\(""CrossEntropy""",
            @"(?i)ignore_?index\s*=\s*-100", @"(?i)label_?smoothing\s*=\s*0",
        ],
        ["Conv2d"] =
        [
            Declares("class", "Conv2d"), Declares("class", "Conv"), @"new OpRow\(""Conv2d""",
            @"dilation\w*(\[\w+\])?\s*\*\s*\(\s*k\w*(\[\w+\])?\s*-\s*1\s*\)",
        ],
    };

    public static TheoryData<string> Ops() => new(Encodings.Keys);

    /// <summary>The table's files per op (backticked <c>*.cs</c> paths, relative to runtime/SharpGrad/).</summary>
    private static Dictionary<string, HashSet<string>> DocumentedFiles(string root)
    {
        string doc = File.ReadAllText(Path.Combine(root, "docs", "architecture.md"));
        int start = doc.IndexOf("## Where each op of the acceptance list is defined", StringComparison.Ordinal);
        Assert.True(start >= 0, "docs/architecture.md has no section \"Where each op of the acceptance list is defined\"");
        var result = new Dictionary<string, HashSet<string>>();
        int end = doc.IndexOf("\n## ", start + 1, StringComparison.Ordinal);
        foreach (var line in doc[start..(end < 0 ? doc.Length : end)].Split('\n').Where(l => l.StartsWith('|')))
        {
            var cells = line.Split('|', StringSplitOptions.TrimEntries).Where(c => c.Length > 0).ToArray();
            if (cells.Length < 2 || cells[0] == "Op" || cells[0].StartsWith('-')) continue;
            var files = Regex.Matches(string.Join(" ", cells.Skip(1)), @"`([\w./]+\.cs)`").Select(m => "runtime/SharpGrad/" + m.Groups[1].Value).ToHashSet();
            result[cells[0]] = files;
        }
        return result;
    }

    private static readonly Lazy<(string Path, string Code)[]> Sources = new(() =>
    {
        string root = RepoRoot();
        var files = new List<(string, string)>();
        foreach (var top in new[] { "runtime", "generator", "analyzers" })
        {
            foreach (var file in Directory.EnumerateFiles(Path.Combine(root, top), "*.cs", SearchOption.AllDirectories))
            {
                string rel = Path.GetRelativePath(root, file).Replace('\\', '/');
                if (rel.Contains("/obj/", StringComparison.Ordinal) || rel.Contains("/bin/", StringComparison.Ordinal)) continue;
                files.Add((rel, WithoutComments(File.ReadAllText(file))));
            }
        }
        return files.ToArray();
    });

    /// <summary>The code without <c>//</c> comments (doc comments included) and <c>/* */</c> blocks.</summary>
    private static string WithoutComments(string code)
        => Regex.Replace(Regex.Replace(code, @"/\*.*?\*/", "", RegexOptions.Singleline), @"(?<!:)//[^\n]*", "");

    [Theory]
    [MemberData(nameof(Ops))]
    public void TheFilesThatEncodeTheOpAreTheOnesTheArchitecturePageLists(string op)
    {
        var documented = DocumentedFiles(RepoRoot());
        Assert.True(documented.TryGetValue(op, out var expected), $"docs/architecture.md's table has no row for {op}");
        var patterns = Encodings[op].Select(p => new Regex(p, RegexOptions.Multiline)).ToArray();
        var found = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (path, code) in Sources.Value)
        {
            foreach (var pattern in patterns)
            {
                var match = pattern.Match(code);
                if (!match.Success) continue;
                found[path] = match.Value.Trim();
                break;
            }
        }
        var extra = found.Keys.Where(f => !expected!.Contains(f)).Select(f => $"{f} (\"{found[f]}\")").ToList();
        var stale = expected!.Where(f => !found.ContainsKey(f)).ToList();
        Assert.True(extra.Count == 0 && stale.Count == 0,
            $"{op}: files that encode it but are not in docs/architecture.md's table: [{string.Join(", ", extra)}]; "
            + $"files the table lists that no longer encode it: [{string.Join(", ", stale)}]. Move the definition into the catalogue, "
            + "the kernel or the layer class (or correct the table).");
        // What the table may list: the catalogue (Ops/), the op's kernel (Kernels/) and its layer class (Layers/).
        var elsewhere = expected!.Where(f => !f.StartsWith("runtime/SharpGrad/Ops/", StringComparison.Ordinal)
            && !f.StartsWith("runtime/SharpGrad/Kernels/", StringComparison.Ordinal) && !f.StartsWith("runtime/SharpGrad/Layers/", StringComparison.Ordinal));
        Assert.True(!elsewhere.Any(), $"{op}: the table lists files outside the catalogue, the kernels and the layers: {string.Join(", ", elsewhere)}");
    }
}
