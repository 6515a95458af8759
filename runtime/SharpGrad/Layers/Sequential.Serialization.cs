using SharpGrad.Serialization;

namespace SharpGrad.Layers;

public partial class Sequential
{
    /// <summary>
    /// Loads a run-time <see cref="Sequential"/> saved with <see cref="Module.Save"/>: rebuilds its layers from the architecture in
    /// the file's metadata through <see cref="LayerRegistry"/> (no reflection), then loads the weights (PyTorch: <c>torch.load</c>
    /// of a pickled <c>nn.Sequential</c>).
    /// </summary>
    /// <exception cref="InvalidDataException">The file is malformed or does not describe a Sequential.</exception>
    public static Sequential Load(string path)
    {
        var dict = Serialization.StateDict.Load(path);
        if (!dict.Metadata.TryGetValue(ModelFile.ArchitectureKey, out var arch))
        {
            throw new InvalidDataException(
                $"Sequential.Load: '{path}' does not describe an architecture (it was not written by Module.Save of a Sequential of built-in or " +
                "registered ISerializableLayer layers). Build the model yourself and call LoadStateDict(StateDict.Load(path)).");
        }
        var model = Architecture.Build(arch) as Sequential
            ?? throw new InvalidDataException($"Sequential.Load: '{path}' holds a model that is not a Sequential.");
        model.LoadStateDict(dict, strict: true);
        return model;
    }
}
