using System.Reflection;
using Microsoft.CodeAnalysis;

namespace SharpGrad.Generator.Tests;

/// <summary>Every SG1xxx descriptor: no help link (the project has no public address to point at), and a message that names
/// its docs page, which exists.</summary>
public class DescriptorTests
{
    private static readonly DiagnosticDescriptor[] All = typeof(DiagnosticDescriptors)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(f => f.FieldType == typeof(DiagnosticDescriptor))
        .Select(f => (DiagnosticDescriptor)f.GetValue(null)!)
        .ToArray();

    [Fact]
    public void Every_descriptor_names_its_docs_page_and_links_nowhere()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "SharpGrad.slnx"))) root = root.Parent;
        Assert.NotNull(root);
        Assert.NotEmpty(All);
        foreach (var d in All)
        {
            Assert.True(string.IsNullOrEmpty(d.HelpLinkUri), $"{d.Id} links to {d.HelpLinkUri}");
            Assert.EndsWith($"(docs/diagnostics/{d.Id}.md)", d.MessageFormat.ToString());
            Assert.StartsWith($"# {d.Id}", File.ReadAllText(Path.Combine(root!.FullName, "docs", "diagnostics", d.Id + ".md")));
        }
    }
}
