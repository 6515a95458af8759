using System;
using Microsoft.CodeAnalysis;

namespace SharpGrad.Generator;

/// <summary>Every diagnostic the SharpGrad generator reports (SG1xxx). Documented in docs/diagnostics/SGxxxx.md.</summary>
internal static class DiagnosticDescriptors
{
    public const string Category = "SharpGrad.Generator";

    public const string ModuleNotPartialId = "SG1001";
    public const string GenericModuleId = "SG1002";
    public const string NonModuleBaseId = "SG1003";
    public const string BufferNotTensorId = "SG1004";
    public const string SequentialChildWithoutForwardId = "SG1005";
    public const string ContainingTypeNotPartialId = "SG1006";
    public const string DuplicateStateNameId = "SG1007";

    private static string HelpLink(string id) => $"https://github.com/sharpgrad/sharpgrad/blob/main/docs/diagnostics/{id}.md";

    /// <summary>SG1001: a [Module] or [Sequential] class is not partial.</summary>
    public static readonly DiagnosticDescriptor ModuleNotPartial = new(
        ModuleNotPartialId,
        title: "A [Module] class must be partial",
        messageFormat: "The [{0}] class '{1}' must be partial so that SharpGrad can generate its children, parameters and buffers; add the 'partial' modifier to its declaration",
        Category,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpLink(ModuleNotPartialId));

    /// <summary>SG1002: a [Module] or [Sequential] class is generic.</summary>
    public static readonly DiagnosticDescriptor GenericModule = new(
        GenericModuleId,
        title: "A [Module] class cannot be generic",
        messageFormat: "The [{0}] class '{1}' is generic, which SharpGrad does not support; remove its type parameters (for example, take the varying part as a constructor argument or a child module)",
        Category,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpLink(GenericModuleId));

    /// <summary>SG1003: a [Module] class derives from a class that is not a module.</summary>
    public static readonly DiagnosticDescriptor NonModuleBase = new(
        NonModuleBaseId,
        title: "A [Module] class must derive from SharpGrad.Module",
        messageFormat: "The [{0}] class '{1}' derives from '{2}', which is not a SharpGrad.Module; remove the base class (the generator adds ': Module'), or derive from Module or another [Module] class",
        Category,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpLink(NonModuleBaseId));

    /// <summary>SG1004: [Buffer] on a member that is not a Tensor.</summary>
    public static readonly DiagnosticDescriptor BufferNotTensor = new(
        BufferNotTensorId,
        title: "[Buffer] must mark a Tensor member",
        messageFormat: "'{0}.{1}' is marked [Buffer] but has type '{2}'; a buffer must be a SharpGrad.Tensor that is not a Parameter: change its type to Tensor, or remove [Buffer]",
        Category,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpLink(BufferNotTensorId));

    /// <summary>SG1005: a [Sequential] child has no Forward(Tensor) → Tensor.</summary>
    public static readonly DiagnosticDescriptor SequentialChildWithoutForward = new(
        SequentialChildWithoutForwardId,
        title: "A [Sequential] child must have Forward(Tensor) returning Tensor",
        messageFormat: "The child '{1}' of [Sequential] class '{0}' has type '{2}', which has no public 'Tensor Forward(Tensor)' method, so it cannot run in sequence; give it one, or use a [Module] class with a hand-written Forward",
        Category,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpLink(SequentialChildWithoutForwardId));

    /// <summary>SG1006: a type containing a [Module] class is not partial.</summary>
    public static readonly DiagnosticDescriptor ContainingTypeNotPartial = new(
        ContainingTypeNotPartialId,
        title: "A type containing a [Module] class must be partial",
        messageFormat: "The type '{0}' contains the [{1}] class '{2}' and must be partial so that SharpGrad can generate code inside it; add the 'partial' modifier to '{0}'",
        Category,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpLink(ContainingTypeNotPartialId));

    /// <summary>SG1007: two members map to the same state name.</summary>
    public static readonly DiagnosticDescriptor DuplicateStateName = new(
        DuplicateStateNameId,
        title: "Two members of a [Module] class have the same state name",
        messageFormat: "'{0}.{1}' has the state name '{2}', which '{0}.{3}' already has, so the state dict could not tell them apart; rename one of them",
        Category,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpLink(DuplicateStateNameId));

    public static DiagnosticDescriptor ById(string id) => id switch
    {
        ModuleNotPartialId => ModuleNotPartial,
        GenericModuleId => GenericModule,
        NonModuleBaseId => NonModuleBase,
        BufferNotTensorId => BufferNotTensor,
        SequentialChildWithoutForwardId => SequentialChildWithoutForward,
        ContainingTypeNotPartialId => ContainingTypeNotPartial,
        DuplicateStateNameId => DuplicateStateName,
        _ => throw new ArgumentOutOfRangeException(nameof(id), id, "Unknown SharpGrad generator diagnostic id."),
    };
}
