using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace SharpGrad.Generator.Model;

/// <summary>
/// Everything the emitter needs to write one module's plumbing. Only strings, bools, ints, enums and
/// <see cref="EquatableArray{T}"/>: this record is the incremental cache boundary.
/// </summary>
internal sealed record ModuleSpec(
    string? Namespace,
    EquatableArray<ContainingTypeSpec> ContainingTypes,
    string ClassName,
    string Accessibility,
    string DeclarationKeywords,
    BaseKind BaseKind,
    bool IsSequential,
    bool Compile,
    EquatableArray<MemberSpec> Members,
    EquatableArray<int> ForwardArities,
    EquatableArray<DiagnosticInfo> Diagnostics)
{
    /// <summary>Members the class already declares by hand; the generator leaves those out.</summary>
    public HandWritten HandWritten { get; init; }

    /// <summary>For a <see cref="BaseKind.ModuleSubclass"/>: the base overrides <c>RegisteredChildren</c> (else the generated
    /// code starts from <c>base.NamedChildren()</c>).</summary>
    public bool BaseListsRegisteredChildren { get; init; }

    /// <summary>False when an error prevents generating code (the diagnostics say why).</summary>
    public bool CanEmit { get; init; } = true;

    /// <summary>
    /// The graph IR of <c>Forward</c> and the <c>[Compiled]</c> methods; null unless the class opts in with a
    /// <c>[Shape]</c> parameter (so modules that do not opt in are cached and emitted exactly as before).
    /// </summary>
    public ModuleGraph? Graph { get; init; }

    /// <summary>The shapes inferred for each parsed method (empty until shape inference has run, or without a graph).</summary>
    public EquatableArray<MethodShapes> Shapes { get; init; }

    /// <summary>The class name with its namespace and containing types (<c>Demo.Outer.Net</c>): how children name their type (<see cref="ChildSpec.TypeName"/>).</summary>
    public string FullName => Namespace is null ? QualifiedClassName : Namespace + "." + QualifiedClassName;

    /// <summary>The class name qualified with its containing types, e.g. <c>Outer.Net</c>.</summary>
    public string QualifiedClassName
    {
        get
        {
            var prefix = "";
            foreach (var t in ContainingTypes) prefix += t.Name + ".";
            return prefix + ClassName;
        }
    }
}

/// <summary>What the inliner needs of another module: its full name, whether it is a [Sequential] class, its (uninlined) graph.</summary>
internal sealed record ModuleLibraryEntry(string FullName, bool IsSequential, ModuleGraph Graph);

/// <summary>A type that contains the module class, outermost first: <c>partial class Outer</c>.</summary>
internal sealed record ContainingTypeSpec(string Keywords, string Name, string MetadataName);

/// <summary>How the generated partial relates to <c>SharpGrad.Module</c>.</summary>
internal enum BaseKind
{
    /// <summary>No declaration names a base class: the generated part adds <c>: global::SharpGrad.Module</c>.</summary>
    AddModuleBase,

    /// <summary>The class derives directly from <c>SharpGrad.Module</c>.</summary>
    Module,

    /// <summary>The class derives from another module class: the overrides yield the base's items first.</summary>
    ModuleSubclass,
}

/// <summary>Generated members that the class declares itself (a hand-written override wins).</summary>
[System.Flags]
internal enum HandWritten
{
    None = 0,
    NamedChildren = 1,
    NamedDirectParameters = 2,
    NamedDirectBuffers = 4,
    ForwardDynamic = 8,
    SequentialForward = 16,

    /// <summary><c>BuildOnnxGraph(OnnxGraphBuilder)</c>: the class exports itself (no generated ONNX export).</summary>
    OnnxExport = 32,
}

internal enum MemberKind
{
    Child,
    Parameter,
    Buffer,
}

/// <summary>Whether a child member holds one module or a list of them (named <c>name.0</c>, <c>name.1</c>, …).</summary>
internal enum CollectionKind
{
    None,
    Enumerable,
}

/// <summary>One child, parameter or buffer member, in declaration order.</summary>
internal sealed record MemberSpec(MemberKind Kind, string MemberName, string StateName, CollectionKind Collection, bool IsNullable);

/// <summary>A source location as plain data (file path and spans), since <see cref="Location"/> must not be cached.</summary>
internal sealed record LocationInfo(string FilePath, TextSpan Span, LinePositionSpan LineSpan)
{
    public Location ToLocation() => Location.Create(FilePath, Span, LineSpan);

    /// <summary>The file name with the 1-based line and column, as messages show it: <c>Net.cs(12,9)</c>.</summary>
    public string Display => System.IO.Path.GetFileName(FilePath) + "(" + (LineSpan.Start.Line + 1) + "," + (LineSpan.Start.Character + 1) + ")";

    public static LocationInfo? From(Location? location)
    {
        if (location is null || location.SourceTree is null) return null;
        return new LocationInfo(location.SourceTree.FilePath, location.SourceSpan, location.GetLineSpan().Span);
    }
}

/// <summary>A diagnostic as data: the descriptor id, where, and the message arguments.</summary>
internal sealed record DiagnosticInfo(string Id, LocationInfo? Location, EquatableArray<string> MessageArgs)
{
    public Diagnostic ToDiagnostic()
        => Diagnostic.Create(
            DiagnosticDescriptors.ById(Id),
            Location?.ToLocation() ?? Microsoft.CodeAnalysis.Location.None,
            System.Linq.Enumerable.ToArray<object>(MessageArgs));
}
