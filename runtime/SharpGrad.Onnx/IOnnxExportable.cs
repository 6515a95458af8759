namespace SharpGrad.Onnx;

/// <summary>A module that can describe its inference graph to an <see cref="OnnxGraphBuilder"/>: what
/// <see cref="OnnxExporter.Export(Module, string, int)"/> calls.</summary>
/// <remarks>
/// The SharpGrad generator implements it on each <c>[Module]</c> class of a project that references SharpGrad.Onnx: the
/// graph is the static graph of <c>Forward</c> it already has, written at build time (no tracing, no reflection); a module
/// whose graph breaks, or that uses an op without ONNX export, gets an implementation that throws
/// <see cref="NotSupportedException"/> saying so. A class that declares <c>BuildOnnxGraph</c> itself keeps its own
/// (docs/onnx.md). PyTorch has no such interface: <c>torch.onnx.export</c> traces the model instead.
/// </remarks>
public interface IOnnxExportable
{
    /// <summary>Declares the graph inputs (with their fixed and symbolic dims), adds the module's parameters as initializers
    /// under their PyTorch names, one node per op of <c>Forward</c> in evaluation mode, and declares the outputs.</summary>
    void BuildOnnxGraph(OnnxGraphBuilder graph);
}
