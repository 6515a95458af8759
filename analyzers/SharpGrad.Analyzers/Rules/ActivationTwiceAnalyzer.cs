using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace SharpGrad.Analyzers;

/// <summary>
/// SG2012: the input of <c>Losses.CrossEntropy</c> (or <c>CrossEntropyLoss</c>) is a <c>Softmax</c>/<c>LogSoftmax</c> output,
/// or the input of <c>Losses.BinaryCrossEntropyWithLogits</c> (or <c>BCEWithLogitsLoss</c>) a <c>Sigmoid</c> output: the loss
/// applies that activation again. The input is followed through locals, plain local functions and lambdas, a
/// <c>Sequential</c> built in the method whose last layer is the activation, and a module whose <c>Forward</c> returns it.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class ActivationTwiceAnalyzer : DiagnosticAnalyzer
{
    /// <summary>Diagnostic property: the input argument is the activation call itself, so the fix can pass its input instead.</summary>
    public const string InlineProperty = "Inline";

    /// <summary>Diagnostic property: the <c>Losses</c> method that takes the activation's output as it is (<c>Nll</c>, <c>BinaryCrossEntropy</c>), when the call's arguments fit it.</summary>
    public const string AlternativeProperty = "Alternative";

    private static readonly string[] Activations = { "Softmax", "LogSoftmax", "Sigmoid" };

    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } = ImmutableArray.Create(DiagnosticDescriptors.ActivationTwice);

    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterCompilationStartAction(start =>
        {
            if (SharpGradSymbols.TryCreate(start.Compilation) is not { } symbols) return;
            AnalyzerSetup.RegisterWithFacts(start, symbols, (ctx, getFacts) =>
            {
                var call = (IInvocationOperation)ctx.Operation;
                if (LossOf(call, symbols) is not { } loss) return;
                var facts = getFacts();
                if (ActivationOf(facts, loss.Input) is not { } activation || !loss.Doubled.Contains(activation.Name)) return;

                var properties = ImmutableDictionary.CreateBuilder<string, string?>();
                if (MethodFacts.Unwrap(loss.Input) == activation.Call) properties[InlineProperty] = "true";
                string alternative = "";
                if (loss.Alternative is { } name && activation.Name is "LogSoftmax" or "Sigmoid")
                {
                    alternative = loss.IsFunction ? $" — or keep the {(activation.Name == "Sigmoid" ? "probabilities" : "log-probabilities")} and use `Losses.{name}`" : "";
                    if (loss.IsFunction && ArgumentsFit(call, symbols, name)) properties[AlternativeProperty] = name;
                }
                var additional = activation.Call.Syntax.SyntaxTree == call.Syntax.SyntaxTree ? new[] { activation.Call.Syntax.GetLocation() } : null;
                ctx.ReportDiagnostic(Diagnostic.Create(
                    DiagnosticDescriptors.ActivationTwice,
                    loss.Input.Syntax.GetLocation(),
                    additional,
                    properties.ToImmutable(),
                    loss.Name,
                    loss.Applies,
                    AnalyzerSetup.Text(loss.Input),
                    activation.Name,
                    alternative));
            }, OperationKind.Invocation);
        });
    }

    private sealed class Loss
    {
        public Loss(string name, string applies, IOperation input, string[] doubled, string? alternative, bool isFunction)
        {
            Name = name;
            Applies = applies;
            Input = input;
            Doubled = doubled;
            Alternative = alternative;
            IsFunction = isFunction;
        }

        public string Name { get; }
        public string Applies { get; }
        public IOperation Input { get; }
        public string[] Doubled { get; }
        public string? Alternative { get; }
        public bool IsFunction { get; }
    }

    /// <summary>A cross-entropy or BCE-with-logits loss call and its input argument.</summary>
    private static Loss? LossOf(IInvocationOperation call, SharpGradSymbols symbols)
    {
        var method = call.TargetMethod;
        string? kind;
        IOperation? input;
        bool isFunction;
        if (method.IsStatic && symbols.Losses is not null && SymbolEqualityComparer.Default.Equals(method.ContainingType, symbols.Losses))
        {
            kind = method.Name is "CrossEntropy" or "BinaryCrossEntropyWithLogits" ? method.Name : null;
            input = call.Arguments.FirstOrDefault(a => a.Parameter?.Ordinal == 0)?.Value;
            isFunction = true;
        }
        else if (method.Name is "Forward" or "Call" && call.Instance is { Type: { } type } && type.ContainingNamespace?.ToDisplayString() == "SharpGrad.Layers"
            && type.Name is "CrossEntropyLoss" or "BCEWithLogitsLoss")
        {
            kind = type.Name == "CrossEntropyLoss" ? "CrossEntropy" : "BinaryCrossEntropyWithLogits";
            input = FirstInput(call);
            isFunction = false;
        }
        else
        {
            return null;
        }
        if (kind is null || input is null) return null;
        var name = isFunction ? "Losses." + method.Name : AnalyzerSetup.Text(call.Instance!) + "." + method.Name;
        return kind == "CrossEntropy"
            ? new Loss(name, "LogSoftmax", input, new[] { "Softmax", "LogSoftmax" }, "Nll", isFunction)
            : new Loss(name, "Sigmoid", input, new[] { "Sigmoid" }, "BinaryCrossEntropy", isFunction);
    }

    /// <summary>The first tensor passed to <c>Forward(x, …)</c> or <c>Call(x, …)</c> (a <c>params</c> array's first element).</summary>
    private static IOperation? FirstInput(IInvocationOperation call)
    {
        var first = call.Arguments.FirstOrDefault(a => a.Parameter?.Ordinal == 0);
        if (first is null) return null;
        if (first.ArgumentKind == ArgumentKind.ParamArray)
        {
            return first.Value is IArrayCreationOperation { Initializer.ElementValues: { Length: > 0 } elements } ? elements[0] : null;
        }
        return first.Value;
    }

    private readonly struct Activation
    {
        public Activation(string name, IOperation call)
        {
            Name = name;
            Call = call;
        }

        public string Name { get; }
        public IOperation Call { get; }
    }

    /// <summary>The activation whose output the value is, or null.</summary>
    private static Activation? ActivationOf(MethodFacts facts, IOperation input)
    {
        var symbols = facts.Symbols;
        if (facts.ValueOf(input).Operation is not IInvocationOperation call) return null;
        var method = call.TargetMethod;
        if (Activations.Contains(method.Name) && (symbols.IsFunctional(method) || (!method.IsStatic && symbols.IsTensorMethod(method)))) return new Activation(method.Name, call);
        if (method.Name is not ("Forward" or "Call") || call.Instance is not { Type: { } type } module || !symbols.IsModule(type)) return null;
        if (ActivationLayer(type) is { } layer) return new Activation(layer, call);
        if (SymbolEqualityComparer.Default.Equals(type, symbols.Sequential))
        {
            // A Sequential built in this method: its last layer.
            if (facts.ValueOf(module).Operation is IObjectCreationOperation { Arguments: { Length: 1 } arguments }
                && arguments[0].Value is IArrayCreationOperation { Initializer.ElementValues: { Length: > 0 } layers })
            {
                var last = MethodFacts.Unwrap(layers[layers.Length - 1]);
                if (last is ITupleOperation { Elements.Length: 2 } named) last = MethodFacts.Unwrap(named.Elements[1]);
                return last is IObjectCreationOperation { Type: { } lastType } && ActivationLayer(lastType) is { } lastLayer ? new Activation(lastLayer, call) : null;
            }
            return null;
        }
        return ReturnedActivation(method) is { } returned ? new Activation(returned, call) : null;
    }

    private static string? ActivationLayer(ITypeSymbol type)
        => Activations.Contains(type.Name) && type.ContainingNamespace?.ToDisplayString() == "SharpGrad.Layers" ? type.Name : null;

    /// <summary>
    /// For a module's <c>Forward</c> written in this compilation whose one returned expression is an activation —
    /// <c>Functional.Softmax(h, 1)</c>, <c>h.Sigmoid()</c>, or <c>softmax.Forward(h)</c> on a child of an activation layer
    /// type — that activation. Read from the syntax (another method's body), the member called by name.
    /// </summary>
    private static string? ReturnedActivation(IMethodSymbol forward)
    {
        if (forward.DeclaringSyntaxReferences.Length != 1 || forward.DeclaringSyntaxReferences[0].GetSyntax() is not MethodDeclarationSyntax declaration) return null;
        var returned = declaration.ExpressionBody?.Expression;
        if (returned is null && declaration.Body is { Statements: { Count: > 0 } statements } body && statements[statements.Count - 1] is ReturnStatementSyntax last
            && body.DescendantNodes(n => n is not (LambdaExpressionSyntax or LocalFunctionStatementSyntax)).OfType<ReturnStatementSyntax>().Count() == 1)
        {
            returned = last.Expression;
        }
        if (returned is not InvocationExpressionSyntax { Expression: var callee }) return null;
        var name = callee switch
        {
            MemberAccessExpressionSyntax access => access.Name.Identifier.ValueText,
            IdentifierNameSyntax identifier => identifier.Identifier.ValueText,
            _ => null,
        };
        if (name is null) return null;
        if (Activations.Contains(name)) return name;
        if (name is "Forward" or "Call" && callee is MemberAccessExpressionSyntax { Expression: IdentifierNameSyntax child })
        {
            for (var type = forward.ContainingType; type is not null; type = type.BaseType)
            {
                foreach (var member in type.GetMembers(child.Identifier.ValueText))
                {
                    var memberType = member switch { IFieldSymbol f => f.Type, IPropertySymbol p => p.Type, _ => null };
                    if (memberType is not null) return ActivationLayer(memberType);
                }
            }
        }
        return null;
    }

    /// <summary>Do the loss call's arguments mean the same for <c>Losses.{alternative}</c> (positional ones at the same position, named ones by name)?</summary>
    private static bool ArgumentsFit(IInvocationOperation call, SharpGradSymbols symbols, string alternative)
    {
        foreach (var candidate in symbols.Losses!.GetMembers(alternative).OfType<IMethodSymbol>())
        {
            bool fits = true;
            foreach (var argument in call.Arguments)
            {
                if (argument.ArgumentKind == ArgumentKind.DefaultValue || argument.Parameter is null) continue;
                bool named = argument.Syntax is ArgumentSyntax { NameColon: not null };
                var target = named
                    ? candidate.Parameters.FirstOrDefault(p => p.Name == argument.Parameter.Name)
                    : (argument.Parameter.Ordinal < candidate.Parameters.Length ? candidate.Parameters[argument.Parameter.Ordinal] : null);
                if (target is null || target.Name != argument.Parameter.Name || !SymbolEqualityComparer.Default.Equals(target.Type, argument.Parameter.Type))
                {
                    fits = false;
                    break;
                }
            }
            if (fits) return true;
        }
        return false;
    }
}
