namespace SharpGrad.Onnx;

/// <summary>A module that can describe its inference graph to an <see cref="OnnxGraphBuilder"/>: what
/// <see cref="OnnxExporter.Export(Module, string, int)"/> calls.</summary>
/// <remarks>
/// The SharpGrad generator is to implement it on each <c>[Module]</c> class whose <c>Forward</c> it compiles (the graph
/// is the static graph it already has, written at build time: no tracing, no reflection); until that emission lands,
/// a model implements it by hand, one builder call per layer or op of its <c>Forward</c> (docs/onnx.md). PyTorch has no
/// such interface: <c>torch.onnx.export</c> traces the model instead.
/// </remarks>
public interface IOnnxExportable
{
    /// <summary>Declares the graph inputs (with their fixed and symbolic dims), adds the module's parameters as initializers
    /// under their PyTorch names, one node per op of <c>Forward</c> in evaluation mode, and declares the outputs.</summary>
    void BuildOnnxGraph(OnnxGraphBuilder graph);
}
