using Google.Protobuf;
using Proto = global::Onnx;

namespace SharpGrad.Onnx.Tests;

/// <summary>Plain [Module] models exported through OnnxExporter by their generated export and run by ONNX Runtime: ORT's
/// outputs equal SharpGrad's eager outputs (1e-5) at batch 1 and at batch 5 of the same file (the batch is the dynamic
/// axis "batch").</summary>
public class ExportTests
{
    private static Tensor Images(int n, int c, int h, int w, long seed) => Tensor.Randn([n, c, h, w], rng: new Rng(seed));

    [Fact]
    public void Mlp()
    {
        Rng.ManualSeed(1);
        var m = new Mlp();
        var bytes = OrtCheck.ExportAndCompare(m, m.Forward, "x", Tensor.Randn([1, 20]), Tensor.Randn([5, 20]));
        var model = Proto.ModelProto.Parser.ParseFrom(bytes);
        Assert.Equal(["Gemm", "Relu", "Gemm", "Relu", "Gemm", "Identity"], model.Graph.Node.Select(n => n.OpType));
    }

    [Fact]
    public void CnnWithBatchNorm()
    {
        Rng.ManualSeed(2);
        var m = new CnnBn();
        OrtCheck.Perturb(m, 20);
        OrtCheck.ExportAndCompare(m, m.Forward, "x", Images(1, 3, 16, 16, 21), Images(5, 3, 16, 16, 22));
    }

    [Fact]
    public void ResNetBasicBlock()
    {
        Rng.ManualSeed(3);
        var m = new ResNetBlock();
        OrtCheck.Perturb(m, 30);
        OrtCheck.ExportAndCompare(m, m.Forward, "x", Images(1, 8, 12, 12, 31), Images(5, 8, 12, 12, 32));
    }

    [Fact]
    public void TransformerEncoderBlock()
    {
        Rng.ManualSeed(4);
        var m = new EncoderBlock();
        OrtCheck.Perturb(m, 40);
        var bytes = OrtCheck.ExportAndCompare(m, m.Forward, "x", Tensor.Randn([1, 6, 16]), Tensor.Randn([5, 6, 16]));
        var ops = Proto.ModelProto.Parser.ParseFrom(bytes).Graph.Node.Select(n => n.OpType).ToHashSet();
        Assert.Superset(new HashSet<string> { "MatMul", "Softmax", "LayerNormalization", "Transpose", "Reshape", "Erf", "ReduceMean" }, ops);
    }

    [Fact]
    public void SlicingConcatenationAndAnEncoderLayerChild()
    {
        Rng.ManualSeed(9);
        var m = new SliceCatEncoder();
        m.Eval();
        OrtCheck.Perturb(m, 90);
        var bytes = OrtCheck.ExportAndCompare(m, m.Forward, "x", Tensor.Randn([1, 6, 16]), Tensor.Randn([5, 6, 16]));
        var ops = Proto.ModelProto.Parser.ParseFrom(bytes).Graph.Node.Select(n => n.OpType).ToHashSet();
        Assert.Superset(new HashSet<string> { "Slice", "Gather", "Concat", "Softmax", "LayerNormalization" }, ops);
    }

    [Fact]
    public void LstmClassifierThroughTheGeneratedExport()
    {
        Rng.ManualSeed(10);
        var m = new LstmClassifier();
        Assert.True(m.Compile().Explanation.IsFullyCompiled, m.Compile().Explanation.ToString());
        var bytes = OrtCheck.ExportAndCompare(m, m.Forward, "tokens", Tensor.RandInt(0, 40, [1, 7]), Tensor.RandInt(0, 40, [5, 7]));
        Assert.Contains("LSTM", Proto.ModelProto.Parser.ParseFrom(bytes).Graph.Node.Select(n => n.OpType));
    }

    [Fact]
    public void EmbeddingClassifierOnTokenIds()
    {
        Rng.ManualSeed(5);
        var m = new EmbeddingClassifier();
        var tokens1 = Tensor.RandInt(0, 50, [1, 7]);
        var tokens5 = Tensor.RandInt(0, 50, [5, 7]);
        OrtCheck.ExportAndCompare(m, m.Forward, "tokens", tokens1, tokens5);
    }

    [Fact]
    public void ConvAutoencoderWithConvTranspose()
    {
        Rng.ManualSeed(6);
        var m = new ConvAutoencoder();
        OrtCheck.ExportAndCompare(m, m.Forward, "x", Images(1, 1, 8, 8, 61), Images(5, 1, 8, 8, 62));
    }

    [Fact]
    public void ActivationsWithTheirOptions()
    {
        Rng.ManualSeed(7);
        var m = new Activations();
        OrtCheck.ExportAndCompare(m, m.Forward, "x", Tensor.Randn([1, 10]) * 2f, Tensor.Randn([5, 10]) * 2f);
    }

    [Fact]
    public void TensorMethodsViewsAndReductions()
    {
        Rng.ManualSeed(11);
        var m = new TensorOps();
        var bytes = OrtCheck.ExportAndCompare(m, m.Forward, "x", Tensor.Randn([1, 4, 6]), Tensor.Randn([5, 4, 6]));
        var ops = Proto.ModelProto.Parser.ParseFrom(bytes).Graph.Node.Select(n => n.OpType).ToHashSet();
        Assert.Superset(new HashSet<string> { "Transpose", "Abs", "Sqrt", "Exp", "Neg", "Pow", "Max", "ReduceSum", "ReduceMean", "Reshape" }, ops);
    }

    [Fact]
    public void HandWrittenBuilderCallsForSlicingConcatenationAndTheOtherActivations()
    {
        // A class that declares BuildOnnxGraph keeps its own export (the generator writes none for it).
        Rng.ManualSeed(7);
        var m = new ActivationZoo();
        OrtCheck.ExportAndCompare(m, m.Forward, "input", Tensor.Randn([1, 10]) * 2f, Tensor.Randn([5, 10]) * 2f);
    }

    [Fact]
    public void OrtMatchesTheCompiledProgramToo()
    {
        // The export is of the graph the generator compiled: ONNX Runtime also equals the compiled Forward.
        Rng.ManualSeed(10);
        var m = new EncoderBlock();
        OrtCheck.Perturb(m, 100);
        m.Eval();
        var compiled = m.Compile();
        OrtCheck.ExportAndCompare(m, x => compiled.Forward(x), "x", Tensor.Randn([1, 6, 16]), Tensor.Randn([5, 6, 16]));
    }

    [Fact]
    public void TheBatchIsTheDynamicAxisBatchOfTheInputAndTheOutput()
    {
        var graph = Proto.ModelProto.Parser.ParseFrom(OnnxExporter.ExportToBytes(new EncoderBlock())).Graph;
        var input = graph.Input.Single();
        Assert.Equal("x", input.Name);
        Assert.Equal(["batch", "", ""], input.Type.TensorType.Shape.Dim.Select(d => d.DimParam));
        Assert.Equal([0L, 6, 16], input.Type.TensorType.Shape.Dim.Select(d => d.DimValue));
        var output = graph.Output.Single();
        Assert.Equal(["batch", ""], output.Type.TensorType.Shape.Dim.Select(d => d.DimParam));
        Assert.Equal([0L, 3], output.Type.TensorType.Shape.Dim.Select(d => d.DimValue));
        // The Reshapes to heads copy the batch (0) rather than fixing it: one file serves every batch size.
        foreach (var reshape in graph.Node.Where(n => n.OpType == "Reshape"))
        {
            var target = graph.Initializer.Single(i => i.Name == reshape.Input[1]);
            Assert.Equal(0L, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(target.RawData.Span)[0]);
        }
    }

    [Theory]
    [InlineData(17)]
    [InlineData(18)]
    [InlineData(19)]
    [InlineData(20)]
    public void EveryOpsetTheBuilderWritesRunsTheSame(int opset)
    {
        // ReduceMean takes its axes as an input from opset 18, GELU is an ONNX op from 20: both paths run in ORT.
        Rng.ManualSeed(8);
        var m = new EncoderBlock();
        m.Eval();
        var bytes = OnnxExporter.ExportToBytes(m, opset);
        var model = Proto.ModelProto.Parser.ParseFrom(bytes);
        Assert.Equal(opset, model.OpsetImport.Single().Version);
        Assert.Equal(opset >= 20, model.Graph.Node.Any(n => n.OpType == "Gelu"));
        var x = Tensor.Randn([2, 6, 16]);
        Tensor expected;
        using (Autograd.NoGrad()) expected = m.Forward(x);
        SharpGrad.Tests.Support.TensorAssert.Close(expected.ToArray(), OrtCheck.Run(bytes, "x", x).Values, 1e-5, 1e-5, $"opset {opset}");
    }

    [Fact]
    public void InitializersAreThePyTorchStateDictNamesAndValues()
    {
        Rng.ManualSeed(9);
        var m = new CnnBn();
        OrtCheck.Perturb(m, 90);
        m.Eval();
        var graph = Proto.ModelProto.Parser.ParseFrom(OnnxExporter.ExportToBytes(m)).Graph;
        var named = graph.Initializer.Where(i => !i.Name.StartsWith('/')).ToDictionary(i => i.Name);
        // Every parameter and running statistic, under its state-dict name, with its values (num_batches_tracked is
        // not needed for inference, as in PyTorch's export).
        var expected = m.StateDict().Where(e => !e.Key.EndsWith("num_batches_tracked", StringComparison.Ordinal)).ToArray();
        Assert.Equal(expected.Select(e => e.Key).Order(), named.Keys.Order());
        foreach (var (name, tensor) in expected)
        {
            var init = named[name];
            Assert.Equal(tensor.Shape.Select(d => (long)d), init.Dims);
            Assert.Equal((int)Proto.TensorProto.Types.DataType.Float, init.DataType);
            var values = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(init.RawData.Span).ToArray();
            Assert.Equal(tensor.ToArray(), values);
        }
        // Inputs and outputs: the input is named after Forward's parameter, the batch is the dynamic axis "batch", the rest fixed.
        var input = graph.Input.Single();
        Assert.Equal("x", input.Name);
        Assert.Equal(["batch", "", "", ""], input.Type.TensorType.Shape.Dim.Select(d => d.DimParam));
        Assert.Equal([0L, 3, 16, 16], input.Type.TensorType.Shape.Dim.Select(d => d.DimValue));
        var output = graph.Output.Single();
        Assert.Equal("output", output.Name);
        Assert.Equal("batch", output.Type.TensorType.Shape.Dim[0].DimParam);
        Assert.Equal(10, output.Type.TensorType.Shape.Dim[1].DimValue);
    }

    [Fact]
    public void ExportWritesAFileAndRestoresTrainingMode()
    {
        var m = new Mlp();
        Assert.True(m.Training);
        var path = Path.Combine(Path.GetTempPath(), "sharpgrad-onnx-" + Guid.NewGuid().ToString("N") + ".onnx");
        try
        {
            OnnxExporter.Export(m, path);
            Assert.True(m.Training, "Export puts the model in eval mode while it builds the graph, then restores training mode");
            var model = Proto.ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
            Assert.Equal("SharpGrad", model.ProducerName);
            Assert.Equal("Mlp", model.Graph.Name);
            Assert.Equal(8, model.IrVersion);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void AModuleWithoutExportIsRefusedWithTheReasonAndWhatToDo()
    {
        var ex = Assert.Throws<NotSupportedException>(() => OnnxExporter.ExportToBytes(new NotExportable()));
        Assert.Contains("NotExportable has no ONNX export", ex.Message);
        Assert.Contains("Mark the model class [Module]", ex.Message);
        Assert.Contains("docs/onnx.md", ex.Message);
    }

    [Fact]
    public void AModuleWhoseGraphBreaksIsRefusedWithTheBreaksListed()
    {
        var ex = Assert.Throws<NotSupportedException>(() => OnnxExporter.ExportToBytes(new BreaksTheGraph()));
        Assert.StartsWith("BreaksTheGraph cannot be exported to ONNX: its graph breaks (1 graph break(s), SG1019)", ex.Message);
        // The break as Compile().Explanation lists it: where, the construct, the fix.
        var explained = new BreaksTheGraph().Compile().Explanation.Breaks.Single();
        Assert.Contains(explained.ToString(), ex.Message);
        Assert.Contains("Models.cs(", explained.Location);
        Assert.Contains("Item", explained.Construct);
    }

    [Fact]
    public void AnOpWithoutOnnxExportIsRefusedNamingIt()
    {
        var ex = Assert.Throws<NotSupportedException>(() => OnnxExporter.ExportToBytes(new UsesAnOpWithoutOnnx()));
        Assert.Contains("UsesAnOpWithoutOnnx cannot be exported to ONNX", ex.Message);
        Assert.Contains("`Functional.Softshrink(fc.Forward(x), 0.5)` at Models.cs(", ex.Message);
        Assert.Contains("(Softshrink, PyTorch's softshrink) has no ONNX export yet", ex.Message);
        Assert.Contains("runtime/SharpGrad/Ops/Catalogue.Onnx.cs", ex.Message);
    }

    [Fact]
    public void EveryPlainModuleGetsTheGeneratedExport()
    {
        Module[] models = [new Mlp(), new CnnBn(), new ResNetBlock(), new EncoderBlock(), new EmbeddingClassifier(), new ConvAutoencoder(), new Activations(), new TensorOps()];
        Assert.All(models, m => Assert.IsAssignableFrom<IOnnxExportable>(m));
    }

    [Theory]
    [InlineData(16)]
    [InlineData(21)]
    public void AnUnsupportedOpsetIsRefused(int opset)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => OnnxExporter.ExportToBytes(new Mlp(), opset));
        Assert.Contains($"got opset {opset}", ex.Message);
        Assert.Contains("opsets 17 to 20", ex.Message);
    }
}
