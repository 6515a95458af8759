namespace SharpGrad.Generator;

/// <summary>Names of the incremental steps (<c>WithTrackingName</c>), so tests can assert what was cached.</summary>
internal static class TrackingNames
{
    /// <summary>[Module] classes → specs (null for a class also marked [Sequential]).</summary>
    public const string ModuleSpecs = "ModuleSpecs";

    /// <summary>[Sequential] classes → specs.</summary>
    public const string SequentialSpecs = "SequentialSpecs";

    /// <summary>Specs filtered to the non-null ones.</summary>
    public const string PresentSpecs = "PresentSpecs";

    /// <summary>Specs without nulls, typed as non-nullable.</summary>
    public const string NonNullSpecs = "NonNullSpecs";

    /// <summary>Every module's uninlined graph, collected (what the inliner joins children against).</summary>
    public const string ModuleLibrary = "ModuleLibrary";

    /// <summary>Specs after the inlining pass (user children, Sequentials and this.Forward expanded; input shapes inferred).</summary>
    public const string InlinedSpecs = "InlinedSpecs";

    /// <summary>Specs after shape inference over their graph IR (unchanged for modules without one).</summary>
    public const string CheckedSpecs = "CheckedSpecs";

    /// <summary>The diagnostics of each spec.</summary>
    public const string Diagnostics = "Diagnostics";

    /// <summary>Each spec without its diagnostics: what the emitter reads.</summary>
    public const string EmitSpecs = "EmitSpecs";

    /// <summary>Each checked spec planned for compilation: rules, geometry, fusions, buffers (and SG1017 as data).</summary>
    public const string PlannedModules = "PlannedModules";

    /// <summary>The SG1017 diagnostic of each planned module (null when it compiled or has no program).</summary>
    public const string NotCompiled = "NotCompiled";

    /// <summary>The planned programs without their diagnostic: what the Compiled emitter reads.</summary>
    public const string Programs = "Programs";

    /// <summary>Direct <c>child.Forward(x)</c> calls to intercept (null for other invocations).</summary>
    public const string ForwardCalls = "ForwardCalls";

    /// <summary>The invocations that are interceptable Forward calls.</summary>
    public const string PresentForwardCalls = "PresentForwardCalls";

    /// <summary>The interceptable calls, collected (an ImmutableArray, compared by reference).</summary>
    public const string CollectedForwardCalls = "CollectedForwardCalls";

    /// <summary>All intercepted calls, collected into one equatable array.</summary>
    public const string AllForwardCalls = "AllForwardCalls";

    /// <summary>Loss calls on a compiled Forward's output to intercept (null for other invocations).</summary>
    public const string LossCalls = "LossCalls";

    /// <summary>All intercepted loss calls, collected into one equatable array.</summary>
    public const string AllLossCalls = "AllLossCalls";

    /// <summary>Whether the compilation references SharpGrad.Onnx (its <c>IOnnxExportable</c>): a bool, so it stays cached.</summary>
    public const string OnnxReferenced = "OnnxReferenced";

    /// <summary>The specs whose ONNX export is emitted (null where SharpGrad.Onnx is not referenced).</summary>
    public const string OnnxSpecs = "OnnxSpecs";
}
