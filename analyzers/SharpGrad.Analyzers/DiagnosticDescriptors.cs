using Microsoft.CodeAnalysis;

namespace SharpGrad.Analyzers;

/// <summary>Every SG2xxx diagnostic of the analyzers (DESIGN.md §5), in one place.</summary>
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

    /// <summary>The category of every autograd-usage diagnostic.</summary>
    public const string Category = "SharpGrad.Autograd";

    /// <summary>The category of the model-structure hints (SG2009).</summary>
    public const string DesignCategory = "SharpGrad.Design";

    private const string HelpLinkBase = "https://github.com/sharpgrad/sharpgrad/blob/main/docs/diagnostics/";

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

    private static DiagnosticDescriptor Create(
        string id,
        string title,
        string message,
        string description,
        DiagnosticSeverity severity = DiagnosticSeverity.Warning,
        string category = Category)
        => new(id, title, message, category, severity, isEnabledByDefault: true, description, HelpLinkBase + id + ".md");
}
