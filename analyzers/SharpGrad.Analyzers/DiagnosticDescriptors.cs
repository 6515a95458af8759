using Microsoft.CodeAnalysis;

namespace SharpGrad.Analyzers;

/// <summary>
/// Every SG2xxx diagnostic of the analyzers (DESIGN.md §5), in one place. Each message ends with the page that documents
/// it, docs/diagnostics/SGxxxx.md — in the repository and in the SharpGrad package's docs/diagnostics folder — and there is
/// no help link: the project has no public address to point at.
/// </summary>
public static class DiagnosticDescriptors
{
    public const string NonScalarBackwardId = "SG2001";
    public const string NonLeafGradId = "SG2002";
    public const string SecondBackwardId = "SG2003";
    public const string MissingZeroGradId = "SG2004";
    public const string ViewOfTransposedId = "SG2005";
    public const string NonLeafRequiresGradId = "SG2006";
    public const string InPlaceOnSavedId = "SG2007";
    public const string InferenceWithGradId = "SG2008";
    public const string RuntimeSequentialId = "SG2009";
    public const string TrainingInEvalModeId = "SG2010";
    public const string AccumulatedGraphId = "SG2011";
    public const string ActivationTwiceId = "SG2012";
    public const string BackwardWithoutGraphId = "SG2013";
    public const string ParametersAfterOptimizerId = "SG2014";

    /// <summary>The category of every autograd-usage diagnostic.</summary>
    public const string Category = "SharpGrad.Autograd";

    /// <summary>The category of the model-structure hints (SG2009).</summary>
    public const string DesignCategory = "SharpGrad.Design";

    public static readonly DiagnosticDescriptor NonScalarBackward = Create(
        NonScalarBackwardId,
        "Backward() on a tensor that is not a scalar",
        "`Backward()` needs a scalar, but `{0}` has shape {1}; reduce it with `.Sum()` or `.Mean()`, or pass `gradient:`",
        "Backward() without a gradient: argument works only on a one-element tensor (PyTorch: \"grad can be implicitly created only for scalar outputs\"). Reduce the tensor to a scalar loss first, or pass a gradient of the same shape.");

    public static readonly DiagnosticDescriptor NonLeafGrad = Create(
        NonLeafGradId,
        "Reading .Grad of a non-leaf tensor",
        "`{0}` is the result of an op (not a leaf), so `{0}.Grad` stays null after `Backward()`; call `{0}.RetainGrad()` before the backward",
        "Only leaf tensors that require grad keep .Grad after Backward(). An op's result gets a .Grad only when RetainGrad() was called on it before the backward (PyTorch warns: \"The .grad attribute of a Tensor that is not a leaf Tensor is being accessed\").");

    public static readonly DiagnosticDescriptor SecondBackward = Create(
        SecondBackwardId,
        "Second Backward() through a freed graph",
        "This `Backward()` goes through the graph of `{0}` again, but the first `Backward()` (on `{1}`) freed its saved tensors; pass `retainGraph: true` to the first `Backward()`",
        "Backward() frees the tensors the graph saved for the backward pass. A second Backward() through the same graph throws (PyTorch: \"Trying to backward through the graph a second time\") unless the first one passed retainGraph: true.");

    public static readonly DiagnosticDescriptor MissingZeroGrad = Create(
        MissingZeroGradId,
        "Training loop never calls ZeroGrad()",
        "`{0}.Step()` runs in a loop that calls `Backward()` but never `ZeroGrad()`: gradients add up across iterations; call `{0}.ZeroGrad()` at the top of the loop",
        "Gradients accumulate across Backward() calls until ZeroGrad(). A training loop that steps the optimizer without zeroing trains on the sum of all past gradients.");

    public static readonly DiagnosticDescriptor ViewOfTransposed = Create(
        ViewOfTransposedId,
        "View() of a transposed tensor",
        "`View({0})` of `{1}` fails at run time: the result of `{2}` (shape {3}) is not contiguous in a way that allows this view; use `Reshape({0})` or `.Contiguous().View({0})`",
        "View() shares storage and needs compatible strides; Transpose and Permute produce strides that most views cannot use (PyTorch: \"view size is not compatible with input tensor's size and stride\").");

    public static readonly DiagnosticDescriptor NonLeafRequiresGrad = Create(
        NonLeafRequiresGradId,
        "requiresGrad: true tensor fed into an op and stored",
        "The tensor created with `requiresGrad: true` goes straight into `{0}`, so `{1}` holds the op's result, a non-leaf whose `.Grad` stays null; move the op into the creation's argument and call `.RequiresGrad_()`, or use `.Detach().RequiresGrad_()`",
        "A tensor created with requiresGrad: true is a leaf, but the result of an op on it is not: after Backward() its .Grad is null and an optimizer given it does nothing (PyTorch: \"can't optimize a non-leaf Tensor\").");

    public static readonly DiagnosticDescriptor InPlaceOnSaved = Create(
        InPlaceOnSavedId,
        "In-place op on a tensor saved for backward",
        "`{0}` modifies `{1}` in place, but `{2}` saved it for the backward pass, so the later `Backward()` throws; use the out-of-place op",
        "Ops save some of their inputs or outputs for the backward pass. Modifying a saved tensor in place bumps its version and the backward refuses to use it (PyTorch: \"one of the variables needed for gradient computation has been modified by an inplace operation\").");

    public static readonly DiagnosticDescriptor InferenceWithGrad = Create(
        InferenceWithGradId,
        "Inference with gradient recording on",
        "`{0}.Forward(...)` runs outside `Autograd.NoGrad()` and nothing calls `Backward()` on its result: the graph is recorded for nothing; wrap it in `using (Autograd.NoGrad())`{1}",
        "Inference that never calls Backward() should run under Autograd.NoGrad() (PyTorch: torch.no_grad()) so no graph is recorded, and with the model in eval mode (model.Eval()) so Dropout and BatchNorm behave as at test time.",
        DiagnosticSeverity.Info);

    public static readonly DiagnosticDescriptor RuntimeSequential = Create(
        RuntimeSequentialId,
        "Sequential built at run time could be compiled",
        "This `Sequential` is built at run time from {0} layer(s) with constant arguments; as fields of a `[Module]` class they would be compiled by the generator (forward and backward)",
        "A Sequential assembled at run time runs eagerly. The same layers declared as readonly fields of a [Module] (or [Sequential]) class are compiled by the SharpGrad generator into a fused, shape-checked program.",
        DiagnosticSeverity.Info,
        DesignCategory);

    public static readonly DiagnosticDescriptor TrainingInEvalMode = Create(
        TrainingInEvalModeId,
        "Training step while the model is in eval mode",
        "`{0}.Step()` trains `{1}` in a loop that `{1}.Eval()` reaches with no `{1}.Train()` on the way: Dropout and BatchNorm stay in inference mode while training; call `{1}.Train()` before the training steps",
        "model.Eval() switches Dropout off and makes BatchNorm normalise with its running statistics (PyTorch: model.eval()). Training steps taken in that mode train a different network than the one used later, and BatchNorm's running statistics stop updating. Call model.Train() before training again (PyTorch: model.train()) — typically at the top of each epoch, when the epoch ends with an evaluation.");

    public static readonly DiagnosticDescriptor AccumulatedGraph = Create(
        AccumulatedGraphId,
        "Loss that requires grad accumulated across loop iterations",
        "`{0}` requires grad and is accumulated into `{1}` across loop iterations, which keeps the graph of every iteration alive; accumulate `{0}.Item()` (a float) or `{0}.Detach()` instead",
        "Adding a tensor that requires grad to a running total, or keeping it in a list, records the addition and keeps the whole graph of every iteration — activations included — in memory until the total is dropped (PyTorch's classic leak: total_loss += loss). Accumulate a plain number (loss.Item()) or a detached tensor (loss.Detach()). Totals that are themselves differentiated later (Backward on the sum) are intended and not reported.");

    public static readonly DiagnosticDescriptor ActivationTwice = Create(
        ActivationTwiceId,
        "Loss input already passed through the loss's own activation",
        "`{0}` applies {1} to its input itself, but `{2}` is already the output of `{3}`: it is applied twice; pass the raw scores (logits){4}",
        "Losses.CrossEntropy applies LogSoftmax to its input, and Losses.BinaryCrossEntropyWithLogits applies Sigmoid (PyTorch: CrossEntropyLoss and BCEWithLogitsLoss expect unnormalised logits). Given a Softmax, LogSoftmax or Sigmoid output they squash the scores a second time: the loss still goes down, but its gradients are flattened and training stalls or converges to a worse model.");

    public static readonly DiagnosticDescriptor BackwardWithoutGraph = Create(
        BackwardWithoutGraphId,
        "Backward() on a value computed without gradient recording",
        "`{0}` was computed inside `Autograd.NoGrad()` (by `{1}`), so it has no graph and `Backward()` throws; compute it outside the no-grad scope",
        "Inside Autograd.NoGrad() (PyTorch: torch.no_grad()) no op is recorded: a value computed there — or computed later from such values alone — is a leaf that does not require grad, and Backward() on it throws (PyTorch: \"element 0 of tensors does not require grad and does not have a grad_fn\").");

    public static readonly DiagnosticDescriptor ParametersAfterOptimizer = Create(
        ParametersAfterOptimizerId,
        "Parameters added to a module after its optimizer was built",
        "`{0}` adds parameters to `{1}` after `{2}` was built from its parameters: the optimizer never updates them; build the optimizer once the model is complete",
        "An optimizer takes its list of parameters when it is built (PyTorch: optim.SGD(model.parameters(), …)). Layers added to the model afterwards — Sequential.Add/Append, ModuleList.Append/Extend, a new child assigned — bring parameters the optimizer does not know: they keep their initial values while the rest of the model trains.");

    private static DiagnosticDescriptor Create(
        string id,
        string title,
        string message,
        string description,
        DiagnosticSeverity severity = DiagnosticSeverity.Warning,
        string category = Category)
        => new(id, title, message + " (docs/diagnostics/" + id + ".md)", category, severity, isEnabledByDefault: true, description);
}
