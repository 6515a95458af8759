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
    public const string LinearInFeaturesId = "SG1010";
    public const string ConvInChannelsId = "SG1011";
    public const string ViewElementCountId = "SG1012";
    public const string MatMulInnerDimsId = "SG1013";
    public const string BroadcastMismatchId = "SG1014";
    public const string NotCompiledId = "SG1017";
    public const string LossShapesId = "SG1018";
    public const string GraphBreakId = "SG1019";
    public const string SliceShapesId = "SG1021";

    /// <summary>The category of the graph compiler's shape checks (SG1010–SG1016).</summary>
    public const string ShapeCategory = "SharpGrad.Shapes";

    /// <summary>
    /// A message names the page that documents it (docs/diagnostics/SGxxxx.md, in the repository and in the SharpGrad
    /// package's docs/diagnostics folder); no help link, since the project has no public address for it.
    /// </summary>
    private static string WithDocsPage(string message, string id) => message + " (docs/diagnostics/" + id + ".md)";

    /// <summary>SG1001: a [Module] or [Sequential] class is not partial.</summary>
    public static readonly DiagnosticDescriptor ModuleNotPartial = new(
        ModuleNotPartialId,
        title: "A [Module] class must be partial",
        messageFormat: WithDocsPage("The [{0}] class '{1}' must be partial so that SharpGrad can generate its children, parameters and buffers; add the 'partial' modifier to its declaration", ModuleNotPartialId),
        Category,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    /// <summary>SG1002: a [Module] or [Sequential] class is generic.</summary>
    public static readonly DiagnosticDescriptor GenericModule = new(
        GenericModuleId,
        title: "A [Module] class cannot be generic",
        messageFormat: WithDocsPage("The [{0}] class '{1}' is generic, which SharpGrad does not support; remove its type parameters (for example, take the varying part as a constructor argument or a child module)", GenericModuleId),
        Category,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    /// <summary>SG1003: a [Module] class derives from a class that is not a module.</summary>
    public static readonly DiagnosticDescriptor NonModuleBase = new(
        NonModuleBaseId,
        title: "A [Module] class must derive from SharpGrad.Module",
        messageFormat: WithDocsPage("The [{0}] class '{1}' derives from '{2}', which is not a SharpGrad.Module; remove the base class (the generator adds ': Module'), or derive from Module or another [Module] class", NonModuleBaseId),
        Category,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    /// <summary>SG1004: [Buffer] on a member that is not a Tensor.</summary>
    public static readonly DiagnosticDescriptor BufferNotTensor = new(
        BufferNotTensorId,
        title: "[Buffer] must mark a Tensor member",
        messageFormat: WithDocsPage("'{0}.{1}' is marked [Buffer] but has type '{2}'; a buffer must be a SharpGrad.Tensor that is not a Parameter: change its type to Tensor, or remove [Buffer]", BufferNotTensorId),
        Category,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    /// <summary>SG1005: a [Sequential] child has no Forward(Tensor) → Tensor.</summary>
    public static readonly DiagnosticDescriptor SequentialChildWithoutForward = new(
        SequentialChildWithoutForwardId,
        title: "A [Sequential] child must have Forward(Tensor) returning Tensor",
        messageFormat: WithDocsPage("The child '{1}' of [Sequential] class '{0}' has type '{2}', which has no public 'Tensor Forward(Tensor)' method, so it cannot run in sequence; give it one, or use a [Module] class with a hand-written Forward", SequentialChildWithoutForwardId),
        Category,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    /// <summary>SG1006: a type containing a [Module] class is not partial.</summary>
    public static readonly DiagnosticDescriptor ContainingTypeNotPartial = new(
        ContainingTypeNotPartialId,
        title: "A type containing a [Module] class must be partial",
        messageFormat: WithDocsPage("The type '{0}' contains the [{1}] class '{2}' and must be partial so that SharpGrad can generate code inside it; add the 'partial' modifier to '{0}'", ContainingTypeNotPartialId),
        Category,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    /// <summary>SG1007: two members map to the same state name.</summary>
    public static readonly DiagnosticDescriptor DuplicateStateName = new(
        DuplicateStateNameId,
        title: "Two members of a [Module] class have the same state name",
        messageFormat: WithDocsPage("'{0}.{1}' has the state name '{2}', which '{0}.{3}' already has, so the state dict could not tell them apart; rename one of them", DuplicateStateNameId),
        Category,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    /// <summary>SG1010: a Linear child gets an input whose last dim is not its in-features.</summary>
    public static readonly DiagnosticDescriptor LinearInFeatures = new(
        LinearInFeaturesId,
        title: "Linear in-features do not match the input",
        messageFormat: WithDocsPage("'{0}' is {1} and expects {2} input features, but `{3}` has shape {4} here{5}; change it to {6}, or fix the expression that produces `{3}`", LinearInFeaturesId),
        ShapeCategory,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    /// <summary>SG1011: a convolution child gets an input whose channel dim is not its in-channels.</summary>
    public static readonly DiagnosticDescriptor ConvInChannels = new(
        ConvInChannelsId,
        title: "Convolution in-channels do not match the input",
        messageFormat: WithDocsPage("'{0}' is {1} and expects input with {2} channels, but `{3}` has shape {4} here{5}; change it to {6}, or fix the expression that produces `{3}`", ConvInChannelsId),
        ShapeCategory,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    /// <summary>SG1012: View/Reshape to a shape with a different number of elements.</summary>
    public static readonly DiagnosticDescriptor ViewElementCount = new(
        ViewElementCountId,
        title: "View/Reshape changes the number of elements",
        messageFormat: WithDocsPage("`{0}` cannot turn `{1}` of shape {2} ({3} elements) into {4}: {5}; change the sizes so that their product is {3}, or fix the layers before it", ViewElementCountId),
        ShapeCategory,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    /// <summary>SG1013: MatMul operands whose inner dims differ.</summary>
    public static readonly DiagnosticDescriptor MatMulInnerDims = new(
        MatMulInnerDimsId,
        title: "MatMul inner dims do not match",
        messageFormat: WithDocsPage("`{0}` multiplies `{1}` of shape {2} by `{3}` of shape {4}, but the inner dims differ ({5} vs {6}); transpose one operand or fix the sizes so that the last dim of the first equals the second-to-last of the second", MatMulInnerDimsId),
        ShapeCategory,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    /// <summary>SG1014: operands of an elementwise op that do not broadcast.</summary>
    public static readonly DiagnosticDescriptor BroadcastMismatch = new(
        BroadcastMismatchId,
        title: "Shapes do not broadcast",
        messageFormat: WithDocsPage("`{0}` combines `{1}` of shape {2} with `{3}` of shape {4}, which do not broadcast (sizes {5} and {6} at dim {7} from the right); make them equal or 1, for example with Unsqueeze or View", BroadcastMismatchId),
        ShapeCategory,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    /// <summary>
    /// SG1017: a parsed module gets no <c>Compile()</c> at all (a warning: the model is valid and runs eagerly), for a reason
    /// a graph break cannot take: a method the generated program cannot re-declare, or a name it needs. What the code
    /// generator does not emit is a graph break (SG1019), not this.
    /// </summary>
    public static readonly DiagnosticDescriptor NotCompiled = new(
        NotCompiledId,
        title: "This module gets no Compile()",
        messageFormat: WithDocsPage("'{0}' gets no Compile(): {1}; the model still runs eagerly ({2}, or mark the class [Module(Compile = false)] to silence this)", NotCompiledId),
        ShapeCategory,
        DiagnosticSeverity.Warning,
        isEnabledByDefault: true);

    /// <summary>SG1018: a loss's input and target shapes cannot match (an error, like the other shape mismatches).</summary>
    public static readonly DiagnosticDescriptor LossShapes = new(
        LossShapesId,
        title: "Loss input and target shapes do not match",
        messageFormat: WithDocsPage("`{0}` computes a loss of `{1}` with shape {2} against `{3}` with shape {4}, but that loss needs a target of shape {5}; reshape the target or the input", LossShapesId),
        ShapeCategory,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    /// <summary>SG1021: a slicing or joining op whose arguments cannot fit its input's shape (Narrow past the end, Cat of mismatched shapes).</summary>
    public static readonly DiagnosticDescriptor SliceShapes = new(
        SliceShapesId,
        title: "Slicing or joining does not fit the shapes",
        messageFormat: WithDocsPage("`{0}` cannot take `{1}` with shape {2}: {3}; {4}", SliceShapesId),
        ShapeCategory,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    /// <summary>
    /// SG1019: a construct the compiler does not take breaks the graph (info, never an error: the model is valid). The
    /// part of the method it starts runs eagerly inside the generated <c>Compiled</c> program (PyTorch: a
    /// <c>torch.compile</c> graph break, listed by <c>Compiled.Explanation</c> as <c>torch._dynamo.explain</c> lists them).
    /// </summary>
    public static readonly DiagnosticDescriptor GraphBreak = new(
        GraphBreakId,
        title: "Graph break: this part of the module runs eagerly",
        messageFormat: WithDocsPage("'{0}' breaks the compiled graph at {1}; that part runs eagerly inside Compile() (to compile it: {2})", GraphBreakId),
        ShapeCategory,
        DiagnosticSeverity.Info,
        isEnabledByDefault: true);

    public static DiagnosticDescriptor ById(string id) => id switch
    {
        ModuleNotPartialId => ModuleNotPartial,
        GenericModuleId => GenericModule,
        NonModuleBaseId => NonModuleBase,
        BufferNotTensorId => BufferNotTensor,
        SequentialChildWithoutForwardId => SequentialChildWithoutForward,
        ContainingTypeNotPartialId => ContainingTypeNotPartial,
        DuplicateStateNameId => DuplicateStateName,
        LinearInFeaturesId => LinearInFeatures,
        ConvInChannelsId => ConvInChannels,
        ViewElementCountId => ViewElementCount,
        MatMulInnerDimsId => MatMulInnerDims,
        BroadcastMismatchId => BroadcastMismatch,
        NotCompiledId => NotCompiled,
        LossShapesId => LossShapes,
        SliceShapesId => SliceShapes,
        GraphBreakId => GraphBreak,
        _ => throw new ArgumentOutOfRangeException(nameof(id), id, "Unknown SharpGrad generator diagnostic id."),
    };
}
