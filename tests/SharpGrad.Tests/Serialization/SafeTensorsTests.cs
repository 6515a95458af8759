using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using SharpGrad.Serialization;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Serialization;

public class SafeTensorsTests
{
    private static string Temp(string name) => Path.Combine(Path.GetTempPath(), "sg-ser-" + Guid.NewGuid().ToString("N") + "-" + name);

    private static (string, Tensor)[] EveryDType()
    {
        var f = new[] { 1.5f, -0f, float.NaN, float.PositiveInfinity, float.Epsilon, BitConverter.Int32BitsToSingle(0x7fc01234), -3.25e-38f };
        var d = new[] { Math.PI, -0.0, double.NegativeInfinity, BitConverter.Int64BitsToDouble(0x7ff8_0000_dead_beef), double.MaxValue, 5e-324 };
        return
        [
            ("f32", Tensor.FromArray(f, 7)),
            ("f64", Tensor.FromArray(d, 2, 3)),
            ("i64", Tensor.FromArray(new[] { long.MinValue, -1, 0, long.MaxValue }, 2, 2)),
            ("i32", Tensor.FromArray(new[] { int.MinValue, -7, int.MaxValue }, 3)),
            ("u8", Tensor.FromArray(new byte[] { 0, 1, 127, 128, 255 }, 5)),
            ("bool", Tensor.FromArray(new[] { true, false, true }, 3, 1)),
            ("scalar", Tensor.Scalar(2.5f)),
            ("empty", Tensor.Zeros([0, 3])),
            ("strided", Tensor.Arange(0, 12, 1, DType.Float32).View(3, 4).Transpose(0, 1)), // non-contiguous
        ];
    }

    private static byte[] RawBytes(Tensor t)
    {
        // Naive reference encoding: element by element in row-major order, little-endian.
        var ms = new MemoryStream();
        switch (t.DType)
        {
            case DType.Float32: foreach (var v in t.Contiguous().Span<float>().ToArray()) { var b = new byte[4]; BinaryPrimitives.WriteInt32LittleEndian(b, BitConverter.SingleToInt32Bits(v)); ms.Write(b); } break;
            case DType.Float64: foreach (var v in t.Contiguous().Span<double>().ToArray()) { var b = new byte[8]; BinaryPrimitives.WriteInt64LittleEndian(b, BitConverter.DoubleToInt64Bits(v)); ms.Write(b); } break;
            case DType.Int64: foreach (var v in t.ToLongArray()) { var b = new byte[8]; BinaryPrimitives.WriteInt64LittleEndian(b, v); ms.Write(b); } break;
            case DType.Int32: foreach (var v in t.Contiguous().Span<int>().ToArray()) { var b = new byte[4]; BinaryPrimitives.WriteInt32LittleEndian(b, v); ms.Write(b); } break;
            case DType.UInt8: ms.Write(t.ToByteArray()); break;
            case DType.Bool: foreach (var v in t.ToBoolArray()) ms.WriteByte(v ? (byte)1 : (byte)0); break;
        }
        return ms.ToArray();
    }

    [Fact]
    public void RoundTrip_IsBitIdenticalForEveryDType()
    {
        var path = Temp("all.safetensors");
        var tensors = EveryDType();
        SafeTensors.Write(path, tensors, new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcode \"quoted\"" });
        var back = SafeTensors.Read(path);
        Assert.Equal(tensors.Select(t => t.Item1), back.Keys);
        foreach (var (name, t) in tensors)
        {
            var r = back[name];
            Assert.Equal(t.DType, r.DType);
            Assert.Equal(t.Shape, r.Shape);
            Assert.Equal(RawBytes(t), RawBytes(r));
        }
        Assert.Equal("pt", back.Metadata["format"]);
        Assert.Equal("ünïcode \"quoted\"", back.Metadata["note"]);

        // and through StateDict.Save / StateDict.Load (by extension)
        var sd = new StateDict(tensors);
        var path2 = Temp("sd.safetensors");
        sd.Save(path2);
        var back2 = StateDict.Load(path2);
        foreach (var (name, t) in tensors) Assert.Equal(RawBytes(t), RawBytes(back2[name]));
        File.Delete(path);
        File.Delete(path2);
    }

    [Fact]
    public void WrittenFile_FollowsTheFormatByteByByte()
    {
        var tensors = EveryDType();
        var ms = new MemoryStream();
        SafeTensors.Write(ms, tensors, new Dictionary<string, string> { ["k"] = "v" });
        var file = ms.ToArray();

        // 8 bytes: little-endian u64 header size N
        ulong n = 0;
        for (int i = 7; i >= 0; i--) n = (n << 8) | file[i];
        Assert.True(n > 0 && (long)n <= file.Length - 8);
        // the data buffer starts 8-byte aligned: the header is padded (with spaces only) to a multiple of 8
        Assert.Equal(0UL, (8 + n) % 8);
        var header = file.AsSpan(8, (int)n).ToArray();
        Assert.Equal((byte)'{', header[0]);
        int end = Array.LastIndexOf(header, (byte)'}');
        Assert.All(header.Skip(end + 1), b => Assert.Equal((byte)' ', b));
        Assert.True(header.Length - end - 1 < 8);
        // the JSON: __metadata__ is a string map; every tensor has dtype, shape and data_offsets
        using var doc = JsonDocument.Parse(Encoding.UTF8.GetString(header, 0, end + 1));
        Assert.Equal("v", doc.RootElement.GetProperty("__metadata__").GetProperty("k").GetString());
        long dataLength = file.Length - 8 - (long)n;
        long expectedBegin = 0;
        var sizes = new Dictionary<string, int> { ["F32"] = 4, ["F64"] = 8, ["I64"] = 8, ["I32"] = 4, ["U8"] = 1, ["BOOL"] = 1 };
        var dtypeName = new Dictionary<DType, string> { [DType.Float32] = "F32", [DType.Float64] = "F64", [DType.Int64] = "I64", [DType.Int32] = "I32", [DType.UInt8] = "U8", [DType.Bool] = "BOOL" };
        int count = 0;
        foreach (var prop in doc.RootElement.EnumerateObject())
        {
            if (prop.Name == "__metadata__") continue;
            var t = tensors.Single(x => x.Item1 == prop.Name).Item2;
            var dt = prop.Value.GetProperty("dtype").GetString()!;
            Assert.Equal(dtypeName[t.DType], dt);
            Assert.Equal(t.Shape, prop.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray());
            var off = prop.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            Assert.Equal(2, off.Length);
            Assert.Equal(expectedBegin, off[0]); // contiguous: no holes, no overlaps
            Assert.Equal((long)t.NumElements * sizes[dt], off[1] - off[0]);
            Assert.Equal(RawBytes(t), file.AsSpan(8 + (int)n + (int)off[0], (int)(off[1] - off[0])).ToArray());
            expectedBegin = off[1];
            count++;
        }
        Assert.Equal(tensors.Length, count);
        Assert.Equal(dataLength, expectedBegin); // the buffer is exactly covered
    }

    [Fact]
    public void ReadsThePyTorchFixturesLikeTheReferenceReader()
    {
        foreach (var file in new[] { "net3.safetensors", "cnn.safetensors", "models.safetensors" })
        {
            var ours = SafeTensors.Read(Path.Combine(SafeTensorsFile.Dir, file));
            var reference = SafeTensorsFile.Load(file);
            Assert.Equal(reference.Names.OrderBy(x => x, StringComparer.Ordinal), ours.Keys.OrderBy(x => x, StringComparer.Ordinal));
            foreach (var name in reference.Names) Assert.Equal(RawBytes(reference[name]), RawBytes(ours[name]));
        }
        Assert.Equal("pt", SafeTensors.Read(Path.Combine(SafeTensorsFile.Dir, "net3.safetensors")).Metadata["format"]);
    }

    [Fact]
    public void ReadsFromANonSeekableStream()
    {
        var ms = new MemoryStream();
        var tensors = EveryDType();
        SafeTensors.Write(ms, tensors);
        var back = SafeTensors.Read(new ForwardOnlyStream(ms.ToArray()));
        foreach (var (name, t) in tensors) Assert.Equal(RawBytes(t), RawBytes(back[name]));
    }

    [Fact]
    public void Float16AndBFloat16AreWidenedToFloat32()
    {
        // 1.0, -2.5, 65504 (max half), 2^-24 (smallest subnormal half) in IEEE half; 1.0, 3.140625, -inf in bfloat16.
        var half = new ushort[] { 0x3C00, 0xC100, 0x7BFF, 0x0001 };
        var bf = new ushort[] { 0x3F80, 0x4049, 0xFF80 };
        var file = Build($"{{\"h\":{{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,8]}},\"b\":{{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[8,14]}}}}",
            half.Concat(bf).SelectMany(u => new[] { (byte)(u & 0xff), (byte)(u >> 8) }).ToArray());
        var sd = SafeTensors.Read(new MemoryStream(file));
        Assert.Equal(DType.Float32, sd["h"].DType);
        Assert.Equal(new[] { 1f, -2.5f, 65504f, MathF.Pow(2, -24) }, sd["h"].ToArray());
        Assert.Equal(new[] { 2, 2 }, sd["h"].Shape);
        Assert.Equal(new[] { 1f, 3.140625f, float.NegativeInfinity }, sd["b"].ToArray());
    }

    internal static byte[] Build(string header, byte[] data, long? declaredLength = null)
    {
        var h = Encoding.UTF8.GetBytes(header);
        var file = new byte[8 + h.Length + data.Length];
        BinaryPrimitives.WriteInt64LittleEndian(file, declaredLength ?? h.Length);
        h.CopyTo(file, 8);
        data.CopyTo(file, 8 + h.Length);
        return file;
    }

    private static InvalidDataException Rejects(byte[] file, params string[] mentions)
    {
        var ex = Assert.ThrowsAny<InvalidDataException>(() => SafeTensors.Read(new MemoryStream(file)));
        foreach (var m in mentions) Assert.Contains(m, ex.Message);
        // the same through a stream whose length is unknown
        Assert.ThrowsAny<InvalidDataException>(() => SafeTensors.Read(new ForwardOnlyStream(file)));
        return ex;
    }

    [Fact]
    public void BadInput_TruncatedAtEveryLength()
    {
        var ms = new MemoryStream();
        SafeTensors.Write(ms, EveryDType());
        var file = ms.ToArray();
        for (int len = 0; len < file.Length; len++)
        {
            Rejects(file[..len]);
        }
    }

    [Fact]
    public void BadInput_HeaderLongerThanTheFile() => Rejects(Build("{}", [], declaredLength: 1000), "header length", "1000");

    [Fact]
    public void BadInput_AbsurdHeaderLength() => Rejects(Build("{}", [], declaredLength: long.MaxValue), "header length");

    [Fact]
    public void BadInput_NonJsonHeader()
    {
        Rejects(Build("{\"a\": [1, 2", new byte[8]), "not valid JSON");
        Rejects(Build("not json", []), "'{'");
        Rejects(Build("{\"a\":1}\0\0\0", []));
        Rejects(Build("[1,2]   ", []));
        var invalidUtf8 = Build("{\"\u00ff\":1}", []);
        invalidUtf8[10] = 0xff; invalidUtf8[11] = 0xfe;
        Rejects(invalidUtf8);
    }

    [Fact]
    public void BadInput_OffsetsOutOfRange() =>
        Rejects(Build("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", new byte[8]), "'w'", "16");

    [Fact]
    public void BadInput_OverlappingTensors() =>
        Rejects(Build("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", new byte[12]),
            "overlaps");

    [Fact]
    public void BadInput_HoleBetweenTensors() =>
        Rejects(Build("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", new byte[12]),
            "'b'", "hole");

    [Fact]
    public void BadInput_TrailingBytes() =>
        Rejects(Build("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", new byte[9]), "trailing");

    [Fact]
    public void BadInput_SizeDisagreesWithShape() =>
        Rejects(Build("{\"a\":{\"dtype\":\"F64\",\"shape\":[3],\"data_offsets\":[0,16]}}", new byte[16]), "'a'", "24", "16");

    [Fact]
    public void BadInput_TwoToTheSixtyElements()
    {
        // 2^60 elements of F32 = 2^62 bytes, offsets matching so only the size check can catch it.
        long bytes = (1L << 60) * 4;
        Rejects(Build($"{{\"huge\":{{\"dtype\":\"F32\",\"shape\":[1073741824,1073741824],\"data_offsets\":[0,{bytes}]}}}}", new byte[16]), "'huge'");
        // a product that overflows 64 bits
        Rejects(Build("{\"o\":{\"dtype\":\"U8\",\"shape\":[2147483647,2147483647,2147483647],\"data_offsets\":[0,8]}}", new byte[8]), "'o'");
        // a dimension beyond int range, a negative one, a fractional one
        Rejects(Build("{\"d\":{\"dtype\":\"U8\",\"shape\":[4294967296],\"data_offsets\":[0,8]}}", new byte[8]), "'d'");
        Rejects(Build("{\"n\":{\"dtype\":\"U8\",\"shape\":[-8],\"data_offsets\":[0,8]}}", new byte[8]), "'n'");
        Rejects(Build("{\"f\":{\"dtype\":\"U8\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", new byte[8]), "'f'");
    }

    [Fact]
    public void BadInput_LyingSizeOnAStreamOfUnknownLength()
    {
        // 64 MB declared, 100 bytes present: without a file length the reader reads in chunks before allocating the tensor
        var file = Build("{\"big\":{\"dtype\":\"F32\",\"shape\":[16777216],\"data_offsets\":[0,67108864]}}", new byte[100]);
        var ex = Assert.ThrowsAny<InvalidDataException>(() => SafeTensors.Read(new ForwardOnlyStream(file)));
        Assert.Contains("'big'", ex.Message);
        Assert.Contains("truncated", ex.Message);
    }

    [Fact]
    public void BadInput_UnknownDType()
    {
        Rejects(Build("{\"a\":{\"dtype\":\"Q7\",\"shape\":[1],\"data_offsets\":[0,1]}}", new byte[1]), "'a'", "Q7");
        Rejects(Build("{\"a\":{\"dtype\":\"I16\",\"shape\":[1],\"data_offsets\":[0,2]}}", new byte[2]), "'a'", "I16");
    }

    [Fact]
    public void BadInput_DuplicateNamesAndMalformedEntries()
    {
        Rejects(Build("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", new byte[2]), "'a'", "twice");
        Rejects(Build("{\"a\":{\"shape\":[1],\"data_offsets\":[0,1]}}", new byte[1]), "dtype");
        Rejects(Build("{\"a\":{\"dtype\":\"U8\",\"data_offsets\":[0,1]}}", new byte[1]), "shape");
        Rejects(Build("{\"a\":{\"dtype\":\"U8\",\"shape\":[1]}}", new byte[1]), "data_offsets");
        Rejects(Build("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,0]}}", new byte[1]), "'a'");
        Rejects(Build("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[-1,0]}}", new byte[1]), "'a'");
        Rejects(Build("{\"a\":5}", []), "'a'");
        Rejects(Build("{\"__metadata__\":{\"k\":1}}", []), "__metadata__");
        Rejects(Build("{\"__metadata__\":[]}", []), "__metadata__");
    }

    [Fact]
    public void WriterRejectsDuplicateAndReservedNames()
    {
        Assert.Throws<ArgumentException>(() => SafeTensors.Write(new MemoryStream(), [("a", Tensor.Zeros(1)), ("a", Tensor.Zeros(1))]));
        Assert.Throws<ArgumentException>(() => SafeTensors.Write(new MemoryStream(), [("__metadata__", Tensor.Zeros(1))]));
    }
}

/// <summary>A read-only stream that can't seek and returns data in small, irregular chunks.</summary>
internal sealed class ForwardOnlyStream(byte[] data) : Stream
{
    private int _pos;
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count)
    {
        int n = Math.Min(Math.Min(count, 7 + _pos % 5), data.Length - _pos);
        Array.Copy(data, _pos, buffer, offset, n);
        _pos += n;
        return n;
    }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
