using SharpGrad.Serialization;

namespace SharpGrad.Layers;

public partial class Sequential
{
    /// <summary>
    /// Loads a run-time <see cref="Sequential"/> saved with <see cref="Module.Save"/>: rebuilds its layers from the architecture in
    /// the file's metadata through <see cref="LayerRegistry"/> (no reflection, no random initialisation), then loads the weights
    /// strictly (PyTorch: <c>torch.load</c> of a pickled <c>nn.Sequential</c>). The file is untrusted: see
    /// <see cref="Module.Load{T}(string, ModelLoadOptions?)"/> for what is checked before anything is allocated.
    /// </summary>
    /// <param name="path">A .safetensors file written by <see cref="Module.Save"/>.</param>
    /// <param name="options">Limits for untrusted files; <see cref="ModelLoadOptions.Default"/> when null.</param>
    /// <exception cref="InvalidDataException">The file is malformed, too large for the load budget, does not describe a
    /// Sequential, or holds weights that do not fit it.</exception>
    public static Sequential Load(string path, ModelLoadOptions? options = null)
    {
        options ??= ModelLoadOptions.Default;
        var dict = ModelFile.ReadWeights(path, options);
        if (!dict.Metadata.TryGetValue(ModelFile.ArchitectureKey, out var arch))
        {
            throw new InvalidDataException(
                $"Sequential.Load: '{path}' does not describe an architecture (it was not written by Module.Save of a Sequential of built-in or " +
                "registered ISerializableLayer layers). Build the model yourself and call LoadStateDict(StateDict.Load(path)).");
        }
        var model = ModelFile.BuildArchitecture(arch, dict, options) as Sequential
            ?? throw new InvalidDataException($"Sequential.Load: '{path}' holds a model that is not a Sequential.");
        ModelFile.LoadWeights(model, dict, path, "Sequential.Load");
        return model;
    }
}
