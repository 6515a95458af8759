using SharpGrad.Data;
using SharpGrad.Layers;
using SharpGrad.Ops;
using SharpGrad.Tests.Compiler;
using SharpGrad.Tests.Nn;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Ops;

// Every catalogue row's eager gradient check (float64 finite differences) and compiled-vs-eager check, keyed by row
// name: a row without an entry fails EveryRowHasAGradientCheck / EveryCompiledRowHasACompiledCheck, so adding a row
// means adding its checks here.
public partial class CatalogueTests
{
    /// <summary>The draw number of <see cref="R"/> in the running check (reset per row, so each row's inputs are reproducible and distinct).</summary>
    [ThreadStatic]
    private static int s_draw;

    /// <summary>A float64 standard-normal tensor, a different one at each call within a check.</summary>
    private static Tensor R(params int[] shape) => Tensor.Randn(shape, DType.Float64, rng: new Rng(++s_draw * 7919 + shape.Sum()));

    /// <summary>Values in (0.5, 2.5): for the ops defined on positive inputs.</summary>
    private static Tensor P(params int[] shape) => R(shape).Abs() + 0.5f;

    private static Tensor Index(long[] values, params int[] shape) => Tensor.FromArray(values, shape);

    /// <summary>A ±1 target (margin losses).</summary>
    private static Tensor Signs(int n) => Tensor.FromArray(Enumerable.Range(0, n).Select(i => i % 3 == 0 ? -1.0 : 1.0).ToArray(), n);

    private static Tensor Probabilities(params int[] shape) => Functional.Softmax(R(shape), -1).Detach();

    private static void Check(Func<Tensor[], Tensor> f, params Tensor[] inputs) => GradCheck.Check(f, inputs);

    /// <summary>
    /// The gradient check of each row that is not a one-input pointwise or composite row (those are called through their
    /// entry point with the catalogue's defaults, <see cref="Call"/>): inputs chosen away from kinks and ties.
    /// </summary>
    private static readonly Dictionary<string, Action> GradChecks = new()
    {
        // ---- Catalogue.Tensor.cs
        ["Add"] = () => Check(xs => xs[0] + xs[1], R(3, 4), R(4)),
        ["Sub"] = () => Check(xs => xs[0] - xs[1], R(3, 4), R(3, 1)),
        ["Mul"] = () => Check(xs => xs[0] * xs[1], R(3, 4), R(4)),
        ["Div"] = () => Check(xs => xs[0] / xs[1], R(3, 4), P(3, 4)),
        ["Maximum"] = () => Check(xs => xs[0].Maximum(xs[1]), R(3, 4), R(2, 3, 4)),
        ["Minimum"] = () => Check(xs => xs[0].Minimum(xs[1]), R(3, 4), R(2, 3, 4)),
        ["PowTensor"] = () => Check(xs => xs[0].Pow(xs[1]), P(3, 4), R(3, 4)),
        ["Sum"] = () => Check(xs => xs[0].Sum(1), R(3, 4)),
        ["Mean"] = () => Check(xs => xs[0].Mean([0, 2], keepDim: true), R(2, 3, 4)),
        ["Prod"] = () => Check(xs => xs[0].Prod(1), R(3, 4)),
        ["Amax"] = () => Check(xs => xs[0].Amax(1), R(3, 4)),
        ["Amin"] = () => Check(xs => xs[0].Amin(1), R(3, 4)),
        ["LogSumExp"] = () => Check(xs => xs[0].LogSumExp(1), R(3, 4)),
        ["Var"] = () => Check(xs => xs[0].Var(1), R(3, 4)),
        ["Std"] = () => Check(xs => xs[0].Std(1), R(3, 4)),
        ["Max"] = () => Check(xs => xs[0].Max(), R(3, 4)),
        ["Min"] = () => Check(xs => xs[0].Min(), R(3, 4)),
        ["MaxDim"] = () => Check(xs => xs[0].Max(1).Values, R(3, 4)),
        ["MinDim"] = () => Check(xs => xs[0].Min(0, keepDim: true).Values, R(3, 4)),
        ["View"] = () => Check(xs => xs[0].View(4, 3), R(3, 4)),
        ["Reshape"] = () => Check(xs => xs[0].Reshape(2, -1), R(3, 4)),
        ["Flatten"] = () => Check(xs => xs[0].Flatten(1), R(2, 3, 4)),
        ["Transpose"] = () => Check(xs => xs[0].Transpose(0, 2), R(2, 3, 4)),
        ["Permute"] = () => Check(xs => xs[0].Permute(2, 0, 1), R(2, 3, 4)),
        ["Unsqueeze"] = () => Check(xs => xs[0].Unsqueeze(1), R(3, 4)),
        ["Squeeze"] = () => Check(xs => xs[0].Squeeze(1), R(3, 1, 4)),
        ["Contiguous"] = () => Check(xs => xs[0].T().Contiguous(), R(3, 4)),
        ["T"] = () => Check(xs => xs[0].T(), R(3, 4)),
        ["Expand"] = () => Check(xs => xs[0].Expand(3, 4), R(3, 1)),
        ["Narrow"] = () => Check(xs => xs[0].Narrow(1, 1, 2), R(3, 4)),
        ["Select"] = () => Check(xs => xs[0].Select(1, 2), R(3, 4)),
        ["Slice"] = () => Check(xs => xs[0].Slice(1, 0, 4, 2), R(3, 4)),
        ["MatMul"] = () => Check(xs => xs[0].MatMul(xs[1]), R(2, 3, 4), R(4, 5)),
        ["Mm"] = () => Check(xs => xs[0].Mm(xs[1]), R(3, 4), R(4, 2)),
        ["Bmm"] = () => Check(xs => Tensor.Bmm(xs[0], xs[1]), R(2, 3, 4), R(2, 4, 5)),
        ["Cat"] = () => Check(xs => Tensor.Cat([xs[0], xs[1]], 1), R(3, 4), R(3, 2)),
        ["Stack"] = () => Check(xs => Tensor.Stack([xs[0], xs[1]], 1), R(3, 4), R(3, 4)),
        ["Where"] = () => { var c = R(3, 4).Gt(0.0); Check(xs => Tensor.Where(c, xs[0], xs[1]), R(3, 4), R(3, 4)); },
        ["WhereScalar"] = () => { var c = R(3, 4).Gt(0.0); Check(xs => Tensor.Where(c, xs[0], 0.5) * Tensor.Where(c, -2.0, xs[0]), R(3, 4)); },
        // ---- Catalogue.Masks.cs (the rest of its rows have no differentiable input: NoGradCheck)
        ["Triu"] = () => Check(xs => xs[0].Triu(1), R(4, 4)),
        ["Tril"] = () => Check(xs => xs[0].Tril(-1), R(3, 4)),
        // The parts of Chunk/Split/Unbind (each part a view of its window), through every part.
        ["Chunk"] = () => Check(xs => { var (a, b) = xs[0].Chunk(2, 1); return Tensor.Cat([a * 2f, b], 1); }, R(3, 4)),
        ["Split"] = () => Check(xs => { var q = xs[0].Split(3, -1); return Tensor.Cat([q[1], q[0] * 3f], 1); }, R(3, 4)),
        ["SplitSizes"] = () => Check(xs => { var p = xs[0].Split([1, 3], 1); return Tensor.Cat([p[1], p[0] * 2f], 1); }, R(3, 4)),
        ["Unbind"] = () => Check(xs => { var steps = xs[0].Unbind(1); return Tensor.Stack([steps[3], steps[0] * 2f, steps[1]], 1); }, R(3, 4)),
        // ---- Catalogue.Sequence.cs: whole layers, checked with their parameters and initial states (float64).
        ["Lstm"] = () => new SequenceLayerGradCheckTests().BidirectionalTwoLayerLstm(),
        ["Gru"] = () => new SequenceLayerGradCheckTests().GruAndRnn(),
        ["Rnn"] = () => new SequenceLayerGradCheckTests().GruAndRnn(),
        ["MultiheadAttention"] = () => new SequenceLayerGradCheckTests().MultiheadAttentionWithMasks(),
        ["TransformerEncoderLayer"] = () =>
        {
            new SequenceLayerGradCheckTests().EncoderLayer(false, "relu", false);
            new SequenceLayerGradCheckTests().EncoderLayer(true, "gelu", true);
        },
        ["MaskedFill"] = () => { var mask = R(3, 4).Gt(0.0); Check(xs => xs[0].MaskedFill(mask, 0.5), R(3, 4)); },
        ["Gather"] = () => Check(xs => xs[0].Gather(1, Index([3, 0, 1, 1, 2, 0], 3, 2)), R(3, 4)),
        ["IndexSelect"] = () => Check(xs => xs[0].IndexSelect(1, Index([3, 0, 3], 3)), R(3, 4)),
        ["Scatter"] = () => Check(xs => xs[0].Scatter(1, Index([3, 0, 1, 2, 2, 0], 3, 2), xs[1]), R(3, 4), R(3, 2)),
        ["ScatterAdd"] = () => Check(xs => xs[0].ScatterAdd(1, Index([3, 3, 1, 2, 0, 0], 3, 2), xs[1]), R(3, 4), R(3, 2)),
        ["IndexAdd"] = () => Check(xs => xs[0].IndexAdd(1, Index([3, 0, 3], 3), xs[1]), R(3, 4), R(3, 3)),

        // ---- Catalogue.Layers.cs
        ["Linear"] = () => Check(xs => Functional.Linear(xs[0], xs[1], xs[2]), R(3, 4), R(5, 4), R(5)),
        ["Conv1d"] = () => Check(xs => Functional.Conv1d(xs[0], xs[1], xs[2], stride: 2, padding: 1), R(2, 3, 7), R(4, 3, 3), R(4)),
        ["Conv2d"] = () => Check(xs => Functional.Conv2d(xs[0], xs[1], xs[2], padding: 1, dilation: 2), R(2, 2, 5, 5), R(3, 2, 3, 3), R(3)),
        ["ConvTranspose2d"] = () => Check(xs => Functional.ConvTranspose2d(xs[0], xs[1], xs[2], stride: 2, padding: 1), R(2, 3, 3, 3), R(3, 2, 3, 3), R(2)),
        ["MaxPool2d"] = () => Check(xs => Functional.MaxPool2d(xs[0], 2, padding: 1), R(2, 2, 5, 5)),
        ["AvgPool2d"] = () => Check(xs => Functional.AvgPool2d(xs[0], 3, stride: 2, padding: 1, countIncludePad: false), R(2, 2, 5, 5)),
        ["AdaptiveAvgPool2d"] = () => Check(xs => Functional.AdaptiveAvgPool2d(xs[0], (2, 3)), R(2, 2, 5, 5)),
        ["BatchNorm"] = () => Check(xs => Functional.BatchNorm(xs[0], null, null, xs[1], xs[2], training: true), R(4, 3, 2), R(3), R(3)),
        ["BatchNorm1d"] = () => Check(xs => new BatchNorm1d(3, dtype: DType.Float64).Forward(xs[0]), R(5, 3)),
        ["BatchNorm2d"] = () => Check(xs => new BatchNorm2d(2, dtype: DType.Float64).Forward(xs[0]), R(3, 2, 2, 2)),
        ["LayerNorm"] = () => Check(xs => Functional.LayerNorm(xs[0], [4], xs[1], xs[2]), R(2, 3, 4), R(4), R(4)),
        ["Embedding"] = () => Check(xs => Functional.Embedding(Index([4, 0, 2, 4], 2, 2), xs[0]), R(5, 3)),
        ["Dropout"] = () => Check(xs => Functional.Dropout(xs[0], 0.4, training: true, rng: new Rng(3)), R(4, 5)),
        ["Softmax"] = () => Check(xs => Functional.Softmax(xs[0], 1), R(3, 4)),
        ["LogSoftmax"] = () => Check(xs => Functional.LogSoftmax(xs[0], 0), R(3, 4)),
        ["Softmin"] = () => Check(xs => Functional.Softmin(xs[0], 1), R(3, 4)),
        ["Identity"] = () => Check(xs => new Identity().Forward(xs[0]), R(3, 4)),
        ["Glu"] = () => Check(xs => Functional.Glu(xs[0], 1), R(2, 4, 3)),
        ["Prelu"] = () => Check(xs => Functional.Prelu(xs[0], xs[1]), R(2, 3, 4), R(3)),

        // ---- Catalogue.LayerPrimitives.cs
        ["Interpolate"] = () => Check(xs => Functional.Interpolate(xs[0], 7, "linear"), R(2, 3, 4)),
        ["Pad"] = () => Check(xs => Functional.Pad(xs[0], [1, 2, 0, 1], "reflect"), R(2, 3, 4)),
        ["Unflatten"] = () => Check(xs => new Unflatten(1, [2, -1]).Forward(xs[0]), R(2, 6, 2)),
        ["ZeroPad2d"] = () => Check(xs => new ZeroPad2d(1).Forward(xs[0]), R(1, 2, 3, 3)),
        ["GroupNorm"] = () => Check(xs => Functional.GroupNorm(xs[0], 2, xs[1], xs[2]), R(2, 4, 3), R(4), R(4)),
        ["InstanceNorm"] = () => Check(xs => Functional.InstanceNorm(xs[0], weight: xs[1], bias: xs[2]), R(2, 3, 5), R(3), R(3)),
        ["InstanceNorm1d"] = () => Check(xs => new InstanceNorm1d(3, dtype: DType.Float64).Forward(xs[0]), R(2, 3, 5)),
        ["InstanceNorm2d"] = () => Check(xs => new InstanceNorm2d(2, dtype: DType.Float64).Forward(xs[0]), R(2, 2, 3, 3)),
        ["RmsNorm"] = () => Check(xs => Functional.RmsNorm(xs[0], [4], xs[1]), R(2, 3, 4), R(4)),
        ["Dropout2d"] = () => Check(xs => Functional.Dropout2d(xs[0], 0.5, training: true, rng: new Rng(5)), R(2, 3, 2, 2)),
        ["MaxPool1d"] = () => Check(xs => Functional.MaxPool1d(xs[0], 3, stride: 2, padding: 1), R(2, 3, 7)),
        ["AvgPool1d"] = () => Check(xs => Functional.AvgPool1d(xs[0], 3, stride: 2, padding: 1), R(2, 3, 7)),
        ["AdaptiveMaxPool2d"] = () => Check(xs => Functional.AdaptiveMaxPool2d(xs[0], 2), R(1, 2, 5, 5)),
        ["ConvTranspose1d"] = () => Check(xs => Functional.ConvTranspose1d(xs[0], xs[1], xs[2], stride: 2), R(2, 3, 4), R(3, 2, 3), R(2)),

        // ---- Catalogue.Losses.cs
        ["CrossEntropy"] = () => Check(xs => Losses.CrossEntropy(xs[0], Index([4, 0, 2, 1], 4), labelSmoothing: 0.1), R(4, 5)),
        ["Nll"] = () => Check(xs => Losses.Nll(xs[0], Index([4, 0, 2, 1], 4)), R(4, 5)),
        ["Mse"] = () => Check(xs => Losses.Mse(xs[0], xs[1]), R(3, 4), R(3, 4)),
        ["L1"] = () => Check(xs => Losses.L1(xs[0], xs[1]), R(3, 4), R(3, 4)),
        ["BinaryCrossEntropyWithLogits"] = () => Check(xs => Losses.BinaryCrossEntropyWithLogits(xs[0], xs[1]), R(3, 4), P(3, 4) * 0.3f),
        ["BinaryCrossEntropy"] = () => Check(xs => Losses.BinaryCrossEntropy(Functional.Sigmoid(xs[0]), xs[1]), R(3, 4), P(3, 4) * 0.3f),
        ["Huber"] = () => Check(xs => Losses.Huber(xs[0], xs[1], delta: 0.5), R(3, 4), R(3, 4)),
        ["SmoothL1"] = () => Check(xs => Losses.SmoothL1(xs[0], xs[1], beta: 0.5), R(3, 4), R(3, 4)),
        ["KLDiv"] = () => { var t = Probabilities(3, 4); Check(xs => Losses.KLDiv(Functional.LogSoftmax(xs[0], 1), t, batchMean: true), R(3, 4)); },
        ["MarginRanking"] = () => Check(xs => Losses.MarginRanking(xs[0], xs[1], Signs(6), margin: 0.1), R(6), R(6)),
        ["HingeEmbedding"] = () => Check(xs => Losses.HingeEmbedding(xs[0], Signs(6)), R(6) * 0.3f),
        ["MultiLabelMargin"] = () => Check(xs => Losses.MultiLabelMargin(xs[0], Index([2, 0, -1, 0, 1, 0, 3, -1, 0, 0, 0, 0], 3, 4)), R(3, 4)),
        ["SoftMargin"] = () => Check(xs => Losses.SoftMargin(xs[0], Signs(6)), R(6)),
        ["MultiLabelSoftMargin"] = () => { var t = R(3, 4).Gt(0.0).To(DType.Float64); Check(xs => Losses.MultiLabelSoftMargin(xs[0], t), R(3, 4)); },
        ["CosineEmbedding"] = () => Check(xs => Losses.CosineEmbedding(xs[0], xs[1], Signs(3)), R(3, 4), R(3, 4)),
        ["MultiMargin"] = () => Check(xs => Losses.MultiMargin(xs[0], Index([1, 3, 0], 3)), R(3, 4)),
        ["TripletMargin"] = () => Check(xs => Losses.TripletMargin(xs[0], xs[1], xs[2], margin: 2), R(3, 4), R(3, 4), R(3, 4)),
        ["PoissonNll"] = () => { var t = P(3, 4); Check(xs => Losses.PoissonNll(xs[0], t), R(3, 4)); },
        ["GaussianNll"] = () => { var t = R(3, 4); Check(xs => Losses.GaussianNll(xs[0], t, xs[1]), R(3, 4), P(3, 4)); },
    };

    /// <summary>Rows without a gradient check, each with the reason.</summary>
    private static readonly Dictionary<string, string> NoGradCheck = OpCatalogue.All
        .Where(r => r.Family is OpFamily.Data or OpFamily.ArgExtreme && !r.Differentiable)
        .ToDictionary(r => r.Name, r => r.Family == OpFamily.ArgExtreme ? "int64 positions (PyTorch's argmax/argmin): no gradient"
            : "builds data (a mask, positions, a dtype conversion) from shapes, constants or data: no differentiable input");

    public static TheoryData<string> GradCheckRows()
    {
        var data = new TheoryData<string>();
        foreach (var row in OpCatalogue.All.Where(r => !NoGradCheck.ContainsKey(r.Name))) data.Add(row.Name);
        return data;
    }

    [Fact]
    public void EveryRowHasAGradientCheck()
    {
        var unchecked_ = OpCatalogue.All.Where(r => !IsUnary(r) && !GradChecks.ContainsKey(r.Name) && !NoGradCheck.ContainsKey(r.Name)).Select(r => r.Name);
        Assert.True(!unchecked_.Any(), $"rows without a float64 gradient check in CatalogueTests.GradChecks: {string.Join(", ", unchecked_)}");
        var stale = GradChecks.Keys.Concat(NoGradCheck.Keys).Where(n => OpCatalogue.Find(n) is null);
        Assert.True(!stale.Any(), $"checks for rows the catalogue does not have: {string.Join(", ", stale)}");
        var redundant = GradChecks.Keys.Where(n => OpCatalogue.Find(n) is { } r && IsUnary(r));
        Assert.True(!redundant.Any(), $"one-input pointwise rows are checked through their entry point, not GradChecks: {string.Join(", ", redundant)}");
    }

    /// <summary>A one-input elementwise row (a pointwise kernel or a composite of them), checked through <see cref="Call"/>.</summary>
    private static bool IsUnary(OpRow row) =>
        row.Family is OpFamily.Pointwise or OpFamily.Composite && row.Inputs.Count == 1 && row.Shape?.Method.Name == nameof(ShapeRules.SameAsInput);

    [Theory]
    [MemberData(nameof(GradCheckRows))]
    public void RowPassesAFloat64GradientCheck(string name)
    {
        var row = Row(name);
        if (IsUnary(row))
        {
            if (row.Family == OpFamily.Pointwise)
            {
                // A row that is another row's kernel with fixed arguments (Square: PowScalarOp with 2) names that kernel.
                if (row.KernelArguments is null) Assert.Equal(name + "Op", row.Kernel);
                Assert.NotNull(typeof(Tensor).Assembly.GetType("SharpGrad.Kernels." + row.Kernel));
            }
            var x = Tensor.Randn([3, 5], DType.Float64, rng: new Rng(name.Length)) * 2f;
            if (PositiveDomain.Contains(name)) x = x.Abs() + 0.5f;
            GradCheck.Check(xs => Call(row, xs[0]), x);
            return;
        }
        Assert.True(GradChecks.TryGetValue(name, out var check), $"{name}: no gradient check");
        s_draw = name.Sum(c => c);
        check!();
    }

    // ---- compiled vs eager ------------------------------------------------------------------------------------------

    /// <summary>One compiled-vs-eager check: a [Module] that calls each of <paramref name="Rows"/>, compiled with no graph break and compared with its eager Forward.</summary>
    public sealed record CompiledCase(string Name, string[] Rows, Action Run);

    private static void FullyCompiled(GraphExplanation explanation) => Assert.True(explanation.IsFullyCompiled, explanation.ToString());

    private static readonly CompiledCase[] CompiledCases =
    [
        new("pointwise", CompiledPointwiseCatalogue.Ops, () =>
        {
            var model = new CompiledPointwiseCatalogue();
            FullyCompiled(model.Compile().Explanation);
            foreach (int batch in new[] { 1, 7 })
                CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => model.Compile().Forward(x), [batch, 6], seed: 113);
        }),
        new("tensor ops", CompiledTensorCatalogue.Ops, () =>
        {
            var model = new CompiledTensorCatalogue();
            var mask = Tensor.FromArray(new[] { true, false, false, true, false, true, false, false }, 2, 4);
            FullyCompiled(model.Compile().Explanation);
            foreach (int batch in new[] { 1, 5 })
                CompiledLayerTests.Compare(model, model, x => model.Forward(x, mask), x => model.Compile().Forward(x, mask), [batch, 6], seed: 114);
        }),
        new("convolution and pooling", CompiledWindowCatalogue.Ops, () =>
        {
            var model = new CompiledWindowCatalogue();
            FullyCompiled(model.Compile().Explanation);
            foreach (int batch in new[] { 1, 3 })
                CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => model.Compile().Forward(x), [batch, 2, 6, 6], seed: 115);
        }),
        new("losses", CompiledLossCatalogue.Ops, CompareLosses),
        new("batch norm", ["BatchNorm1d", "BatchNorm2d"], () =>
        {
            var tests = new CompiledLayerTests();
            tests.BatchNormCnnInEvaluationMatchesEager(3);
            tests.BatchNormCnnInTrainingMatchesEagerIncludingRunningStats(3);
        }),
        new("dropout", ["Dropout"], () => new CompiledLayerTests().DropoutMlpInTrainingDrawsTheSameMaskAsEager(8)),
        new("embedding", ["Embedding"], () => new CompiledLayerTests().EmbeddingModelMatchesEager(3)),
        new("cross-entropy", ["CrossEntropy"], () => new CompiledLayerTests().CompiledLossMatchesEagerOnTheTapeAndFused(3)),
        new("slicing and joining", ["Narrow", "Slice", "Select", "Chunk", "Split", "SplitSizes", "Unbind", "Cat", "Stack"], () =>
        {
            var tests = new CompiledSliceTests();
            tests.SlicesAndCatMatchEager(3);
            tests.UnbindAndStackMatchEager(3);
        }),
        new("where", ["Where"], () => new CompiledSliceTests().WhereClampAndPowMatchEager(3)),
        new("variance", ["Var", "Std"], () => new CompiledReductionTests().VarAndStdMatchEager(3)),
        new("max and min of all elements", ["Max", "Min"], () => new CompiledReductionTests().MaxAndMinOfAllElementsMatchEager(3)),
        new("pow of two tensors", ["PowTensor"], () => new CompiledFunctionalTests().PowOfTwoTensorsMatchesEager(3)),
        new("where with a scalar branch", ["WhereScalar"], () => new CompiledMaskTests().WhereWithAScalarBranchMatchesEager(3)),
        new("mask builders", CompiledMaskTests.Ops, () =>
        {
            var tests = new CompiledMaskTests();
            tests.CausalAndSegmentMasksBuiltInForwardMatchEager(3);
            tests.CreationLikeAndComparisonMasksMatchEager(3);
        }),
        new("recurrent layers", ["Lstm", "Gru", "Rnn"], () =>
        {
            var tests = new CompiledRecurrentTests();
            tests.BidirectionalTwoLayerLstmMatchesEager(3);
            tests.TwoLayerGruIntoLinearMatchesEager(3);
            tests.BidirectionalReluRnnWithoutBiasMatchesEager(3);
        }),
        new("transformer encoder layer", ["TransformerEncoderLayer"], () =>
        {
            var tests = new CompiledTransformerTests();
            tests.PostNormEncoderLayerMatchesEager(3);
            tests.PreNormGeluEncoderLayerMatchesEager(3);
            tests.EncoderLayerWithBothMasksMatchesEager(3);
        }),
        new("multi-head self-attention", ["MultiheadAttention"], () =>
        {
            var tests = new CompiledTransformerTests();
            tests.StandaloneSelfAttentionWithKeyPaddingMatchesEager(3);
            tests.ConstructorSizedGptBlockWithStandaloneAttentionMatchesEager(3, 12, 3);
        }),
        new("transposed convolution", ["ConvTranspose1d", "ConvTranspose2d"], () =>
        {
            var tests = new CompiledConvTransposeTests();
            tests.StridedConvTranspose2dMatchesEager(3);
            tests.GroupedConvTranspose2dWithoutBiasMatchesEager(3);
            tests.DilatedConvTranspose1dMatchesEager(3);
        }),
        new("group, instance and RMS normalisation; 1-d pools", ["GroupNorm", "InstanceNorm1d", "InstanceNorm2d", "RmsNorm", "MaxPool1d", "AvgPool1d"], () =>
        {
            var tests = new CompiledPrimitiveLayerTests();
            tests.Norms1dAndPools1dMatchEager(3);
            tests.Norms2dMatchEager(3);
        }),
        new("resampling, padding, adaptive max pooling, unflatten", ["Interpolate", "ZeroPad2d", "AdaptiveMaxPool2d", "Unflatten"], () =>
        {
            var tests = new CompiledPrimitiveLayerTests();
            tests.PadUpsampleAdaptiveMaxPoolAndUnflattenMatchEager(3);
            tests.Upsample1dMatchesEager(3);
        }),
        new("channel dropout", ["Dropout2d"], () =>
        {
            var tests = new CompiledPrimitiveLayerTests();
            tests.Dropout2dInTrainingDrawsTheSameChannelMaskAsEager(8);
            tests.Dropout2dInEvaluationIsTheIdentityAsEager(3);
        }),
        new("GLU and PReLU", ["Glu", "Prelu"], () =>
        {
            var tests = new ProofOpTests();
            tests.CompiledMlpOfTheFourLayersMatchesEager(3);
            tests.CompiledCnnWithPerChannelPreluAndFunctionalCallsMatchesEager(3);
        }),
        new("functional instance norm", ["InstanceNorm"], () => new CompiledFunctionalLayerTests().GroupNormWithOneAffineTensorAndFunctionalInstanceNormMatchEager(3)),
        new("mm, bmm and softmin", CompiledCommonOpsNet.Ops, () => new CompiledCommonOpTests().MmBmmAndSoftminMatchEager(3)),
        new("int64 indices", ["ArgMax", "ArgMin"], () =>
        {
            var tests = new CompiledIndicesTests();
            tests.EveryMethodCompilesWithNoGraphBreak();
            foreach (var name in new[] { "MaxIndices", "MinIndicesKept", "ArgMaxDim", "ArgMinLastKept", "ArgMaxAll", "ArgMinAllKept" }) tests.IndicesMatchEager(name, 3);
        }),
        new("functional batch norm", ["BatchNorm"], () =>
        {
            var tests = new CompiledFunctionalLayerTests();
            tests.FunctionalBatchNormInTrainingMatchesEagerIncludingRunningStats(3);
            tests.FunctionalBatchNormInEvaluationUsesTheRunningStatsAsEager(3);
        }),
    ];

    /// <summary>Each [Compiled] loss of <see cref="CompiledLossCatalogue"/> on the tape against the same method run eagerly: value and parameter gradients.</summary>
    private static void CompareLosses()
    {
        var model = new CompiledLossCatalogue();
        var net = model.Compile();
        FullyCompiled(net.Explanation);
        var x = Tensor.Randn([5, 6], rng: new Rng(116));
        var target = Tensor.RandInt(0, 4, [5], new Rng(117));
        var y = Tensor.Rand([5, 4], rng: new Rng(118));
        (string Name, Func<Tensor> Eager, Func<Tensor> Compiled)[] losses =
        [
            ("Nll", () => model.NllLoss(x, target), () => net.NllLoss(x, target)),
            ("Mse", () => model.MseLoss(x, y), () => net.MseLoss(x, y)),
            ("L1", () => model.L1Loss(x, y), () => net.L1Loss(x, y)),
            ("BinaryCrossEntropyWithLogits", () => model.BceLoss(x, y), () => net.BceLoss(x, y)),
        ];
        var parameters = model.Parameters().ToList();
        foreach (var (name, eager, compiled) in losses)
        {
            foreach (var p in parameters) p.Grad = null;
            var le = eager();
            le.Backward();
            var grads = parameters.Select(p => p.Grad!.Clone()).ToList();
            foreach (var p in parameters) p.Grad = null;
            var lc = compiled();
            lc.Backward();
            TensorAssert.Close(le.Detach(), lc.Detach(), 1e-5, 1e-6, $"{name}: loss");
            for (int i = 0; i < parameters.Count; i++) TensorAssert.Close(grads[i], parameters[i].Grad!, 1e-4, 1e-5, $"{name}: gradient of parameter {i}");
        }
    }

    /// <summary>Compiled rows that cannot have a compiled-vs-eager check, with the reason (none today).</summary>
    private static readonly Dictionary<string, string> NoCompiledCheck = new();

    public static TheoryData<string> CompiledCaseNames()
    {
        var data = new TheoryData<string>();
        foreach (var c in CompiledCases) data.Add(c.Name);
        return data;
    }

    [Fact]
    public void EveryCompiledRowHasACompiledCheck()
    {
        var covered = CompiledCases.SelectMany(c => c.Rows).ToHashSet();
        var missing = OpCatalogue.All.Where(r => r.Compiled && !covered.Contains(r.Name) && !NoCompiledCheck.ContainsKey(r.Name)).Select(r => r.Name);
        Assert.True(!missing.Any(), $"compiled rows without a compiled-vs-eager check in CatalogueTests.CompiledCases: {string.Join(", ", missing)}");
        // A row the catalogue does not compile has no compiled check (its model would not compile it): its reason is the row's Compiled = false.
        var notCompiled = covered.Where(n => OpCatalogue.Find(n) is not { Compiled: true });
        Assert.True(!notCompiled.Any(), $"compiled checks listed for rows that are missing or not compiled: {string.Join(", ", notCompiled)}");
    }

    [Theory]
    [MemberData(nameof(CompiledCaseNames))]
    public void CompiledRowsMatchEager(string name) => CompiledCases.Single(c => c.Name == name).Run();
}
