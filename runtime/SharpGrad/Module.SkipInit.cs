namespace SharpGrad;

public abstract partial class Module
{
    /// <summary>
    /// Builds a module without initialising its parameters (PyTorch: <c>torch.nn.utils.skip_init(module_cls, *args)</c>), for
    /// when its weights are loaded right after: <paramref name="construct"/> runs inside <see cref="Init.Skip"/>, so the
    /// layers' random initialisation (and its draws from the generator) is skipped and the parameters stay zero — PyTorch
    /// leaves them uninitialised — until <see cref="LoadStateDict"/> (or an <see cref="Init"/> call) fills them.
    /// <code>var model = Module.SkipInit(() => new Net());
    /// model.LoadStateDict(SafeTensors.Read("net.safetensors"));</code>
    /// <see cref="Load{T}(string, Serialization.ModelLoadOptions?)"/> builds its model this way.
    /// </summary>
    public static TModule SkipInit<TModule>(Func<TModule> construct) where TModule : Module
    {
        ArgumentNullException.ThrowIfNull(construct);
        using (Init.Skip()) return construct();
    }
}
