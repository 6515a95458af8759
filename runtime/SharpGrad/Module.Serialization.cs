using System.Text;
using SharpGrad.Serialization;

namespace SharpGrad;

public abstract partial class Module
{
    /// <summary>
    /// The module's state: every parameter and buffer with its dotted PyTorch name, detached (sharing storage with the module),
    /// in PyTorch's order — for this module and then each child depth first, its own parameters followed by its own buffers
    /// (PyTorch: <c>state_dict()</c>). A module reachable under two names appears under both, as in PyTorch.
    /// </summary>
    public Serialization.StateDict StateDict()
    {
        var dict = new Serialization.StateDict();
        foreach (var (name, tensor, _) in StateEntries()) dict[name] = tensor.Detach();
        return dict;
    }

    /// <summary>(name, live tensor, is parameter) for every state entry, in state_dict order.</summary>
    internal List<(string Name, Tensor Tensor, bool IsParameter)> StateEntries()
    {
        var result = new List<(string, Tensor, bool)>();
        var path = new HashSet<Module>(ReferenceEqualityComparer.Instance);
        Collect(this, "", result, path);
        return result;

        static void Collect(Module m, string prefix, List<(string, Tensor, bool)> result, HashSet<Module> path)
        {
            if (!path.Add(m))
            {
                throw new InvalidOperationException($"StateDict: the module tree contains a cycle at '{prefix}' ({m.GetType().Name}).");
            }
            foreach (var (name, p) in m.NamedDirectParameters())
            {
                if (p is not null) result.Add((prefix + name, p, true));
            }
            foreach (var (name, b) in m.NamedDirectBuffers())
            {
                if (b is not null) result.Add((prefix + name, b, false));
            }
            foreach (var (name, child) in RegisteredChildrenOf(m))
            {
                if (child is not null) Collect(child, prefix + name + ".", result, path);
            }
            path.Remove(m);
        }
    }

    /// <summary>
    /// Copies <paramref name="stateDict"/> into this module's parameters and buffers, in place and without recording gradients
    /// (PyTorch: <c>load_state_dict(state_dict, strict)</c>). Shapes must match; values are converted to the parameter's dtype
    /// (float64 → float32 and integer → floating are allowed, floating → integer/bool is refused as lossy).
    /// With <paramref name="strict"/> (the default) any missing or unexpected key is an error; every problem is reported in one
    /// <see cref="StateDictMismatchException"/>. With <c>strict: false</c> the matching entries are loaded and the missing and
    /// unexpected keys are returned; shape mismatches are still errors (as in PyTorch). Nothing is copied if there is any error.
    /// </summary>
    public LoadStateDictResult LoadStateDict(IReadOnlyDictionary<string, Tensor> stateDict, bool strict = true)
    {
        ArgumentNullException.ThrowIfNull(stateDict);
        var entries = StateEntries();
        var expected = new HashSet<string>(StringComparer.Ordinal);
        var missing = new List<string>();
        var mismatches = new List<string>();
        var copies = new List<(Tensor Dst, Tensor Src)>();
        foreach (var (name, dst, isParam) in entries)
        {
            expected.Add(name);
            if (!stateDict.TryGetValue(name, out var src) || src is null)
            {
                missing.Add(name);
                continue;
            }
            if (EntryMismatch(name, dst, src, isParam) is { } mismatch)
            {
                mismatches.Add(mismatch);
                continue;
            }
            copies.Add((dst, src));
        }
        var unexpected = stateDict.Keys.Where(k => !expected.Contains(k)).ToList();

        bool fail = mismatches.Count > 0 || (strict && (missing.Count > 0 || unexpected.Count > 0));
        if (fail)
        {
            var sb = new StringBuilder();
            sb.Append("Error(s) in loading the state dict for ").Append(GetType().Name).Append(':');
            if (strict && missing.Count > 0)
            {
                sb.Append("\n\tMissing key(s) in state_dict: ").Append(string.Join(", ", missing.Select(k => "\"" + k + "\""))).Append('.');
            }
            if (strict && unexpected.Count > 0)
            {
                sb.Append("\n\tUnexpected key(s) in state_dict: ").Append(string.Join(", ", unexpected.Select(k => "\"" + k + "\""))).Append('.');
            }
            foreach (var m in mismatches) sb.Append("\n\t").Append(m);
            if (strict && (missing.Count > 0 || unexpected.Count > 0) && mismatches.Count == 0)
            {
                sb.Append("\nIf the names differ only by a prefix, rename the keys; to load the matching entries only, pass strict: false.");
            }
            throw new StateDictMismatchException(sb.ToString(), missing, unexpected, mismatches);
        }

        using (Autograd.NoGrad())
        {
            foreach (var (dst, src) in copies)
            {
                if (ReferenceEquals(dst.Storage, src.Storage) && dst.Offset == src.Offset && dst._strides.AsSpan().SequenceEqual(src._strides)) continue;
                dst.Copy_(src);
            }
        }
        return new LoadStateDictResult(missing, unexpected);
    }

    /// <summary>Why <paramref name="src"/> can't be loaded into the model's <paramref name="dst"/> named <paramref name="name"/>, or null if it can.</summary>
    internal static string? EntryMismatch(string name, Tensor dst, Tensor src, bool isParam)
    {
        if (!ShapeUtil.SameShape(src._shape, dst._shape))
        {
            return $"size mismatch for {name}: copying a {(isParam ? "param" : "buffer")} with shape {ShapeUtil.Format(src._shape)} " +
                   $"from the state dict, but the shape in the current model is {ShapeUtil.Format(dst._shape)}.";
        }
        if (src.DType != dst.DType && src.DType.IsFloatingPoint() && !dst.DType.IsFloatingPoint())
        {
            return $"dtype mismatch for {name}: the state dict holds {src.DType}, but the model's {(isParam ? "param" : "buffer")} is {dst.DType}; " +
                   "converting floating-point values to an integer or bool tensor would lose them. Convert the entry with .To(...) first if you mean it.";
        }
        return null;
    }

    /// <summary>
    /// Saves the whole model to a safetensors file (the PyTorch <c>torch.save(model)</c> use case, without pickle): its state dict,
    /// plus metadata <c>format=pt</c>, <c>sharpgrad.type</c> (the model's type) and, when every module in the tree can describe
    /// itself (run-time <see cref="Layers.Sequential"/> of built-in layers), <c>sharpgrad.architecture</c>, so
    /// <see cref="Load{T}(string, ModelLoadOptions?)"/> / <c>Sequential.Load</c> can rebuild it. PyTorch reads the file with
    /// <c>safetensors.torch.load_file</c>.
    /// </summary>
    public void Save(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Serialization.StateDict.FormatOf(path) != Serialization.StateDict.FileFormat.SafeTensors)
        {
            throw new ArgumentException($"Save: SharpGrad saves models as safetensors; use a path ending in .safetensors (got '{path}').", nameof(path));
        }
        var dict = StateDict();
        dict.Metadata["format"] = "pt";
        dict.Metadata[ModelFile.TypeKey] = GetType().FullName ?? GetType().Name;
        if (Architecture.TryDescribe(this, out var json, out _)) dict.Metadata[ModelFile.ArchitectureKey] = json;
        SafeTensors.Write(path, dict.Items(), dict.Metadata);
    }

    /// <summary>
    /// Loads a model saved with <see cref="Save"/> (PyTorch: <c>torch.load(path)</c> of a whole model). If the file describes
    /// its architecture (a run-time <see cref="Layers.Sequential"/>), the model is rebuilt from it through
    /// <see cref="LayerRegistry"/>; otherwise a <c>new T()</c> is built. Either way the layers are built without their random
    /// initialisation (<see cref="SkipInit{TModule}(Func{TModule})"/>) and the weights are loaded into them strictly.
    /// Also accepts a plain state-dict file (.safetensors or .pt/.pth) for types with a parameterless constructor.
    /// The file is untrusted: its tensors are checked against <see cref="ModelLoadOptions.MaxBytes"/> before they are read,
    /// and its architecture may not allocate more than its tensors hold (checked before each allocation).
    /// </summary>
    /// <param name="path">A .safetensors file written by <see cref="Save"/>, or a state dict (.safetensors, .pt, .pth).</param>
    /// <param name="options">Limits for untrusted files; <see cref="ModelLoadOptions.Default"/> when null.</param>
    /// <exception cref="InvalidDataException">The file is malformed, too large for the load budget, holds a different model type,
    /// or holds weights that do not fit the model (the <see cref="StateDictMismatchException"/> is the inner exception).</exception>
    public static T Load<T>(string path, ModelLoadOptions? options = null) where T : Module, new()
    {
        options ??= ModelLoadOptions.Default;
        var dict = ModelFile.ReadWeights(path, options);
        T model;
        if (dict.Metadata.TryGetValue(ModelFile.ArchitectureKey, out var arch))
        {
            var built = ModelFile.BuildArchitecture(arch, dict, options);
            model = built as T ?? throw new InvalidDataException(
                $"Module.Load<{typeof(T).Name}>: '{path}' holds a {built.GetType().Name}, not a {typeof(T).Name}.");
        }
        else
        {
            if (dict.Metadata.TryGetValue(ModelFile.TypeKey, out var typeName) && typeName != (typeof(T).FullName ?? typeof(T).Name))
            {
                throw new InvalidDataException(
                    $"Module.Load<{typeof(T).Name}>: '{path}' holds a model of type {typeName}, not {typeof(T).FullName}. Load it as that type.");
            }
            // The strict load below overwrites every parameter and buffer: skip the random initialisation (PyTorch's torch.load
            // does not run the constructor's init either).
            model = SkipInit(static () => new T());
        }
        ModelFile.LoadWeights(model, dict, path, $"Module.Load<{typeof(T).Name}>");
        return model;
    }
}
