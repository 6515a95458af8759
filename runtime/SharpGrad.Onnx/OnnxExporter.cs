using Google.Protobuf;

namespace SharpGrad.Onnx;

/// <summary>Writes a SharpGrad model as an ONNX file (PyTorch: <c>torch.onnx.export(model, args, f, opset_version=17)</c>).</summary>
public static class OnnxExporter
{
    /// <summary>The opset written unless another is asked for.</summary>
    public const int DefaultOpset = OnnxGraphBuilder.DefaultOpset;

    /// <summary>Exports <paramref name="model"/> in evaluation mode (BatchNorm uses its running statistics, Dropout is the
    /// identity, as <c>torch.onnx.export</c> does by default) to the file <paramref name="path"/>.</summary>
    /// <param name="model">A module implementing <see cref="IOnnxExportable"/>: every <c>[Module]</c> class, whose export the
    /// generator writes at build time when the project references SharpGrad.Onnx.</param>
    /// <param name="path">The <c>.onnx</c> file to write (replaced if it exists).</param>
    /// <param name="opset">The ONNX opset (<see cref="OnnxGraphBuilder.MinOpset"/>–<see cref="OnnxGraphBuilder.MaxOpset"/>).</param>
    /// <exception cref="NotSupportedException">The module has no ONNX export, its graph breaks (the breaks are listed), or it
    /// uses an op without ONNX export (named).</exception>
    public static void Export(Module model, string path, int opset = DefaultOpset)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var bytes = ExportToBytes(model, opset); // built completely before the file is touched
        File.WriteAllBytes(path, bytes);
    }

    /// <summary>Exports <paramref name="model"/> to <paramref name="stream"/> (see <see cref="Export(Module, string, int)"/>).</summary>
    public static void Export(Module model, Stream stream, int opset = DefaultOpset)
    {
        ArgumentNullException.ThrowIfNull(stream);
        stream.Write(ExportToBytes(model, opset));
    }

    /// <summary>The ONNX model file's bytes (see <see cref="Export(Module, string, int)"/>); ONNX Runtime's
    /// <c>InferenceSession(byte[])</c> takes them as they are.</summary>
    public static byte[] ExportToBytes(Module model, int opset = DefaultOpset)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model is not IOnnxExportable exportable)
        {
            throw new NotSupportedException(
                $"{model.GetType().Name} has no ONNX export: it does not implement IOnnxExportable. The SharpGrad generator writes " +
                "that export at build time for every [Module] class whose Forward it reads, in a project that references SharpGrad.Onnx; " +
                "this module is not one (a Module subclass without [Module], a [Sequential] class, or built before the reference was " +
                "added). Mark the model class [Module] (docs/onnx.md), or implement IOnnxExportable.BuildOnnxGraph with OnnxGraphBuilder.");
        }
        var graph = new OnnxGraphBuilder(model.GetType().Name, opset);
        bool training = model.Training;
        model.Eval();
        try
        {
            exportable.BuildOnnxGraph(graph);
        }
        finally
        {
            if (training) model.Train();
        }
        return graph.ToModel().ToByteArray();
    }
}
