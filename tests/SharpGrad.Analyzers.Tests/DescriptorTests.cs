using System.IO;
using System.Linq;
using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;

namespace SharpGrad.Analyzers.Tests;

public class DescriptorTests
{
    private static readonly DiagnosticDescriptor[] All = typeof(DiagnosticDescriptors)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(f => f.FieldType == typeof(DiagnosticDescriptor))
        .Select(f => (DiagnosticDescriptor)f.GetValue(null)!)
        .ToArray();

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(System.AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "SharpGrad.slnx"))) dir = dir.Parent;
        return dir?.FullName ?? throw new DirectoryNotFoundException("SharpGrad.slnx not found above the test directory");
    }

    [Fact]
    public void Every_id_from_SG2001_to_SG2014_has_one_descriptor()
        => Assert.Equal(Enumerable.Range(1, 14).Select(i => $"SG20{i:00}"), All.Select(d => d.Id).OrderBy(id => id));

    [Fact]
    public void Every_descriptor_names_its_docs_page_which_exists_and_has_wrong_and_right_examples_and_links_nowhere()
    {
        var root = RepoRoot();
        foreach (var d in All)
        {
            // The project has no public address: no help link, and the message names the page (shipped in the package).
            Assert.True(string.IsNullOrEmpty(d.HelpLinkUri), $"{d.Id} links to {d.HelpLinkUri}");
            Assert.EndsWith($"(docs/diagnostics/{d.Id}.md)", d.MessageFormat.ToString());
            var page = File.ReadAllText(Path.Combine(root, "docs", "diagnostics", d.Id + ".md"));
            Assert.StartsWith($"# {d.Id}: ", page);
            Assert.Contains("## Wrong", page);
            Assert.Contains("## Right", page);
            Assert.Contains("## The PyTorch error it prevents", page);
        }
    }

    [Fact]
    public void Every_id_is_tracked_in_the_release_file_with_its_severity()
    {
        var unshipped = File.ReadAllLines(Path.Combine(RepoRoot(), "analyzers", "SharpGrad.Analyzers", "AnalyzerReleases.Unshipped.md"));
        foreach (var d in All)
        {
            Assert.Contains(unshipped, line => line.StartsWith(d.Id + " | " + d.Category + " | " + d.DefaultSeverity + " |"));
        }
    }

    [Fact]
    public void Every_analyzer_reports_only_its_own_descriptor_and_every_descriptor_has_an_analyzer()
    {
        var analyzers = typeof(DiagnosticDescriptors).Assembly.GetTypes()
            .Where(t => !t.IsAbstract && typeof(DiagnosticAnalyzer).IsAssignableFrom(t))
            .Select(t => (DiagnosticAnalyzer)System.Activator.CreateInstance(t)!)
            .ToList();
        var reported = analyzers.SelectMany(a => a.SupportedDiagnostics).Select(d => d.Id).OrderBy(id => id);
        Assert.Equal(All.Select(d => d.Id).OrderBy(id => id), reported);
    }
}
