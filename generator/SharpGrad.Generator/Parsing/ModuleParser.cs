using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using SharpGrad.Generator.Model;
using SharpGrad.Shared;

namespace SharpGrad.Generator.Parsing;

/// <summary>Reads a [Module] or [Sequential] class into a <see cref="ModuleSpec"/> (the transform of the pipeline).</summary>
internal static class ModuleParser
{
    public const string ModuleAttributeName = "SharpGrad.ModuleAttribute";
    public const string SequentialAttributeName = "SharpGrad.SequentialAttribute";

    public static ModuleSpec? Parse(GeneratorAttributeSyntaxContext context, bool isSequential, CancellationToken token)
    {
        token.ThrowIfCancellationRequested();
        if (context.TargetSymbol is not INamedTypeSymbol type || context.TargetNode is not ClassDeclarationSyntax declaration)
        {
            return null;
        }

        // A class marked both [Module] and [Sequential] is generated once, by the [Sequential] pipeline.
        if (!isSequential && HasAttribute(type, SequentialAttributeName)) return null;

        string attributeName = isSequential ? "Sequential" : "Module";
        var diagnostics = new List<DiagnosticInfo>();
        bool canEmit = true;

        if (!declaration.Modifiers.Any(SyntaxKind.PartialKeyword))
        {
            diagnostics.Add(Diagnostic(DiagnosticDescriptors.ModuleNotPartialId, declaration.Identifier.GetLocation(), attributeName, type.Name));
            canEmit = false;
        }

        if (type.IsGenericType)
        {
            diagnostics.Add(Diagnostic(DiagnosticDescriptors.GenericModuleId, declaration.Identifier.GetLocation(), attributeName, Display(type)));
            canEmit = false;
        }

        var containingTypes = new List<ContainingTypeSpec>();
        for (var outer = type.ContainingType; outer is not null; outer = outer.ContainingType)
        {
            token.ThrowIfCancellationRequested();
            var outerSyntax = outer.DeclaringSyntaxReferences
                .Select(r => r.GetSyntax(token))
                .OfType<TypeDeclarationSyntax>()
                .FirstOrDefault(s => s.Span.Contains(declaration.Span));
            if (outerSyntax is not null && !outerSyntax.Modifiers.Any(SyntaxKind.PartialKeyword))
            {
                diagnostics.Add(Diagnostic(DiagnosticDescriptors.ContainingTypeNotPartialId, outerSyntax.Identifier.GetLocation(), outer.Name, attributeName, type.Name));
                canEmit = false;
            }
            containingTypes.Insert(0, new ContainingTypeSpec(TypeKeywords(outer), TypeNameWithParameters(outer), outer.MetadataName));
        }

        // The base class: none (the generator adds Module), Module itself, another module, or an error.
        var baseKind = BaseKind.AddModuleBase;
        var baseType = type.BaseType;
        if (baseType is not null && baseType.SpecialType != SpecialType.System_Object)
        {
            if (IsSharpGradModule(baseType)) baseKind = BaseKind.Module;
            else if (IsModuleType(baseType)) baseKind = BaseKind.ModuleSubclass;
            else if (baseType.TypeKind != TypeKind.Error)
            {
                var baseSyntax = declaration.BaseList?.Types.FirstOrDefault()?.Type;
                diagnostics.Add(Diagnostic(
                    DiagnosticDescriptors.NonModuleBaseId,
                    baseSyntax?.GetLocation() ?? declaration.Identifier.GetLocation(),
                    attributeName,
                    type.Name,
                    Display(baseType)));
                canEmit = false;
            }
        }

        var members = new List<MemberSpec>();
        var stateNames = new Dictionary<string, string>();
        var forwardArities = new SortedSet<int>();
        foreach (var member in type.GetMembers())
        {
            token.ThrowIfCancellationRequested();
            if (member.IsStatic || member.IsImplicitlyDeclared) continue;

            if (member is IMethodSymbol method)
            {
                if (IsForwardCandidate(method)) forwardArities.Add(method.Parameters.Length);
                continue;
            }

            ITypeSymbol? memberType = member switch
            {
                IFieldSymbol { IsConst: false } field => field.Type,
                IPropertySymbol { IsIndexer: false } property when IsAutoProperty(property, token) => property.Type,
                _ => null,
            };
            if (memberType is null) continue;

            bool isBuffer = HasAttribute(member, "SharpGrad.BufferAttribute");
            bool isNullable = memberType.NullableAnnotation == NullableAnnotation.Annotated;
            string stateName = Naming.ToStateName(member.Name);
            string memberName = EscapeIdentifier(member.Name);
            if (IsStateMember(memberType, isBuffer))
            {
                if (stateNames.TryGetValue(stateName, out var first))
                {
                    diagnostics.Add(Diagnostic(DiagnosticDescriptors.DuplicateStateNameId, member.Locations.FirstOrDefault(), type.Name, member.Name, stateName, first));
                    continue;
                }
                stateNames.Add(stateName, member.Name);
            }

            if (isBuffer)
            {
                if (IsTensor(memberType) && !IsParameter(memberType))
                {
                    members.Add(new MemberSpec(MemberKind.Buffer, memberName, stateName, CollectionKind.None, isNullable));
                }
                else
                {
                    diagnostics.Add(Diagnostic(DiagnosticDescriptors.BufferNotTensorId, member.Locations.FirstOrDefault(), type.Name, member.Name, Display(memberType)));
                }
                continue;
            }

            if (IsParameter(memberType))
            {
                members.Add(new MemberSpec(MemberKind.Parameter, memberName, stateName, CollectionKind.None, isNullable));
            }
            else if (IsModuleType(memberType))
            {
                if (isSequential && !HasUsableForward(memberType))
                {
                    diagnostics.Add(Diagnostic(DiagnosticDescriptors.SequentialChildWithoutForwardId, member.Locations.FirstOrDefault(), type.Name, member.Name, Display(memberType)));
                    continue;
                }
                members.Add(new MemberSpec(MemberKind.Child, memberName, stateName, CollectionKind.None, isNullable));
            }
            else if (ModuleElementType(memberType) is { } elementType)
            {
                if (isSequential && !HasUsableForward(elementType))
                {
                    diagnostics.Add(Diagnostic(DiagnosticDescriptors.SequentialChildWithoutForwardId, member.Locations.FirstOrDefault(), type.Name, member.Name, Display(elementType)));
                    continue;
                }
                members.Add(new MemberSpec(MemberKind.Child, memberName, stateName, CollectionKind.Enumerable, isNullable));
            }
        }

        var handWritten = HandWritten.None;
        foreach (var member in type.GetMembers())
        {
            if (member is not IMethodSymbol { IsStatic: false, MethodKind: MethodKind.Ordinary } method) continue;
            handWritten |= method.Name switch
            {
                "NamedChildren" when method.Parameters.Length == 0 => HandWritten.NamedChildren,
                "NamedDirectParameters" when method.Parameters.Length == 0 => HandWritten.NamedDirectParameters,
                "NamedDirectBuffers" when method.Parameters.Length == 0 => HandWritten.NamedDirectBuffers,
                "ForwardDynamic" when method.Parameters.Length == 1 => HandWritten.ForwardDynamic,
                "BuildOnnxGraph" when method.Parameters.Length == 1 => HandWritten.OnnxExport,
                "Forward" when isSequential && method.Parameters.Length == 1 && IsExactlyTensor(method.Parameters[0].Type) => HandWritten.SequentialForward,
                _ => HandWritten.None,
            };
        }

        if (isSequential) forwardArities.Add(1);
        if ((handWritten & HandWritten.ForwardDynamic) != 0) forwardArities.Clear();

        bool compile = !isSequential && context.Attributes
            .SelectMany(a => a.NamedArguments)
            .Where(a => a.Key == "Compile")
            .Select(a => a.Value.Value as bool?)
            .FirstOrDefault() is not false;

        token.ThrowIfCancellationRequested();
        return new ModuleSpec(
            Namespace: type.ContainingNamespace is { IsGlobalNamespace: false } ns ? ns.ToDisplayString() : null,
            ContainingTypes: containingTypes.ToEquatableArray(),
            ClassName: type.Name,
            Accessibility: AccessibilityText(type.DeclaredAccessibility),
            DeclarationKeywords: TypeKeywords(type),
            BaseKind: baseKind,
            IsSequential: isSequential,
            Compile: compile,
            Members: members.ToEquatableArray(),
            ForwardArities: forwardArities.ToEquatableArray(),
            Diagnostics: diagnostics.ToEquatableArray())
        {
            CanEmit = canEmit,
            HandWritten = handWritten,
            BaseListsRegisteredChildren = baseKind == BaseKind.ModuleSubclass && ListsRegisteredChildren(type.BaseType!),
            // The graph IR of every [Module] with a Forward (see docs/compiler.md); a [Sequential] class gets only its
            // children (for the inliner). The runtime's own layers are never parsed: they are the compiler's primitives.
            Graph = IsRuntime(context.SemanticModel.Compilation) ? null
                : compile ? GraphParser.Parse(type, context.SemanticModel.Compilation, token)
                : isSequential ? GraphParser.ParseChildren(type, context.SemanticModel.Compilation, token)
                : null,
        };
    }

    /// <summary>The SharpGrad runtime itself: its layers are built-in primitives of the compiler and are not parsed.</summary>
    private static bool IsRuntime(Compilation compilation) => compilation.AssemblyName == "SharpGrad";

    private static DiagnosticInfo Diagnostic(string id, Location? location, params string[] args)
        => new(id, LocationInfo.From(location), args.ToEquatableArray());

    private static string Display(ITypeSymbol type) => type.ToDisplayString(SymbolDisplayFormat.CSharpErrorMessageFormat);

    /// <summary>True for the members that get a state name: buffers, parameters and children.</summary>
    internal static bool IsStateMemberType(ITypeSymbol type) => ModuleElementType(type) is not null;

    private static bool IsStateMember(ITypeSymbol type, bool isBuffer)
        => isBuffer || IsParameter(type) || IsModuleType(type) || ModuleElementType(type) is not null;

    /// <summary>A public instance <c>Tensor Forward(Tensor, …)</c> that ForwardDynamic can call with an array.</summary>
    internal static bool IsForwardCandidate(IMethodSymbol method)
        => HasForwardParameters(method) && IsExactlyTensor(method.ReturnType);

    /// <summary>A public, non-generic instance method named <c>Forward</c> whose parameters are all plain <c>Tensor</c>s.</summary>
    private static bool HasForwardParameters(IMethodSymbol method)
        => method.Name == "Forward"
           && method.MethodKind == MethodKind.Ordinary
           && method.DeclaredAccessibility == Accessibility.Public
           && !method.IsGenericMethod
           && !method.IsStatic
           && method.Parameters.Length > 0
           && method.Parameters.All(p => p.RefKind == RefKind.None && !p.IsParams && IsExactlyTensor(p.Type));

    /// <summary>
    /// A public instance <c>Tensor[] Forward(Tensor, …)</c> (several outputs, PyTorch: a forward returning a tuple): parsed
    /// and compiled like a <c>Tensor</c> Forward, but not called by ForwardDynamic or as a child's Forward.
    /// </summary>
    internal static bool IsMultiOutputForward(IMethodSymbol method)
        => HasForwardParameters(method)
           && method.ReturnType is IArrayTypeSymbol { Rank: 1 } array && IsExactlyTensor(array.ElementType);

    /// <summary>True if <paramref name="type"/> (or a base) has a public <c>Tensor Forward(Tensor)</c> — or will have one generated.</summary>
    private static bool HasUsableForward(ITypeSymbol type)
    {
        for (var t = type as INamedTypeSymbol; t is not null; t = t.BaseType)
        {
            if (HasAttribute(t, SequentialAttributeName)) return true;
            foreach (var m in t.GetMembers("Forward"))
            {
                if (m is IMethodSymbol method && IsForwardCandidate(method) && method.Parameters.Length == 1) return true;
            }
        }
        return false;
    }

    private static bool IsAutoProperty(IPropertySymbol property, CancellationToken token)
    {
        foreach (var reference in property.DeclaringSyntaxReferences)
        {
            if (reference.GetSyntax(token) is not PropertyDeclarationSyntax syntax) return false;
            if (syntax.ExpressionBody is not null || syntax.AccessorList is null) return false;
            if (syntax.AccessorList.Accessors.Any(a => a.Body is not null || a.ExpressionBody is not null)) return false;
            if (syntax.Modifiers.Any(SyntaxKind.AbstractKeyword) || syntax.Modifiers.Any(SyntaxKind.ExternKeyword)) return false;
        }
        return property.DeclaringSyntaxReferences.Length > 0;
    }

    internal static bool IsSharpGradType(ITypeSymbol type, string name)
        => type.Name == name
           && type.ContainingType is null
           && type.ContainingNamespace is { Name: "SharpGrad", ContainingNamespace.IsGlobalNamespace: true };

    private static bool IsSharpGradModule(ITypeSymbol type) => IsSharpGradType(type, "Module");

    /// <summary>
    /// True when <paramref name="type"/> overrides <c>RegisteredChildren</c> (by hand, or generated for a [Module] that does
    /// not write <c>NamedChildren</c> by hand). Otherwise <c>Module.RegisteredChildren</c> is <c>NamedChildren()</c>, which
    /// a derived module's generated NamedChildren builds on, so the derived module must start from <c>base.NamedChildren()</c>.
    /// </summary>
    private static bool ListsRegisteredChildren(INamedTypeSymbol type)
    {
        for (var t = type; t is not null && !IsSharpGradModule(t); t = t.BaseType)
        {
            if (!t.GetMembers("RegisteredChildren").IsEmpty) return true;
            if (!t.GetMembers("NamedChildren").IsEmpty) return false;
            if (HasAttribute(t, ModuleAttributeName) || HasAttribute(t, SequentialAttributeName)) return true;
        }
        return false;
    }

    internal static bool IsExactlyTensor(ITypeSymbol type) => IsSharpGradType(type, "Tensor");

    internal static bool IsParameter(ITypeSymbol type) => IsSharpGradType(type, "Parameter");

    internal static bool IsTensor(ITypeSymbol type)
    {
        for (var t = type as INamedTypeSymbol; t is not null; t = t.BaseType)
        {
            if (IsExactlyTensor(t)) return true;
        }
        return false;
    }

    /// <summary>
    /// True for SharpGrad.Module and its subclasses, counting a class marked [Module] or [Sequential] (whose
    /// <c>: Module</c> base is added by this generator, so it is not visible yet) as a module.
    /// </summary>
    internal static bool IsModuleType(ITypeSymbol type)
    {
        for (var t = type as INamedTypeSymbol; t is not null; t = t.BaseType)
        {
            if (IsSharpGradModule(t)) return true;
            if (HasAttribute(t, ModuleAttributeName) || HasAttribute(t, SequentialAttributeName)) return true;
        }
        return false;
    }

    /// <summary>The module element type of an array or <c>IReadOnlyList&lt;T&gt;</c> of modules, else null.</summary>
    private static ITypeSymbol? ModuleElementType(ITypeSymbol type)
    {
        if (type is IArrayTypeSymbol { Rank: 1 } array) return IsModuleType(array.ElementType) ? array.ElementType : null;
        if (type is not INamedTypeSymbol named) return null;
        foreach (var candidate in new[] { named }.Concat(named.AllInterfaces))
        {
            if (candidate.OriginalDefinition.SpecialType == SpecialType.System_Collections_Generic_IReadOnlyList_T
                && candidate.TypeArguments[0] is var element
                && IsModuleType(element))
            {
                return element;
            }
        }
        return null;
    }

    internal static bool HasAttribute(ISymbol symbol, string metadataName)
    {
        foreach (var attribute in symbol.GetAttributes())
        {
            var c = attribute.AttributeClass;
            if (c is not null && c.ContainingType is null && c.ContainingNamespace is { Name: "SharpGrad", ContainingNamespace.IsGlobalNamespace: true }
                && "SharpGrad." + c.MetadataName == metadataName)
            {
                return true;
            }
        }
        return false;
    }

    private static string EscapeIdentifier(string name)
        => SyntaxFacts.GetKeywordKind(name) != SyntaxKind.None
            ? "@" + name
            : name;

    private static string TypeKeywords(INamedTypeSymbol type)
    {
        string kind = type switch
        {
            { IsRecord: true, TypeKind: TypeKind.Struct } => "record struct",
            { IsRecord: true } => "record",
            { TypeKind: TypeKind.Struct } => "struct",
            { TypeKind: TypeKind.Interface } => "interface",
            _ => "class",
        };
        return type.IsStatic ? "static partial " + kind : "partial " + kind;
    }

    private static string TypeNameWithParameters(INamedTypeSymbol type)
        => type.TypeParameters.Length == 0 ? type.Name : type.Name + "<" + string.Join(", ", type.TypeParameters.Select(p => p.Name)) + ">";

    private static string AccessibilityText(Accessibility accessibility) => accessibility switch
    {
        Accessibility.Public => "public",
        Accessibility.Internal => "internal",
        Accessibility.Private => "private",
        Accessibility.Protected => "protected",
        Accessibility.ProtectedOrInternal => "protected internal",
        Accessibility.ProtectedAndInternal => "private protected",
        _ => "internal",
    };
}
