using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using SharpGrad.Generator.Model;

namespace SharpGrad.Generator;

/// <summary>
/// Generates the plumbing of <c>[Module]</c> and <c>[Sequential]</c> classes: their named children, parameters and
/// buffers and a <c>ForwardDynamic</c> that calls <c>Forward</c>; for <c>[Sequential]</c> also <c>Forward</c> itself.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class ModuleGenerator : IIncrementalGenerator
{
    /// <inheritdoc/>
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var modules = context.SyntaxProvider
            .ForAttributeWithMetadataName(
                ModuleParser.ModuleAttributeName,
                static (node, _) => node is ClassDeclarationSyntax,
                static (ctx, token) => ModuleParser.Parse(ctx, isSequential: false, token))
            .WithTrackingName(TrackingNames.ModuleSpecs);

        var sequentials = context.SyntaxProvider
            .ForAttributeWithMetadataName(
                ModuleParser.SequentialAttributeName,
                static (node, _) => node is ClassDeclarationSyntax,
                static (ctx, token) => ModuleParser.Parse(ctx, isSequential: true, token))
            .WithTrackingName(TrackingNames.SequentialSpecs);

        var presentModules = NonNull(modules);
        var presentSequentials = NonNull(sequentials);

        // Every module's uninlined graph, for the inliner to join children by type name. An edit of one module's body
        // changes this array (so each module's inlining step re-runs), but a module whose inlined graph does not
        // change stays Cached/Unchanged from shape inference on.
        var library = presentModules.Collect()
            .Combine(presentSequentials.Collect())
            .Select(static (pair, _) => pair.Left.Concat(pair.Right)
                .Where(static s => s.Graph is not null)
                .Select(static s => new ModuleLibraryEntry(s.FullName, s.IsSequential, s.Graph!))
                .ToEquatableArray())
            .WithTrackingName(TrackingNames.ModuleLibrary);

        // ONNX export is emitted only where the compilation references SharpGrad.Onnx (SharpGrad does not depend on it).
        var onnxReferenced = context.CompilationProvider
            .Select(static (c, _) => c.GetTypeByMetadataName(OnnxEmitter.ExportInterface) is not null)
            .WithTrackingName(TrackingNames.OnnxReferenced);

        Register(context, presentModules, library, onnxReferenced);
        Register(context, presentSequentials, library, onnxReferenced);

        // Direct child.Forward(x) calls → interceptors that run the child's hooks.
        var forwardCalls = context.SyntaxProvider
            .CreateSyntaxProvider(
                static (node, _) => InterceptorParser.IsCandidate(node),
                static (ctx, token) => InterceptorParser.Parse(ctx, token))
            .WithTrackingName(TrackingNames.ForwardCalls)
            .Where(static c => c is not null)
            .WithTrackingName(TrackingNames.PresentForwardCalls)
            .Collect()
            .WithTrackingName(TrackingNames.CollectedForwardCalls)
            .Select(static (calls, _) => calls.Select(static c => c!).ToEquatableArray())
            .WithTrackingName(TrackingNames.AllForwardCalls);
        context.RegisterSourceOutput(forwardCalls, static (spc, calls) =>
        {
            if (calls.IsEmpty) return;
            spc.AddSource(InterceptorEmitter.HintName, InterceptorEmitter.Emit(calls));
        });

        // Losses.CrossEntropy(c.Forward(x), y) on a compiled program → the compiled loss head (one tape node).
        var lossCalls = context.SyntaxProvider
            .CreateSyntaxProvider(
                static (node, _) => LossInterceptorParser.IsCandidate(node),
                static (ctx, token) => LossInterceptorParser.Parse(ctx, token))
            .WithTrackingName(TrackingNames.LossCalls)
            .Where(static c => c is not null)
            .Collect()
            .Select(static (calls, _) => calls.Select(static c => c!).ToEquatableArray())
            .WithTrackingName(TrackingNames.AllLossCalls);
        context.RegisterSourceOutput(lossCalls, static (spc, calls) =>
        {
            if (calls.IsEmpty) return;
            spc.AddSource(LossInterceptorEmitter.HintName, LossInterceptorEmitter.Emit(calls));
        });
    }

    private static IncrementalValuesProvider<ModuleSpec> NonNull(IncrementalValuesProvider<ModuleSpec?> specs)
        => specs
            .Where(static s => s is not null)
            .WithTrackingName(TrackingNames.PresentSpecs)
            .Select(static (s, _) => s!)
            .WithTrackingName(TrackingNames.NonNullSpecs);

    private static void Register(IncrementalGeneratorInitializationContext context, IncrementalValuesProvider<ModuleSpec> specs,
        IncrementalValueProvider<EquatableArray<ModuleLibraryEntry>> library, IncrementalValueProvider<bool> onnxReferenced)
    {
        var nonNull = specs
            .Combine(library)
            .Select(static (pair, token) => Inliner.Run(pair.Left, pair.Right, token))
            .WithTrackingName(TrackingNames.InlinedSpecs)
            .Select(static (s, token) => ShapeInference.Run(s, token))
            .WithTrackingName(TrackingNames.CheckedSpecs);

        var diagnostics = nonNull
            .Select(static (s, _) => s.Diagnostics)
            .WithTrackingName(TrackingNames.Diagnostics);
        context.RegisterSourceOutput(diagnostics, static (spc, list) =>
        {
            foreach (var info in list) spc.ReportDiagnostic(info.ToDiagnostic());
        });

        var emitSpecs = nonNull
            .Select(static (s, _) => s with { Diagnostics = default })
            .WithTrackingName(TrackingNames.EmitSpecs);
        context.RegisterSourceOutput(emitSpecs, static (spc, spec) =>
        {
            if (!spec.CanEmit) return;
            spc.AddSource(ModuleEmitter.HintName(spec), ModuleEmitter.Emit(spec));
            // ShapeInfo only where the compiler knows a shape (declared, inferred from the first layer, or an output).
            if (spec.Shapes.Any(static m => m.Output is not null || m.Inputs.Any(static i => i.Shape is not null)))
                spc.AddSource(ShapeInfoEmitter.HintName(spec), ShapeInfoEmitter.Emit(spec));
        });

        // The ONNX export (Net.Onnx.g.cs), from the inlined, shape-checked graph, when SharpGrad.Onnx is referenced.
        var onnxSpecs = emitSpecs
            .Combine(onnxReferenced)
            .Select(static (pair, _) => pair.Right ? pair.Left : null)
            .WithTrackingName(TrackingNames.OnnxSpecs);
        context.RegisterSourceOutput(onnxSpecs, static (spc, spec) =>
        {
            if (spec is not null && OnnxEmitter.Emit(spec) is { } source) spc.AddSource(OnnxEmitter.HintName(spec), source);
        });

        // Planning (fusion, liveness, buffers), a step of its own: its diagnostic (SG1017) as data, then emission.
        var planned = nonNull
            .Select(static (s, token) => Planner.Plan(s, token))
            .WithTrackingName(TrackingNames.PlannedModules);
        var notCompiled = planned
            .Select(static (p, _) => p.Breaks)
            .WithTrackingName(TrackingNames.NotCompiled);
        context.RegisterSourceOutput(notCompiled, static (spc, list) =>
        {
            foreach (var info in list) spc.ReportDiagnostic(info.ToDiagnostic());
        });
        var programs = planned
            .Select(static (p, _) => p with { Breaks = default })
            .WithTrackingName(TrackingNames.Programs);
        context.RegisterSourceOutput(programs, static (spc, p) =>
        {
            if (p.Program is not { } program) return;
            spc.AddSource(CompiledEmitter.HintName(p.Spec), CompiledEmitter.Emit(p.Spec, program));
            if (!program.Runners.IsEmpty) spc.AddSource(RegionEmitter.HintName(p.Spec), RegionEmitter.Emit(p.Spec, program));
        });
    }
}
