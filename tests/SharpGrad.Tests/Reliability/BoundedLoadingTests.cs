using SharpGrad.Layers;
using SharpGrad.Serialization;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Reliability;

/// <summary>
/// Issue 18, findings 3 and 4: a whole-model file is checked before anything is allocated for it. The architecture in its
/// metadata can't make the loader allocate more than the file's tensors hold (a 1,368-byte file declaring Linear(10000,10000)
/// took 5 s and 1.9 GB before failing), sizes beyond .NET arrays and malformed text are <see cref="InvalidDataException"/>
/// (they were OutOfMemoryException and InvalidOperationException), and weights that don't fit the model are
/// <see cref="InvalidDataException"/> as Module.Load's documentation promises (it was StateDictMismatchException).
/// </summary>
[Collection(AllocationCollection.Name)]
public class BoundedLoadingTests
{
    private static string Temp() => Path.Combine(Path.GetTempPath(), "sg-rel-" + Guid.NewGuid().ToString("N") + ".safetensors");

    /// <summary>A whole-model file: the given tensors, and the given architecture JSON in the metadata (as Module.Save writes it).</summary>
    internal static byte[] ModelFile(string architecture, params (string Name, Tensor Value)[] tensors)
    {
        var ms = new MemoryStream();
        SafeTensors.Write(ms, tensors, new Dictionary<string, string>
        {
            ["format"] = "pt", ["sharpgrad.type"] = "SharpGrad.Layers.Sequential", ["sharpgrad.architecture"] = architecture,
        });
        return ms.ToArray();
    }

    private static string Linear(int i, int o) => "{\"name\":\"0\",\"module\":{\"kind\":\"Linear\",\"args\":{\"in_features\":" + i + ",\"out_features\":" + o + ",\"bias\":true}}}";

    private static string Seq(params string[] children) => """{"kind":"Sequential","children":[""" + string.Join(",", children) + "]}";

    private static readonly (string, Tensor)[] SmallLinear = [("0.weight", Tensor.Zeros(2, 3)), ("0.bias", Tensor.Zeros(2))];

    /// <summary>Runs <paramref name="load"/> on <paramref name="file"/> written to disk; returns the exception and the bytes allocated.</summary>
    private static (InvalidDataException Error, long Allocated) Refused(byte[] file, Func<string, object> load)
    {
        var path = Temp();
        File.WriteAllBytes(path, file);
        try
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            InvalidDataException? error = null;
            try
            {
                load(path);
            }
            catch (InvalidDataException ex)
            {
                error = ex;
            }
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(error is not null, "the file was loaded, but it should have been refused");
            return (error!, allocated);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void HugeLayerDeclaredInASmallFile_IsRefusedBeforeAllocatingIt()
    {
        var file = ModelFile(Seq(Linear(10000, 10000)), SmallLinear);
        Assert.True(file.Length < 2000);
        var (error, allocated) = Refused(file, p => Sequential.Load(p));
        Assert.Contains("Linear", error.Message);
        // Linear(10000, 10000) would be 400 MB: nothing near that may be allocated (the file itself is < 2 KB)
        Assert.True(allocated < 4 << 20, $"{allocated} bytes were allocated to refuse a {file.Length}-byte file");
    }

    [Fact]
    public void ManyLargeLayersDeclaredInASmallFile_AreRefusedBeforeAllocatingThem()
    {
        var children = Enumerable.Range(0, 200).Select(i => Linear(2000, 2000).Replace("\"name\":\"0\"", $"\"name\":\"{i}\"")).ToArray();
        var file = ModelFile(Seq(children), SmallLinear);
        var (_, allocated) = Refused(file, p => Module.Load<Sequential>(p));
        Assert.True(allocated < 4 << 20, $"{allocated} bytes were allocated to refuse a {file.Length}-byte file declaring 200 × Linear(2000, 2000)");
    }

    [Theory]
    [InlineData("""{"kind":"Linear","args":{"in_features":2147483647,"out_features":1}}""")]
    [InlineData("""{"kind":"Linear","args":{"in_features":1,"out_features":2147483647,"bias":false}}""")]
    [InlineData("""{"kind":"LayerNorm","args":{"normalized_shape":[2147483647]}}""")]
    [InlineData("""{"kind":"Linear","args":{"in_features":100000,"out_features":100000}}""")]
    public void SizesBeyondDotNetArrays_AreInvalidData(string layer)
    {
        var file = ModelFile("""{"kind":"Sequential","children":[{"name":"0","module":""" + layer + "}]}", SmallLinear);
        var (error, allocated) = Refused(file, p => Sequential.Load(p));
        Assert.False(string.IsNullOrWhiteSpace(error.Message));
        Assert.True(allocated < 4 << 20, $"{allocated} bytes allocated");
    }

    [Theory]
    [InlineData("""{"kind":"Sequential","children":[{"name":"\ud800","module":{"kind":"ReLU"}}]}""")]
    [InlineData("""{"kind":"\udc00x","children":[]}""")]
    [InlineData("""{"kind":"Sequential","children":[{"name":"0","module":{"kind":"GELU","args":{"approximate":"\ud800"}}}]}""")]
    [InlineData("""{"kind":"Sequential","children":[{"name":"0","module":{"kind":"LeakyReLU","args":{"negative_slope":1e999}}}]}""")]
    public void MalformedTextInTheArchitecture_IsInvalidData(string architecture)
    {
        var (error, _) = Refused(ModelFile(architecture), p => Sequential.Load(p));
        Assert.Contains("architecture", error.Message);
    }

    [Fact]
    public void AnArchitectureThatDisagreesWithTheTensors_IsRefusedAtItsFirstBadLayer_BeforeBuildingTheRest()
    {
        LayerRegistry.Register("Test.SkipProbe", _ => new SkipProbe());
        // Linear(3, 2) declared, but the weight is [2, 2]; a probe layer after it must not be built
        var file = ModelFile(Seq(Linear(3, 2), "{\"name\":\"1\",\"module\":{\"kind\":\"Test.SkipProbe\"}}"),
            ("0.weight", Tensor.Zeros(2, 2)), ("0.bias", Tensor.Zeros(2)));
        lock (SkipProbe.Built) SkipProbe.Built.Clear();
        foreach (var load in new Func<string, object>[] { p => Sequential.Load(p), p => Module.Load<Sequential>(p) })
        {
            var (e, _) = Refused(file, load);
            Assert.Contains("Linear layer '0'", e.Message);
            Assert.Contains("0.weight", e.Message);
            Assert.Contains("[2, 2]", e.Message);
            Assert.Contains("[2, 3]", e.Message);
        }
        lock (SkipProbe.Built) Assert.Empty(SkipProbe.Built);

        // a missing tensor is named too
        var (missing, _) = Refused(ModelFile(Seq(Linear(3, 2)), ("0.weight", Tensor.Zeros(2, 3))), p => Sequential.Load(p));
        Assert.Contains("'0.bias'", missing.Message);
    }

    [Fact]
    public void WeightsThatDoNotFitTheModel_AreInvalidData_FromBothLoaders()
    {
        // every layer fits, but the file has a tensor the model doesn't: the strict load's StateDictMismatchException is inside
        var file = ModelFile(Seq(Linear(3, 2)), ("0.weight", Tensor.Zeros(2, 3)), ("0.bias", Tensor.Zeros(2)), ("0.extra", Tensor.Zeros(2)));
        var (e1, _) = Refused(file, p => Sequential.Load(p));
        var (e2, _) = Refused(file, p => Module.Load<Sequential>(p));
        foreach (var e in new[] { e1, e2 })
        {
            Assert.Contains("0.extra", e.Message);
            Assert.IsType<StateDictMismatchException>(e.InnerException);
        }
    }

    [Fact]
    public void LoadBudget_RefusesALargerModel_WithAMessageSayingHowToRaiseIt()
    {
        #pragma warning disable SG2009 // this test exercises a run-time Sequential on purpose
        var model = new Sequential(new Linear(64, 64), new ReLU(), new Linear(64, 8));
        #pragma warning restore SG2009
        var path = Temp();
        model.Save(path);
        try
        {
            var error = Assert.Throws<InvalidDataException>(() => Sequential.Load(path, new ModelLoadOptions { MaxBytes = 1000 }));
            Assert.Contains("MaxBytes", error.Message);
            Assert.Contains("1000", error.Message);
            var error2 = Assert.Throws<InvalidDataException>(() => Module.Load<Sequential>(path, new ModelLoadOptions { MaxBytes = 1000 }));
            Assert.Contains("MaxBytes", error2.Message);
            // the same file within the default budget loads, with the saved weights
            var loaded = Sequential.Load(path);
            Assert.Equal(model[0].Parameters().First().ToArray(), loaded[0].Parameters().First().ToArray());
            Assert.True(ModelLoadOptions.DefaultMaxBytes >= 1L << 30);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>A layer that records whether it was built inside <see cref="Init.Skip"/>.</summary>
    private sealed class SkipProbe : Module, ISerializableLayer
    {
        public static readonly List<bool> Built = [];

        public SkipProbe()
        {
            lock (Built) Built.Add(Init.IsSkipping);
        }

        public string LayerKind => "Test.SkipProbe";

        public IReadOnlyDictionary<string, object?> LayerArguments => new Dictionary<string, object?>();
    }

    [Fact]
    public void LoadedLayers_AreBuiltWithoutTheirRandomInitialisation()
    {
        LayerRegistry.Register("Test.SkipProbe", _ => new SkipProbe());
        var path = Temp();
        new Sequential(new SkipProbe(), new Linear(16, 4)).Save(path);
        try
        {
            lock (SkipProbe.Built) SkipProbe.Built.Clear();
            var loaded = Sequential.Load(path);
            var again = Module.Load<Sequential>(path);
            lock (SkipProbe.Built) Assert.Equal([true, true], SkipProbe.Built);
            Assert.Equal(loaded[1].Parameters().First().ToArray(), again[1].Parameters().First().ToArray());
        }
        finally
        {
            File.Delete(path);
        }
    }
}

/// <summary>
/// Found by the fuzz test's memory ceiling: a safetensors stream of unknown length whose first 8 bytes declare a 50 MB header
/// made the reader allocate the 50 MB before finding that nothing followed. It now allocates as the bytes arrive.
/// </summary>
[Collection(AllocationCollection.Name)]
public class StreamingAllocationTests
{
    [Fact]
    public void AStreamDeclaringAHugeHeader_AllocatesOnlyWhatArrives()
    {
        var data = new byte[8 + 1000];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(data, 50_000_000);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var ex = Assert.Throws<InvalidDataException>(() => SafeTensors.Read(new SharpGrad.Tests.Serialization.ForwardOnlyStream(data)));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains("header", ex.Message);
        Assert.True(allocated < 1 << 20, $"{allocated} bytes allocated for a 1,008-byte stream");
    }
}
