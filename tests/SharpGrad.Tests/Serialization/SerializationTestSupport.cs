using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using SharpGrad.Layers;
using SharpGrad.Serialization;

namespace SharpGrad.Tests.Serialization;

/// <summary>A hand-written Linear (PyTorch's parameter names and layout) for tests that must not depend on other branches.</summary>
internal sealed class TLinear : Module, ISerializableLayer
{
    public TLinear(int inFeatures, int outFeatures, bool bias = true, Rng? rng = null)
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Weight = new Parameter(Tensor.Randn([outFeatures, inFeatures], rng: rng) * (float)(1.0 / Math.Sqrt(inFeatures)));
        Bias = bias ? new Parameter(Tensor.Randn([outFeatures], rng: rng) * 0.1f) : null;
    }

    public int InFeatures { get; }
    public int OutFeatures { get; }
    public Parameter Weight { get; }
    public Parameter? Bias { get; }

    public Tensor Forward(Tensor x) => Functional.Linear(x, Weight, Bias);

    protected override IEnumerable<(string Name, Parameter Parameter)> NamedDirectParameters()
    {
        yield return ("weight", Weight);
        if (Bias is not null) yield return ("bias", Bias);
    }

    protected override Tensor ForwardDynamic(Tensor[] inputs) => Forward(inputs[0]);

    public string LayerKind => "Test.Linear";

    public IReadOnlyDictionary<string, object?> LayerArguments => new Dictionary<string, object?>
    {
        ["in_features"] = InFeatures, ["out_features"] = OutFeatures, ["bias"] = Bias is not null,
    };
}

internal sealed class TConv2d : Module, ISerializableLayer
{
    public TConv2d(int inChannels, int outChannels, int kernelSize, int stride, int padding, Rng? rng = null)
    {
        (InChannels, OutChannels, KernelSize, Stride, Padding) = (inChannels, outChannels, kernelSize, stride, padding);
        Weight = new Parameter(Tensor.Randn([outChannels, inChannels, kernelSize, kernelSize], rng: rng) * 0.1f);
        Bias = new Parameter(Tensor.Randn([outChannels], rng: rng) * 0.1f);
    }

    public int InChannels { get; }
    public int OutChannels { get; }
    public int KernelSize { get; }
    public int Stride { get; }
    public int Padding { get; }
    public Parameter Weight { get; }
    public Parameter Bias { get; }

    protected override IEnumerable<(string Name, Parameter Parameter)> NamedDirectParameters()
    {
        yield return ("weight", Weight);
        yield return ("bias", Bias);
    }

    protected override Tensor ForwardDynamic(Tensor[] inputs) => Functional.Conv2d(inputs[0], Weight, Bias, Stride, Padding);

    public string LayerKind => "Test.Conv2d";

    public IReadOnlyDictionary<string, object?> LayerArguments => new Dictionary<string, object?>
    {
        ["in_channels"] = InChannels, ["out_channels"] = OutChannels, ["kernel_size"] = new[] { KernelSize, KernelSize },
        ["stride"] = Stride, ["padding"] = Padding,
    };
}

internal sealed class TMaxPool2d(int kernelSize) : Module, ISerializableLayer
{
    public int KernelSize { get; } = kernelSize;

    protected override Tensor ForwardDynamic(Tensor[] inputs) => Functional.MaxPool2d(inputs[0], KernelSize);

    public string LayerKind => "Test.MaxPool2d";

    public IReadOnlyDictionary<string, object?> LayerArguments => new Dictionary<string, object?> { ["kernel_size"] = KernelSize };
}

/// <summary>A module with its own parameter and buffer and a child, to check state-dict order.</summary>
internal sealed class WithBuffers : Module
{
    public Parameter A { get; } = new(Tensor.FromArray(new float[] { 1, 2 }));
    public Tensor Count { get; } = Tensor.FromArray(new long[] { 7 });
    public TLinear Child { get; } = new(2, 3, rng: new Rng(5));
    public Tensor RunningMean { get; } = Tensor.FromArray(new float[] { 0.5f, 0.25f });

    protected override IEnumerable<(string Name, Parameter Parameter)> NamedDirectParameters()
    {
        yield return ("a", A);
    }

    protected override IEnumerable<(string Name, Tensor Buffer)> NamedDirectBuffers()
    {
        yield return ("num_batches_tracked", Count);
        yield return ("running_mean", RunningMean);
    }

    public override IEnumerable<(string Name, Module Module)> NamedChildren()
    {
        yield return ("child", Child);
    }
}

/// <summary>A model with a parameterless constructor, the case Module.Load&lt;T&gt; handles with new T().</summary>
internal sealed class TinyNet : Module
{
    public TinyNet() => Fc = new TLinear(3, 2, rng: new Rng(1));

    public TLinear Fc { get; }

    public override IEnumerable<(string Name, Module Module)> NamedChildren()
    {
        yield return ("fc", Fc);
    }

    protected override Tensor ForwardDynamic(Tensor[] inputs) => Fc.Forward(inputs[0]);
}

internal static class TestModels
{
    private static int s_registered;

    public static void RegisterTestLayers()
    {
        if (Interlocked.Exchange(ref s_registered, 1) == 1) return;
        LayerRegistry.Register("Test.Linear", a => new TLinear(a.GetInt("in_features"), a.GetInt("out_features"), a.GetBool("bias", true)));
        LayerRegistry.Register("Test.Conv2d", a => new TConv2d(a.GetInt("in_channels"), a.GetInt("out_channels"), a.GetInts("kernel_size")[0], a.GetInt("stride"), a.GetInt("padding")));
        LayerRegistry.Register("Test.MaxPool2d", a => new TMaxPool2d(a.GetInt("kernel_size")));
    }

    /// <summary>PyTorch's Sequential(Linear(1,10), ReLU(), Linear(10,1)).</summary>
    public static Sequential Net3(Rng? rng = null) => new(new Linear(1, 10, rng: rng), new ReLU(), new Linear(10, 1, rng: rng));

    /// <summary>The same network from the hand-written test layers (checks custom ISerializableLayer kinds).</summary>
    public static Sequential Net3Custom(Rng? rng = null) => new(new TLinear(1, 10, rng: rng), new ReLU(), new TLinear(10, 1, rng: rng));

    #pragma warning disable SG2009 // this test exercises a run-time Sequential on purpose
    /// <summary>
    /// The fixture CNN: conv=Sequential(conv1=Conv2d(3,32,3,1,1), relu1=ReLU(), pool1=MaxPool2d(2));
    /// dense=Sequential(dense1=Linear(512,64), relu2=ReLU(), dense2=Linear(64,10)); forward dense(conv(x).view(N,-1)).
    /// The flatten step is a parameterless Flatten child, so the state-dict names are PyTorch's.
    /// </summary>
    public static Sequential Cnn() => new(
        ("conv", new Sequential(("conv1", new Conv2d(3, 32, 3, 1, 1)), ("relu1", new ReLU()), ("pool1", new MaxPool2d(2)))),
        ("flatten", new Flatten()),
        ("dense", new Sequential(("dense1", new Linear(512, 64)), ("relu2", new ReLU()), ("dense2", new Linear(64, 10)))));
    #pragma warning restore SG2009

    /// <summary>The CNN from the hand-written test layers.</summary>
    public static Sequential CnnCustom() => new(
        ("conv", new Sequential(("conv1", new TConv2d(3, 32, 3, 1, 1)), ("relu1", new ReLU()), ("pool1", new TMaxPool2d(2)))),
        ("flatten", new Flatten()),
        ("dense", new Sequential(("dense1", new TLinear(512, 64)), ("relu2", new ReLU()), ("dense2", new TLinear(64, 10)))));
}

/// <summary>Builds pickles opcode by opcode and torch.save-style zip archives, for hand-made checkpoints.</summary>
internal sealed class PickleBuilder
{
    private readonly MemoryStream _ms = new();
    private int _memo;

    public PickleBuilder Op(byte op) { _ms.WriteByte(op); return this; }
    public PickleBuilder Raw(params byte[] b) { _ms.Write(b); return this; }
    public PickleBuilder Proto() => Raw(0x80, 2);
    public PickleBuilder Global(string module, string name) => Op((byte)'c').Raw(Encoding.ASCII.GetBytes(module + "\n" + name + "\n"));
    public PickleBuilder Put() => Raw((byte)'q', (byte)_memo++);
    public PickleBuilder Mark() => Op((byte)'(');
    public PickleBuilder Str(string s)
    {
        var b = Encoding.UTF8.GetBytes(s);
        Op((byte)'X');
        Span<byte> n = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(n, b.Length);
        return Raw(n.ToArray()).Raw(b);
    }
    public PickleBuilder Int(int v)
    {
        if (v is >= 0 and < 256) return Raw((byte)'K', (byte)v);
        var b = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(b, v);
        return Op((byte)'J').Raw(b);
    }
    public PickleBuilder Tuple(params int[] values)
    {
        Mark();
        foreach (var v in values) Int(v);
        return Op((byte)'t');
    }

    /// <summary>Pushes _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict()).</summary>
    public PickleBuilder Tensor(string storageType, string key, int numel, int offset, int[] size, int[] stride)
    {
        Global("torch._utils", "_rebuild_tensor_v2");
        Mark();
        Mark().Str("storage").Global("torch", storageType).Str(key).Str("cpu").Int(numel).Op((byte)'t').Op((byte)'Q');
        Int(offset).Tuple(size).Tuple(stride).Op(0x89);
        Global("collections", "OrderedDict").Op((byte)')').Op((byte)'R');
        Op((byte)'t');
        return Op((byte)'R');
    }

    /// <summary>Starts the top-level OrderedDict and a MARK for its SETITEMS.</summary>
    public PickleBuilder BeginDict() => Proto().Global("collections", "OrderedDict").Op((byte)')').Op((byte)'R').Mark();

    public PickleBuilder EndDict() => Op((byte)'u').Op((byte)'.');

    public byte[] ToArray() => _ms.ToArray();
}

internal static class CheckpointZip
{
    /// <summary>A torch.save-style archive: archive/data.pkl, archive/data/&lt;key&gt; (stored), archive/version.</summary>
    public static byte[] Build(byte[] pickle, IEnumerable<(string Key, byte[] Data)> storages, CompressionLevel level = CompressionLevel.NoCompression,
        string prefix = "archive/", IEnumerable<(string Name, byte[] Data)>? extra = null)
    {
        using var ms = new MemoryStream();
        using (var zip = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
        {
            Add(zip, prefix + "data.pkl", pickle, CompressionLevel.NoCompression);
            foreach (var (k, d) in storages) Add(zip, prefix + "data/" + k, d, level);
            Add(zip, prefix + "version", "3\n"u8.ToArray(), CompressionLevel.NoCompression);
            foreach (var (n, d) in extra ?? []) Add(zip, prefix + n, d, CompressionLevel.NoCompression);
        }
        return ms.ToArray();
    }

    private static void Add(ZipArchive zip, string name, byte[] data, CompressionLevel level)
    {
        var e = zip.CreateEntry(name, level);
        using var s = e.Open();
        s.Write(data);
    }

    public static byte[] Floats(params float[] v)
    {
        var b = new byte[v.Length * 4];
        for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(4 * i), v[i]);
        return b;
    }

    /// <summary>Replaces data.pkl in an existing archive (to mutate the pickle while keeping the zip's checksums valid).</summary>
    public static byte[] WithPickle(byte[] archive, byte[] pickle)
    {
        using var src = new ZipArchive(new MemoryStream(archive), ZipArchiveMode.Read);
        using var ms = new MemoryStream();
        using (var dst = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var e in src.Entries)
            {
                byte[] data;
                if (e.FullName.EndsWith("data.pkl", StringComparison.Ordinal)) data = pickle;
                else
                {
                    using var s = e.Open();
                    using var b = new MemoryStream();
                    s.CopyTo(b);
                    data = b.ToArray();
                }
                var ne = dst.CreateEntry(e.FullName, CompressionLevel.NoCompression);
                using var o = ne.Open();
                o.Write(data);
            }
        }
        return ms.ToArray();
    }

    public static byte[] PickleOf(byte[] archive)
    {
        using var zip = new ZipArchive(new MemoryStream(archive), ZipArchiveMode.Read);
        var e = zip.Entries.First(x => x.FullName.EndsWith("data.pkl", StringComparison.Ordinal));
        using var s = e.Open();
        using var b = new MemoryStream();
        s.CopyTo(b);
        return b.ToArray();
    }
}
