using System.Linq;
using Microsoft.CodeAnalysis;

namespace SharpGrad.Analyzers;

/// <summary>SharpGrad's types, resolved once per compilation by metadata name. Null members are types the compilation does not have.</summary>
internal sealed class SharpGradSymbols
{
    private SharpGradSymbols(Compilation compilation, INamedTypeSymbol tensor)
    {
        Tensor = tensor;
        Parameter = compilation.GetTypeByMetadataName("SharpGrad.Parameter");
        Module = compilation.GetTypeByMetadataName("SharpGrad.Module");
        Autograd = compilation.GetTypeByMetadataName("SharpGrad.Autograd");
        Functional = compilation.GetTypeByMetadataName("SharpGrad.Functional");
        ShapeAttribute = compilation.GetTypeByMetadataName("SharpGrad.ShapeAttribute");
        ModuleAttribute = compilation.GetTypeByMetadataName("SharpGrad.ModuleAttribute");
        Optimizer = compilation.GetTypeByMetadataName("SharpGrad.Optimizers.Optimizer");
        Sequential = compilation.GetTypeByMetadataName("SharpGrad.Layers.Sequential");
        Losses = compilation.GetTypeByMetadataName("SharpGrad.Losses");
        BufferAttribute = compilation.GetTypeByMetadataName("SharpGrad.BufferAttribute");
    }

    public INamedTypeSymbol Tensor { get; }
    public INamedTypeSymbol? Parameter { get; }
    public INamedTypeSymbol? Module { get; }
    public INamedTypeSymbol? Autograd { get; }
    public INamedTypeSymbol? Functional { get; }
    public INamedTypeSymbol? ShapeAttribute { get; }
    public INamedTypeSymbol? ModuleAttribute { get; }
    public INamedTypeSymbol? Optimizer { get; }
    public INamedTypeSymbol? Sequential { get; }
    public INamedTypeSymbol? Losses { get; }
    public INamedTypeSymbol? BufferAttribute { get; }

    /// <summary>The symbols, or null when the compilation does not reference SharpGrad (then no analyzer runs).</summary>
    public static SharpGradSymbols? TryCreate(Compilation compilation)
        => compilation.GetTypeByMetadataName("SharpGrad.Tensor") is { } tensor ? new SharpGradSymbols(compilation, tensor) : null;

    public bool IsTensor(ITypeSymbol? type) => DerivesFrom(type, Tensor);

    public bool IsModule(ITypeSymbol? type) => Module is not null && DerivesFrom(type, Module);

    public bool IsOptimizer(ITypeSymbol? type) => Optimizer is not null && DerivesFrom(type, Optimizer);

    /// <summary>A method declared on <c>Tensor</c> (or <c>Parameter</c>) with this name.</summary>
    public bool IsTensorMethod(IMethodSymbol method, string name)
        => method.Name == name && IsTensor(method.ContainingType);

    public bool IsTensorMethod(IMethodSymbol method) => IsTensor(method.ContainingType);

    public bool IsFunctional(IMethodSymbol method)
        => Functional is not null && SymbolEqualityComparer.Default.Equals(method.ContainingType, Functional);

    /// <summary>
    /// For a call that sets the grad mode for a scope: is recording off after it? <c>Autograd.NoGrad()</c> and
    /// <c>SetGradEnabled(false)</c> → true, <c>EnableGrad()</c> and <c>SetGradEnabled(true)</c> → false, a non-constant
    /// <c>SetGradEnabled(x)</c> → unknown; null for any other operation.
    /// </summary>
    public Tri? RecordingOff(IOperation? operation)
    {
        if (operation is not Microsoft.CodeAnalysis.Operations.IInvocationOperation call || Autograd is null) return null;
        if (!SymbolEqualityComparer.Default.Equals(call.TargetMethod.ContainingType, Autograd)) return null;
        switch (call.TargetMethod.Name)
        {
            case "NoGrad": return Tri.True;
            case "EnableGrad": return Tri.False;
            case "SetGradEnabled" when call.Arguments.Length == 1:
                return call.Arguments[0].Value.ConstantValue is { HasValue: true, Value: bool enabled } ? (!enabled).ToTri() : Tri.Unknown;
            default: return null;
        }
    }

    /// <summary>A member of SharpGrad's own API (the runtime assembly's SharpGrad namespaces), as opposed to user code.</summary>
    public bool IsSharpGradApi(ISymbol symbol)
    {
        if (!SymbolEqualityComparer.Default.Equals(symbol.ContainingAssembly, Tensor.ContainingAssembly)) return false;
        var ns = symbol.ContainingNamespace?.ToDisplayString() ?? "";
        return ns == "SharpGrad" || ns.StartsWith("SharpGrad.", System.StringComparison.Ordinal);
    }

    /// <summary>
    /// Could a value of this type carry a tensor: a tensor, a tuple, array, collection or record holding one (by its
    /// fields and properties, a few levels deep), or a type that could be anything (object, an interface, a type parameter)?
    /// False for numbers, strings, enums and types without tensor members.
    /// </summary>
    public bool MayHoldTensors(ITypeSymbol? type) => MayHoldTensors(type, 0);

    private bool MayHoldTensors(ITypeSymbol? type, int depth)
    {
        if (type is null) return false;
        if (IsTensor(type) || depth > 3) return true;
        if (type.SpecialType == SpecialType.System_Object || type.TypeKind is TypeKind.TypeParameter or TypeKind.Dynamic) return true;
        if (type.SpecialType != SpecialType.None || type.TypeKind is TypeKind.Enum or TypeKind.Pointer or TypeKind.FunctionPointer) return false;
        if (type is IArrayTypeSymbol array) return MayHoldTensors(array.ElementType, depth + 1);
        if (type is not INamedTypeSymbol named) return true;
        if (named.IsTupleType) return named.TupleElements.Any(e => MayHoldTensors(e.Type, depth + 1));
        if (named.IsGenericType && named.TypeArguments.Any(t => MayHoldTensors(t, depth + 1))) return true;
        if (named.TypeKind is TypeKind.Interface or TypeKind.Delegate) return named.TypeKind is TypeKind.Interface && !named.IsGenericType;
        if (IsModule(named)) return true;
        return named.GetMembers().Any(m => !m.IsStatic && m switch
        {
            IFieldSymbol f => !f.IsImplicitlyDeclared && MayHoldTensors(f.Type, depth + 1),
            IPropertySymbol p => !p.IsIndexer && MayHoldTensors(p.Type, depth + 1),
            _ => false,
        });
    }

    /// <summary>A member of the .NET libraries (System.*, Microsoft.* namespaces): code that does not touch SharpGrad's state.</summary>
    public static bool IsFramework(ISymbol symbol)
    {
        var ns = symbol.ContainingNamespace?.ToDisplayString() ?? "";
        return ns == "System" || ns.StartsWith("System.", System.StringComparison.Ordinal)
            || ns == "Microsoft" || ns.StartsWith("Microsoft.", System.StringComparison.Ordinal);
    }

    public static bool DerivesFrom(ITypeSymbol? type, INamedTypeSymbol baseType)
    {
        for (var t = type; t is not null; t = t.BaseType)
        {
            if (SymbolEqualityComparer.Default.Equals(t.OriginalDefinition, baseType)) return true;
        }
        return false;
    }
}
