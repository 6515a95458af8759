// Shared source (runtime, generator, analyzers): see Dim.cs.
using System.Collections.Generic;

namespace SharpGrad.Ops;

internal static partial class OpDefaults
{
    /// <summary>The <c>Reduction</c> of every loss: Mean (as the enum's value; PyTorch: <c>reduction='mean'</c>).</summary>
    public const int Reduction = 1;

    /// <summary>PyTorch: <c>cross_entropy(ignore_index=-100, label_smoothing=0.0)</c>.</summary>
    public static class CrossEntropy
    {
        public const long IgnoreIndex = -100;
        public const double LabelSmoothing = 0.0;
    }
}

internal static partial class OpCatalogue
{
    private static ScalarParam ReductionParam() => Opt("reduction", "reduction", ParamKind.Reduction, OpDefaults.Reduction) with { Property = "Reduction" };

    private static OpRow LossRow(string name, string pyTorchName, string layer, bool classIndex, params ScalarParam[] parameters)
        => new(name, pyTorchName, classIndex ? OpFamily.ClassIndexLoss : OpFamily.ElementwiseLoss, OpSurface.Losses)
        {
            Layer = layer,
            Inputs = In("input", classIndex ? "!target" : "target"),
            TensorArity = -1,
            Params = [.. parameters, ReductionParam()],
            Shape = c => ShapeRules.Loss(c.Input(0), c.Input(1), classIndex, c.Number("reduction")),
            Reads = BackwardReads.Input,
        };

    private static OpRow EagerLoss(string name, string pyTorchName, string layer, params ScalarParam[] parameters)
        => new(name, pyTorchName, OpFamily.Composite, OpSurface.Losses)
        {
            Layer = layer, TensorArity = -1, Params = [.. parameters, ReductionParam()],
            Shape = static c => c.Number("reduction") is { } r && r != 0 ? TensorShape.Scalar : ShapeResult.Unknown,
        };

    /// <summary>The losses (<c>Losses.*</c>, PyTorch's <c>torch.nn.functional</c> losses) and their <c>torch.nn</c> modules.</summary>
    private static IEnumerable<OpRow> LossRows() =>
    [
        LossRow("CrossEntropy", "cross_entropy", "CrossEntropyLoss", classIndex: true,
            Opt("ignoreIndex", "ignore_index", ParamKind.Int, (int)OpDefaults.CrossEntropy.IgnoreIndex) with { Property = "IgnoreIndex" },
            Opt("labelSmoothing", "label_smoothing", ParamKind.Double, OpDefaults.CrossEntropy.LabelSmoothing) with { Property = "LabelSmoothing" })
            with { Inputs = In("input", "!target", "!weight?"), Reads = BackwardReads.Saved, Saves = ["log_probabilities"], Kernel = "ClassIndexLoss",
                Variant = true,
                Compiled = true, Onnx = "SoftmaxCrossEntropyLoss" },
        LossRow("Nll", "nll_loss", "NLLLoss", classIndex: true,
            Opt("ignoreIndex", "ignore_index", ParamKind.Int, (int)OpDefaults.CrossEntropy.IgnoreIndex) with { Property = "IgnoreIndex" })
            with { Inputs = In("input", "!target", "!weight?"), Reads = BackwardReads.None, Kernel = "ClassIndexLoss", Compiled = true,
                Onnx = "NegativeLogLikelihoodLoss" },
        LossRow("Mse", "mse_loss", "MSELoss", classIndex: false) with { Kernel = "MseLossOp", Compiled = true },
        LossRow("L1", "l1_loss", "L1Loss", classIndex: false) with { Kernel = "L1LossOp", Compiled = true },
        LossRow("BinaryCrossEntropyWithLogits", "binary_cross_entropy_with_logits", "BCEWithLogitsLoss", classIndex: false)
            with { Inputs = In("input", "target", "!weight?", "!posWeight?"), Kernel = "BceWithLogitsLossOp", Compiled = true },
        LossRow("BinaryCrossEntropy", "binary_cross_entropy", "BCELoss", classIndex: false) with { Inputs = In("input", "target", "!weight?") },
        LossRow("Huber", "huber_loss", "HuberLoss", classIndex: false, Opt("delta", "delta", ParamKind.Double, 1.0) with { Property = "Delta" }),
        LossRow("SmoothL1", "smooth_l1_loss", "SmoothL1Loss", classIndex: false, Opt("beta", "beta", ParamKind.Double, 1.0) with { Property = "Beta" }),
        EagerLoss("KLDiv", "kl_div", "KLDivLoss", Opt("logTarget", "log_target", ParamKind.Bool, false), Opt("batchMean", "batchmean", ParamKind.Bool, false)),
        EagerLoss("MarginRanking", "margin_ranking_loss", "MarginRankingLoss", Opt("margin", "margin", ParamKind.Double, 0.0)),
        EagerLoss("HingeEmbedding", "hinge_embedding_loss", "HingeEmbeddingLoss", Opt("margin", "margin", ParamKind.Double, 1.0)),
        EagerLoss("MultiLabelMargin", "multilabel_margin_loss", "MultiLabelMarginLoss"),
        EagerLoss("SoftMargin", "soft_margin_loss", "SoftMarginLoss"),
        EagerLoss("MultiLabelSoftMargin", "multilabel_soft_margin_loss", "MultiLabelSoftMarginLoss"),
        EagerLoss("CosineEmbedding", "cosine_embedding_loss", "CosineEmbeddingLoss", Opt("margin", "margin", ParamKind.Double, 0.0)),
        EagerLoss("MultiMargin", "multi_margin_loss", "MultiMarginLoss", Opt("p", "p", ParamKind.Int, 1), Opt("margin", "margin", ParamKind.Double, 1.0)),
        EagerLoss("TripletMargin", "triplet_margin_loss", "TripletMarginLoss", Opt("margin", "margin", ParamKind.Double, 1.0),
            Opt("p", "p", ParamKind.Double, 2.0), Opt("eps", "eps", ParamKind.Double, 1e-6), Opt("swap", "swap", ParamKind.Bool, false)),
        EagerLoss("PoissonNll", "poisson_nll_loss", "PoissonNLLLoss", Opt("logInput", "log_input", ParamKind.Bool, true),
            Opt("full", "full", ParamKind.Bool, false), Opt("eps", "eps", ParamKind.Double, 1e-8)),
        EagerLoss("GaussianNll", "gaussian_nll_loss", "GaussianNLLLoss", Opt("full", "full", ParamKind.Bool, false), Opt("eps", "eps", ParamKind.Double, 1e-6)),
    ];
}
