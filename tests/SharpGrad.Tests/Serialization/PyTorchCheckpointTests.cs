using System.IO.Compression;
using System.Text;
using SharpGrad.Serialization;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Serialization;

public class PyTorchCheckpointTests
{
    private static string Fixture(string name) => Path.Combine(SafeTensorsFile.Dir, name);

    [Theory]
    [InlineData("net3_state_dict.pt", "net3.safetensors")]
    [InlineData("cnn_state_dict.pt", "cnn.safetensors")]
    public void ReadsTorchSaveStateDicts_IdenticalToTheSafetensorsExport(string pt, string st)
    {
        var fromPt = StateDict.Load(Fixture(pt));
        var fromSt = StateDict.Load(Fixture(st));
        Assert.Equal(fromSt.Keys, fromPt.Keys); // same order: PyTorch's state_dict order
        foreach (var (name, t) in fromSt.Items())
        {
            Assert.Equal(t.DType, fromPt[name].DType);
            Assert.Equal(t.Shape, fromPt[name].Shape);
            Assert.Equal(t.ToArray(), fromPt[name].ToArray());
        }
    }

    [Fact]
    public void HonoursStorageOffsetsAndStrides_AndSharedStorages()
    {
        var storage = Enumerable.Range(0, 12).Select(i => (float)i * 1.5f).ToArray();
        var pickle = new PickleBuilder().BeginDict()
            // a transposed view: offset 1, size (3, 2), stride (1, 4) over a 12-element storage
            .Str("t").Tensor("FloatStorage", "0", 12, 1, [3, 2], [1, 4])
            // a plain contiguous tensor over the same storage, from offset 6
            .Str("c").Tensor("FloatStorage", "0", 12, 6, [2, 3], [3, 1])
            // a scalar (empty size and stride)
            .Str("s").Tensor("FloatStorage", "0", 12, 11, [], [])
            .EndDict().ToArray();
        var file = CheckpointZip.Build(pickle, [("0", CheckpointZip.Floats(storage))]);
        var sd = PyTorchCheckpoint.Read(new MemoryStream(file));

        // naive reference: element [i, j] = storage[offset + i*stride0 + j*stride1]
        var expectedT = new float[6];
        for (int i = 0; i < 3; i++) for (int j = 0; j < 2; j++) expectedT[i * 2 + j] = storage[1 + i * 1 + j * 4];
        Assert.Equal([3, 2], sd["t"].Shape);
        Assert.Equal(expectedT, sd["t"].ToArray());
        Assert.Equal(storage[6..12], sd["c"].ToArray());
        Assert.Equal(0, sd["s"].Rank);
        Assert.Equal(storage[11], sd["s"].Item());
        Assert.Equal(["t", "c", "s"], sd.Keys);
    }

    [Fact]
    public void ReadsEveryStorageType()
    {
        var pickle = new PickleBuilder().BeginDict()
            .Str("d").Tensor("DoubleStorage", "0", 2, 0, [2], [1])
            .Str("l").Tensor("LongStorage", "1", 2, 0, [2], [1])
            .Str("i").Tensor("IntStorage", "2", 2, 0, [2], [1])
            .Str("b").Tensor("ByteStorage", "3", 2, 0, [2], [1])
            .Str("o").Tensor("BoolStorage", "4", 2, 0, [2], [1])
            .Str("h").Tensor("HalfStorage", "5", 2, 0, [2], [1])
            .Str("bf").Tensor("BFloat16Storage", "6", 2, 0, [2], [1])
            .EndDict().ToArray();
        byte[] D(params double[] v) => v.SelectMany(BitConverter.GetBytes).ToArray();
        byte[] L(params long[] v) => v.SelectMany(BitConverter.GetBytes).ToArray();
        byte[] I(params int[] v) => v.SelectMany(BitConverter.GetBytes).ToArray();
        var file = CheckpointZip.Build(pickle, [
            ("0", D(1.25, -2)), ("1", L(long.MaxValue, -3)), ("2", I(7, int.MinValue)), ("3", [200, 3]), ("4", [1, 0]),
            ("5", [0x00, 0x3C, 0x00, 0xC1]), ("6", [0x80, 0x3F, 0x49, 0x40])]);
        var sd = PyTorchCheckpoint.Read(new MemoryStream(file));
        Assert.Equal(new[] { 1.25, -2 }, sd["d"].ToDoubleArray());
        Assert.Equal(new[] { long.MaxValue, -3 }, sd["l"].ToLongArray());
        Assert.Equal(DType.Int32, sd["i"].DType);
        Assert.Equal(new long[] { 7, int.MinValue }, sd["i"].ToLongArray());
        Assert.Equal(new byte[] { 200, 3 }, sd["b"].ToByteArray());
        Assert.Equal(new[] { true, false }, sd["o"].ToBoolArray());
        Assert.Equal(new[] { 1f, -2.5f }, sd["h"].ToArray());
        Assert.Equal(new[] { 1f, 3.140625f }, sd["bf"].ToArray());
    }

    [Fact]
    public void ReadsParametersAndNewerArchiveLayouts()
    {
        // torch.save of a dict holding nn.Parameter objects pickles _rebuild_parameter(_rebuild_tensor_v2(...), True, OrderedDict());
        // PyTorch 2.x archives add 'byteorder' and '.data/serialization_id' entries.
        var p = new PickleBuilder().BeginDict().Str("w");
        p.Global("torch._utils", "_rebuild_parameter");
        p.Mark().Tensor("FloatStorage", "0", 4, 0, [2, 2], [2, 1]).Op(0x88).Global("collections", "OrderedDict").Op((byte)')').Op((byte)'R').Op((byte)'t').Op((byte)'R');
        var pickle = p.EndDict().ToArray();
        var file = CheckpointZip.Build(pickle, [("0", CheckpointZip.Floats(1, 2, 3, 4))], prefix: "model/",
            extra: [("byteorder", "little"u8.ToArray()), (".data/serialization_id", "1234567890"u8.ToArray())]);
        var path = Path.Combine(Path.GetTempPath(), "sg-ser-" + Guid.NewGuid().ToString("N") + ".pth");
        File.WriteAllBytes(path, file);
        var sd = StateDict.Load(path);
        Assert.Equal(new float[] { 1, 2, 3, 4 }, sd["w"].ToArray());
        Assert.Equal([2, 2], sd["w"].Shape);
        Assert.False(sd["w"].RequiresGrad);
        File.Delete(path);
    }

    private static InvalidDataException Rejects(byte[] file, params string[] mentions)
    {
        var ex = Assert.ThrowsAny<InvalidDataException>(() => PyTorchCheckpoint.Read(new MemoryStream(file)));
        foreach (var m in mentions) Assert.Contains(m, ex.Message);
        return ex;
    }

    private static byte[] OneTensor(Func<PickleBuilder, PickleBuilder> entry, byte[]? storage = null, CompressionLevel level = CompressionLevel.NoCompression)
        => CheckpointZip.Build(entry(new PickleBuilder().BeginDict()).EndDict().ToArray(), [("0", storage ?? CheckpointZip.Floats(1, 2, 3, 4))], level);

    [Fact]
    public void BadInput_UnexpectedGlobals()
    {
        // the classic: a REDUCE of os.system
        var evil = new PickleBuilder().Proto().Global("os", "system").Str("echo pwned").Op(0x85).Op((byte)'R').Op((byte)'.').ToArray();
        var ex = Rejects(CheckpointZip.Build(evil, []), "more than a state dict", "os.system");
        Assert.DoesNotContain("pwned", ex.Message);
        Rejects(CheckpointZip.Build(new PickleBuilder().Proto().Global("builtins", "eval").Op((byte)'.').ToArray(), []), "builtins.eval");
        Rejects(CheckpointZip.Build(new PickleBuilder().Proto().Global("torch", "load").Op((byte)'.').ToArray(), []), "torch.load");
        // STACK_GLOBAL too
        Rejects(CheckpointZip.Build(new PickleBuilder().Raw(0x80, 4).Str("subprocess").Str("Popen").Op(0x93).Op((byte)'.').ToArray(), []), "subprocess.Popen");
    }

    [Fact]
    public void BadInput_UnexpectedOpcodes()
    {
        // INST ('i'), OBJ ('o'), EXT1 (0x82) and an undefined opcode: none is allowed
        Rejects(CheckpointZip.Build(new PickleBuilder().Proto().Raw((byte)'i').Raw(Encoding.ASCII.GetBytes("os\nsystem\n")).Op((byte)'.').ToArray(), []), "opcode");
        Rejects(CheckpointZip.Build(new PickleBuilder().Proto().Mark().Op((byte)'o').Op((byte)'.').ToArray(), []), "opcode");
        Rejects(CheckpointZip.Build(new PickleBuilder().Proto().Raw(0x82, 1).Op((byte)'.').ToArray(), []), "opcode");
        Rejects(CheckpointZip.Build(new PickleBuilder().Proto().Raw(0xff).ToArray(), []), "opcode");
    }

    [Fact]
    public void BadInput_MoreThanAStateDict()
    {
        // {'model': <tensor>, 'epoch': 5} — a training checkpoint
        var pickle = new PickleBuilder().BeginDict().Str("w").Tensor("FloatStorage", "0", 4, 0, [4], [1]).Str("epoch").Int(5).EndDict().ToArray();
        Rejects(CheckpointZip.Build(pickle, [("0", CheckpointZip.Floats(1, 2, 3, 4))]), "'epoch'", "more than a state dict");
        // a top-level list
        Rejects(CheckpointZip.Build(new PickleBuilder().Proto().Op((byte)']').Op((byte)'.').ToArray(), []), "list");
        // a persistent id that is not a storage
        Rejects(CheckpointZip.Build(new PickleBuilder().Proto().Str("module").Op((byte)'Q').Op((byte)'.').ToArray(), []), "persistent id");
    }

    [Fact]
    public void BadInput_StackMarkAndMemoAbuse()
    {
        Rejects(CheckpointZip.Build(new PickleBuilder().Proto().Op((byte)'0').Op((byte)'.').ToArray(), []), "empty stack");
        Rejects(CheckpointZip.Build(new PickleBuilder().Proto().Op((byte)'t').Op((byte)'.').ToArray(), []), "mark");
        Rejects(CheckpointZip.Build(new PickleBuilder().Proto().Raw((byte)'h', 9).Op((byte)'.').ToArray(), []), "memo slot 9");
        Rejects(CheckpointZip.Build(new PickleBuilder().Proto().Op((byte)'N').Raw((byte)'r', 0xff, 0xff, 0xff, 0x7f).Op((byte)'.').ToArray(), []), "memo slot");
        Rejects(CheckpointZip.Build(new PickleBuilder().Proto().Raw(Enumerable.Repeat((byte)'(', 100_000).ToArray()).Op((byte)'.').ToArray(), []), "marks");
        Rejects(CheckpointZip.Build(new PickleBuilder().Proto().Raw(Enumerable.Repeat((byte)'N', 1_100_000).ToArray()).Op((byte)'.').ToArray(), []), "stack");
        // a string longer than the pickle
        Rejects(CheckpointZip.Build(new PickleBuilder().Proto().Raw((byte)'X', 0xff, 0xff, 0xff, 0x7f).Op((byte)'.').ToArray(), []), "longer than the rest");
        // no STOP
        Rejects(CheckpointZip.Build(new PickleBuilder().Proto().Op((byte)'}').ToArray(), []), "STOP");
    }

    [Fact]
    public void BadInput_TensorsOutsideTheirStorage()
    {
        Rejects(OneTensor(p => p.Str("w").Tensor("FloatStorage", "0", 4, 2, [3], [1])), "'w'", "storage");
        Rejects(OneTensor(p => p.Str("w").Tensor("FloatStorage", "0", 4, 0, [2, 2], [2, 3])), "'w'");
        // 2^60 elements declared for the storage: checked against the entry's size before anything is allocated
        Rejects(OneTensor(p => p.Str("w").Tensor("FloatStorage", "0", 1 << 30, 0, [4], [1])), "storage '0'");
    }

    [Fact]
    public void BadInput_WrongZipEntries()
    {
        // not a zip at all
        Rejects(Encoding.ASCII.GetBytes("definitely not a zip file, just text"));
        Rejects([]);
        // a zip without data.pkl
        var ms = new MemoryStream();
        using (var z = new ZipArchive(ms, ZipArchiveMode.Create, true)) z.CreateEntry("archive/other.txt");
        Rejects(ms.ToArray(), "data.pkl");
        // the storage entry missing, or of the wrong size
        var pickle = new PickleBuilder().BeginDict().Str("w").Tensor("FloatStorage", "0", 4, 0, [4], [1]).EndDict().ToArray();
        Rejects(CheckpointZip.Build(pickle, []), "data/0");
        Rejects(CheckpointZip.Build(pickle, [("0", CheckpointZip.Floats(1, 2, 3))]), "storage '0'", "16");
        // a big-endian checkpoint
        Rejects(CheckpointZip.Build(pickle, [("0", CheckpointZip.Floats(1, 2, 3, 4))], extra: [("byteorder", "big"u8.ToArray())]), "big");
        // a storage key that tries to leave data/
        var escape = new PickleBuilder().BeginDict().Str("w").Tensor("FloatStorage", "../data.pkl", 4, 0, [4], [1]).EndDict().ToArray();
        Rejects(CheckpointZip.Build(escape, []), "storage key");
    }

    [Fact]
    public void BadInput_ZipBomb()
    {
        // 16 MB of zeros deflate to ~16 KB: the pickle agrees with the size, but the expansion ratio gives it away
        const int n = 4 << 20;
        var pickle = new PickleBuilder().BeginDict().Str("w").Tensor("FloatStorage", "0", n, 0, [n], [1]).EndDict().ToArray();
        var file = CheckpointZip.Build(pickle, [("0", new byte[n * 4])], CompressionLevel.SmallestSize);
        Assert.True(file.Length < 200_000);
        Rejects(file, "zip bomb");
    }

    [Fact]
    public void BadInput_TruncatedAtManyLengths()
    {
        var file = File.ReadAllBytes(Fixture("net3_state_dict.pt"));
        for (int len = 0; len < file.Length; len += 7) Rejects(file[..len]);
    }
}
