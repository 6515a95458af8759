using SharpGrad.Ops;

namespace SharpGrad.Layers;

/// <summary>Mean absolute error (PyTorch: <c>torch.nn.L1Loss</c>); see <see cref="Losses.L1"/>.</summary>
[Module]
public sealed partial class L1Loss : Module
{
    /// <summary>Creates the loss (PyTorch: <c>L1Loss(reduction='mean')</c>).</summary>
    public L1Loss(Reduction reduction = Reduction.Mean) => Reduction = reduction;

    /// <summary>How the per-element losses are reduced (PyTorch: <c>reduction</c>).</summary>
    public Reduction Reduction { get; }

    /// <summary>Computes the loss (PyTorch: <c>forward(input, target)</c>).</summary>
    public Tensor Forward(Tensor input, Tensor target) => Losses.L1(input, target, Reduction);
}

/// <summary>Mean squared error (PyTorch: <c>torch.nn.MSELoss</c>); see <see cref="Losses.Mse"/>.</summary>
[Module]
public sealed partial class MSELoss : Module
{
    /// <summary>Creates the loss (PyTorch: <c>MSELoss(reduction='mean')</c>).</summary>
    public MSELoss(Reduction reduction = Reduction.Mean) => Reduction = reduction;

    /// <summary>How the per-element losses are reduced (PyTorch: <c>reduction</c>).</summary>
    public Reduction Reduction { get; }

    /// <summary>Computes the loss (PyTorch: <c>forward(input, target)</c>).</summary>
    public Tensor Forward(Tensor input, Tensor target) => Losses.Mse(input, target, Reduction);
}

/// <summary>Smooth L1 loss (PyTorch: <c>torch.nn.SmoothL1Loss</c>); see <see cref="Losses.SmoothL1"/>.</summary>
[Module]
public sealed partial class SmoothL1Loss : Module
{
    /// <summary>Creates the loss (PyTorch: <c>SmoothL1Loss(reduction='mean', beta=1.0)</c>).</summary>
    public SmoothL1Loss(Reduction reduction = Reduction.Mean, double beta = 1.0)
    {
        Reduction = reduction;
        Beta = beta;
    }

    /// <summary>How the per-element losses are reduced (PyTorch: <c>reduction</c>).</summary>
    public Reduction Reduction { get; }

    /// <summary>Where the loss switches from quadratic to linear (PyTorch: <c>beta</c>).</summary>
    public double Beta { get; }

    /// <summary>Computes the loss (PyTorch: <c>forward(input, target)</c>).</summary>
    public Tensor Forward(Tensor input, Tensor target) => Losses.SmoothL1(input, target, Reduction, Beta);
}

/// <summary>Huber loss (PyTorch: <c>torch.nn.HuberLoss</c>); see <see cref="Losses.Huber"/>.</summary>
[Module]
public sealed partial class HuberLoss : Module
{
    /// <summary>Creates the loss (PyTorch: <c>HuberLoss(reduction='mean', delta=1.0)</c>).</summary>
    public HuberLoss(Reduction reduction = Reduction.Mean, double delta = 1.0)
    {
        Reduction = reduction;
        Delta = delta;
    }

    /// <summary>How the per-element losses are reduced (PyTorch: <c>reduction</c>).</summary>
    public Reduction Reduction { get; }

    /// <summary>Where the loss switches from quadratic to linear (PyTorch: <c>delta</c>).</summary>
    public double Delta { get; }

    /// <summary>Computes the loss (PyTorch: <c>forward(input, target)</c>).</summary>
    public Tensor Forward(Tensor input, Tensor target) => Losses.Huber(input, target, Reduction, Delta);
}

/// <summary>Binary cross entropy of probabilities (PyTorch: <c>torch.nn.BCELoss</c>); see <see cref="Losses.BinaryCrossEntropy"/>.</summary>
[Module]
public sealed partial class BCELoss : Module
{
    /// <summary>Creates the loss (PyTorch: <c>BCELoss(weight=None, reduction='mean')</c>).</summary>
    public BCELoss(Tensor? weight = null, Reduction reduction = Reduction.Mean)
    {
        Weight = weight;
        Reduction = reduction;
    }

    /// <summary>Optional rescaling weight (a buffer, PyTorch: <c>weight</c>).</summary>
    [Buffer]
    public Tensor? Weight { get; }

    /// <summary>How the per-element losses are reduced (PyTorch: <c>reduction</c>).</summary>
    public Reduction Reduction { get; }

    /// <summary>Computes the loss (PyTorch: <c>forward(input, target)</c>).</summary>
    public Tensor Forward(Tensor input, Tensor target) => Losses.BinaryCrossEntropy(input, target, Weight, Reduction);
}

/// <summary>Binary cross entropy on logits (PyTorch: <c>torch.nn.BCEWithLogitsLoss</c>); see <see cref="Losses.BinaryCrossEntropyWithLogits"/>.</summary>
[Module]
public sealed partial class BCEWithLogitsLoss : Module
{
    /// <summary>Creates the loss (PyTorch: <c>BCEWithLogitsLoss(weight=None, reduction='mean', pos_weight=None)</c>).</summary>
    public BCEWithLogitsLoss(Tensor? weight = null, Reduction reduction = Reduction.Mean, Tensor? posWeight = null)
    {
        Weight = weight;
        Reduction = reduction;
        PosWeight = posWeight;
    }

    /// <summary>Optional rescaling weight (a buffer, PyTorch: <c>weight</c>).</summary>
    [Buffer]
    public Tensor? Weight { get; }

    /// <summary>Optional weight of positive examples (a buffer, PyTorch: <c>pos_weight</c>).</summary>
    [Buffer]
    public Tensor? PosWeight { get; }

    /// <summary>How the per-element losses are reduced (PyTorch: <c>reduction</c>).</summary>
    public Reduction Reduction { get; }

    /// <summary>Computes the loss (PyTorch: <c>forward(input, target)</c>).</summary>
    public Tensor Forward(Tensor input, Tensor target) => Losses.BinaryCrossEntropyWithLogits(input, target, Weight, PosWeight, Reduction);
}

/// <summary>Cross entropy on logits (PyTorch: <c>torch.nn.CrossEntropyLoss</c>); see <see cref="Losses.CrossEntropy"/>.</summary>
[Module]
public sealed partial class CrossEntropyLoss : Module
{
    /// <summary>Creates the loss (PyTorch: <c>CrossEntropyLoss(weight=None, ignore_index=-100, reduction='mean', label_smoothing=0.0)</c>).</summary>
    public CrossEntropyLoss(Tensor? weight = null, long ignoreIndex = OpDefaults.CrossEntropy.IgnoreIndex, Reduction reduction = (Reduction)OpDefaults.Reduction,
        double labelSmoothing = OpDefaults.CrossEntropy.LabelSmoothing)
    {
        Weight = weight;
        IgnoreIndex = ignoreIndex;
        Reduction = reduction;
        LabelSmoothing = labelSmoothing;
    }

    /// <summary>Optional per-class weights (a buffer, PyTorch: <c>weight</c>).</summary>
    [Buffer]
    public Tensor? Weight { get; }

    /// <summary>Target value that is ignored (PyTorch: <c>ignore_index</c>).</summary>
    public long IgnoreIndex { get; }

    /// <summary>How the per-sample losses are reduced (PyTorch: <c>reduction</c>).</summary>
    public Reduction Reduction { get; }

    /// <summary>Label smoothing amount (PyTorch: <c>label_smoothing</c>).</summary>
    public double LabelSmoothing { get; }

    /// <summary>Computes the loss (PyTorch: <c>forward(input, target)</c>).</summary>
    public Tensor Forward(Tensor input, Tensor target) => Losses.CrossEntropy(input, target, Weight, IgnoreIndex, LabelSmoothing, Reduction);
}

/// <summary>Negative log-likelihood (PyTorch: <c>torch.nn.NLLLoss</c>); see <see cref="Losses.Nll"/>.</summary>
[Module]
public sealed partial class NLLLoss : Module
{
    /// <summary>Creates the loss (PyTorch: <c>NLLLoss(weight=None, ignore_index=-100, reduction='mean')</c>).</summary>
    public NLLLoss(Tensor? weight = null, long ignoreIndex = OpDefaults.CrossEntropy.IgnoreIndex, Reduction reduction = (Reduction)OpDefaults.Reduction)
    {
        Weight = weight;
        IgnoreIndex = ignoreIndex;
        Reduction = reduction;
    }

    /// <summary>Optional per-class weights (a buffer, PyTorch: <c>weight</c>).</summary>
    [Buffer]
    public Tensor? Weight { get; }

    /// <summary>Target value that is ignored (PyTorch: <c>ignore_index</c>).</summary>
    public long IgnoreIndex { get; }

    /// <summary>How the per-sample losses are reduced (PyTorch: <c>reduction</c>).</summary>
    public Reduction Reduction { get; }

    /// <summary>Computes the loss (PyTorch: <c>forward(input, target)</c>).</summary>
    public Tensor Forward(Tensor input, Tensor target) => Losses.Nll(input, target, Weight, IgnoreIndex, Reduction);
}

/// <summary>Kullback-Leibler divergence (PyTorch: <c>torch.nn.KLDivLoss</c>); see <see cref="Losses.KLDiv"/>.</summary>
[Module]
public sealed partial class KLDivLoss : Module
{
    /// <summary>
    /// Creates the loss (PyTorch: <c>KLDivLoss(reduction='mean', log_target=False)</c>); <paramref name="batchMean"/> is
    /// PyTorch's <c>reduction='batchmean'</c>.
    /// </summary>
    public KLDivLoss(Reduction reduction = Reduction.Mean, bool logTarget = false, bool batchMean = false)
    {
        Reduction = reduction;
        LogTarget = logTarget;
        BatchMean = batchMean;
    }

    /// <summary>How the per-element losses are reduced (PyTorch: <c>reduction</c>).</summary>
    public Reduction Reduction { get; }

    /// <summary>Whether the target is given as log-probabilities (PyTorch: <c>log_target</c>).</summary>
    public bool LogTarget { get; }

    /// <summary>Sum divided by the batch size (PyTorch: <c>reduction='batchmean'</c>).</summary>
    public bool BatchMean { get; }

    /// <summary>Computes the loss (PyTorch: <c>forward(input, target)</c>).</summary>
    public Tensor Forward(Tensor input, Tensor target) => Losses.KLDiv(input, target, Reduction, LogTarget, BatchMean);
}

/// <summary>Margin ranking loss (PyTorch: <c>torch.nn.MarginRankingLoss</c>); see <see cref="Losses.MarginRanking"/>.</summary>
[Module]
public sealed partial class MarginRankingLoss : Module
{
    /// <summary>Creates the loss (PyTorch: <c>MarginRankingLoss(margin=0.0, reduction='mean')</c>).</summary>
    public MarginRankingLoss(double margin = 0, Reduction reduction = Reduction.Mean)
    {
        Margin = margin;
        Reduction = reduction;
    }

    /// <summary>The margin (PyTorch: <c>margin</c>).</summary>
    public double Margin { get; }

    /// <summary>How the per-element losses are reduced (PyTorch: <c>reduction</c>).</summary>
    public Reduction Reduction { get; }

    /// <summary>Computes the loss (PyTorch: <c>forward(input1, input2, target)</c>).</summary>
    public Tensor Forward(Tensor input1, Tensor input2, Tensor target) => Losses.MarginRanking(input1, input2, target, Margin, Reduction);
}

/// <summary>Hinge embedding loss (PyTorch: <c>torch.nn.HingeEmbeddingLoss</c>); see <see cref="Losses.HingeEmbedding"/>.</summary>
[Module]
public sealed partial class HingeEmbeddingLoss : Module
{
    /// <summary>Creates the loss (PyTorch: <c>HingeEmbeddingLoss(margin=1.0, reduction='mean')</c>).</summary>
    public HingeEmbeddingLoss(double margin = 1.0, Reduction reduction = Reduction.Mean)
    {
        Margin = margin;
        Reduction = reduction;
    }

    /// <summary>The margin (PyTorch: <c>margin</c>).</summary>
    public double Margin { get; }

    /// <summary>How the per-element losses are reduced (PyTorch: <c>reduction</c>).</summary>
    public Reduction Reduction { get; }

    /// <summary>Computes the loss (PyTorch: <c>forward(input, target)</c>).</summary>
    public Tensor Forward(Tensor input, Tensor target) => Losses.HingeEmbedding(input, target, Margin, Reduction);
}

/// <summary>Multi-label hinge loss (PyTorch: <c>torch.nn.MultiLabelMarginLoss</c>); see <see cref="Losses.MultiLabelMargin"/>.</summary>
[Module]
public sealed partial class MultiLabelMarginLoss : Module
{
    /// <summary>Creates the loss (PyTorch: <c>MultiLabelMarginLoss(reduction='mean')</c>).</summary>
    public MultiLabelMarginLoss(Reduction reduction = Reduction.Mean) => Reduction = reduction;

    /// <summary>How the per-sample losses are reduced (PyTorch: <c>reduction</c>).</summary>
    public Reduction Reduction { get; }

    /// <summary>Computes the loss (PyTorch: <c>forward(input, target)</c>).</summary>
    public Tensor Forward(Tensor input, Tensor target) => Losses.MultiLabelMargin(input, target, Reduction);
}

/// <summary>Two-class logistic loss (PyTorch: <c>torch.nn.SoftMarginLoss</c>); see <see cref="Losses.SoftMargin"/>.</summary>
[Module]
public sealed partial class SoftMarginLoss : Module
{
    /// <summary>Creates the loss (PyTorch: <c>SoftMarginLoss(reduction='mean')</c>).</summary>
    public SoftMarginLoss(Reduction reduction = Reduction.Mean) => Reduction = reduction;

    /// <summary>How the per-element losses are reduced (PyTorch: <c>reduction</c>).</summary>
    public Reduction Reduction { get; }

    /// <summary>Computes the loss (PyTorch: <c>forward(input, target)</c>).</summary>
    public Tensor Forward(Tensor input, Tensor target) => Losses.SoftMargin(input, target, Reduction);
}

/// <summary>Multi-label one-versus-all logistic loss (PyTorch: <c>torch.nn.MultiLabelSoftMarginLoss</c>); see <see cref="Losses.MultiLabelSoftMargin"/>.</summary>
[Module]
public sealed partial class MultiLabelSoftMarginLoss : Module
{
    /// <summary>Creates the loss (PyTorch: <c>MultiLabelSoftMarginLoss(weight=None, reduction='mean')</c>).</summary>
    public MultiLabelSoftMarginLoss(Tensor? weight = null, Reduction reduction = Reduction.Mean)
    {
        Weight = weight;
        Reduction = reduction;
    }

    /// <summary>Optional per-class weights (a buffer, PyTorch: <c>weight</c>).</summary>
    [Buffer]
    public Tensor? Weight { get; }

    /// <summary>How the per-sample losses are reduced (PyTorch: <c>reduction</c>).</summary>
    public Reduction Reduction { get; }

    /// <summary>Computes the loss (PyTorch: <c>forward(input, target)</c>).</summary>
    public Tensor Forward(Tensor input, Tensor target) => Losses.MultiLabelSoftMargin(input, target, Weight, Reduction);
}

/// <summary>Cosine embedding loss (PyTorch: <c>torch.nn.CosineEmbeddingLoss</c>); see <see cref="Losses.CosineEmbedding"/>.</summary>
[Module]
public sealed partial class CosineEmbeddingLoss : Module
{
    /// <summary>Creates the loss (PyTorch: <c>CosineEmbeddingLoss(margin=0.0, reduction='mean')</c>).</summary>
    public CosineEmbeddingLoss(double margin = 0, Reduction reduction = Reduction.Mean)
    {
        Margin = margin;
        Reduction = reduction;
    }

    /// <summary>The margin (PyTorch: <c>margin</c>).</summary>
    public double Margin { get; }

    /// <summary>How the per-sample losses are reduced (PyTorch: <c>reduction</c>).</summary>
    public Reduction Reduction { get; }

    /// <summary>Computes the loss (PyTorch: <c>forward(input1, input2, target)</c>).</summary>
    public Tensor Forward(Tensor input1, Tensor input2, Tensor target) => Losses.CosineEmbedding(input1, input2, target, Margin, Reduction);
}

/// <summary>Multi-class hinge loss (PyTorch: <c>torch.nn.MultiMarginLoss</c>); see <see cref="Losses.MultiMargin"/>.</summary>
[Module]
public sealed partial class MultiMarginLoss : Module
{
    /// <summary>Creates the loss (PyTorch: <c>MultiMarginLoss(p=1, margin=1.0, weight=None, reduction='mean')</c>).</summary>
    public MultiMarginLoss(int p = 1, double margin = 1.0, Tensor? weight = null, Reduction reduction = Reduction.Mean)
    {
        P = p;
        Margin = margin;
        Weight = weight;
        Reduction = reduction;
    }

    /// <summary>The exponent, 1 or 2 (PyTorch: <c>p</c>).</summary>
    public int P { get; }

    /// <summary>The margin (PyTorch: <c>margin</c>).</summary>
    public double Margin { get; }

    /// <summary>Optional per-class weights (a buffer, PyTorch: <c>weight</c>).</summary>
    [Buffer]
    public Tensor? Weight { get; }

    /// <summary>How the per-sample losses are reduced (PyTorch: <c>reduction</c>).</summary>
    public Reduction Reduction { get; }

    /// <summary>Computes the loss (PyTorch: <c>forward(input, target)</c>).</summary>
    public Tensor Forward(Tensor input, Tensor target) => Losses.MultiMargin(input, target, P, Margin, Weight, Reduction);
}

/// <summary>Triplet margin loss (PyTorch: <c>torch.nn.TripletMarginLoss</c>); see <see cref="Losses.TripletMargin"/>.</summary>
[Module]
public sealed partial class TripletMarginLoss : Module
{
    /// <summary>Creates the loss (PyTorch: <c>TripletMarginLoss(margin=1.0, p=2.0, eps=1e-6, swap=False, reduction='mean')</c>).</summary>
    public TripletMarginLoss(double margin = 1.0, double p = 2, double eps = 1e-6, bool swap = false, Reduction reduction = Reduction.Mean)
    {
        Margin = margin;
        P = p;
        Eps = eps;
        Swap = swap;
        Reduction = reduction;
    }

    /// <summary>The margin (PyTorch: <c>margin</c>).</summary>
    public double Margin { get; }

    /// <summary>The norm degree of the distance (PyTorch: <c>p</c>).</summary>
    public double P { get; }

    /// <summary>Added to the difference before the norm (PyTorch: <c>eps</c>).</summary>
    public double Eps { get; }

    /// <summary>Use the distance swap (PyTorch: <c>swap</c>).</summary>
    public bool Swap { get; }

    /// <summary>How the per-sample losses are reduced (PyTorch: <c>reduction</c>).</summary>
    public Reduction Reduction { get; }

    /// <summary>Computes the loss (PyTorch: <c>forward(anchor, positive, negative)</c>).</summary>
    public Tensor Forward(Tensor anchor, Tensor positive, Tensor negative) => Losses.TripletMargin(anchor, positive, negative, Margin, P, Eps, Swap, Reduction);
}

/// <summary>Poisson negative log-likelihood (PyTorch: <c>torch.nn.PoissonNLLLoss</c>); see <see cref="Losses.PoissonNll"/>.</summary>
[Module]
public sealed partial class PoissonNLLLoss : Module
{
    /// <summary>Creates the loss (PyTorch: <c>PoissonNLLLoss(log_input=True, full=False, eps=1e-8, reduction='mean')</c>).</summary>
    public PoissonNLLLoss(bool logInput = true, bool full = false, double eps = 1e-8, Reduction reduction = Reduction.Mean)
    {
        LogInput = logInput;
        Full = full;
        Eps = eps;
        Reduction = reduction;
    }

    /// <summary>Whether the input is the log of the rate (PyTorch: <c>log_input</c>).</summary>
    public bool LogInput { get; }

    /// <summary>Add Stirling's approximation term (PyTorch: <c>full</c>).</summary>
    public bool Full { get; }

    /// <summary>Avoids log(0) when <see cref="LogInput"/> is false (PyTorch: <c>eps</c>).</summary>
    public double Eps { get; }

    /// <summary>How the per-element losses are reduced (PyTorch: <c>reduction</c>).</summary>
    public Reduction Reduction { get; }

    /// <summary>Computes the loss (PyTorch: <c>forward(log_input, target)</c>).</summary>
    public Tensor Forward(Tensor input, Tensor target) => Losses.PoissonNll(input, target, LogInput, Full, Eps, Reduction);
}

/// <summary>Gaussian negative log-likelihood (PyTorch: <c>torch.nn.GaussianNLLLoss</c>); see <see cref="Losses.GaussianNll"/>.</summary>
[Module]
public sealed partial class GaussianNLLLoss : Module
{
    /// <summary>Creates the loss (PyTorch: <c>GaussianNLLLoss(full=False, eps=1e-6, reduction='mean')</c>).</summary>
    public GaussianNLLLoss(bool full = false, double eps = 1e-6, Reduction reduction = Reduction.Mean)
    {
        Full = full;
        Eps = eps;
        Reduction = reduction;
    }

    /// <summary>Add the constant 0.5·log 2π (PyTorch: <c>full</c>).</summary>
    public bool Full { get; }

    /// <summary>Lower clamp of the variance (PyTorch: <c>eps</c>).</summary>
    public double Eps { get; }

    /// <summary>How the per-element losses are reduced (PyTorch: <c>reduction</c>).</summary>
    public Reduction Reduction { get; }

    /// <summary>Computes the loss (PyTorch: <c>forward(input, target, var)</c>).</summary>
    public Tensor Forward(Tensor input, Tensor target, Tensor var) => Losses.GaussianNll(input, target, var, Full, Eps, Reduction);
}
