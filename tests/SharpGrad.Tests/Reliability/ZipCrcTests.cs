using SharpGrad.Serialization;
using SharpGrad.Tests.Serialization;

namespace SharpGrad.Tests.Reliability;

/// <summary>
/// Issue 18, finding 6: the CRC-32 of a .pt archive's entries was not checked, so a flipped bit inside a stored tensor loaded
/// as a wrong weight. Python's zipfile (and so torch.load) refuses such a file ("Bad CRC-32").
/// </summary>
public class ZipCrcTests
{
    private static byte[] Archive(float[] values) => CheckpointZip.Build(
        new PickleBuilder().BeginDict().Str("w").Tensor("FloatStorage", "0", values.Length, 0, [values.Length], [1]).EndDict().ToArray(),
        [("0", CheckpointZip.Floats(values))]);

    [Fact]
    public void FlippedBitInAStoredTensor_IsRefused()
    {
        var values = new float[] { 1, 2, 3, 4, 5, 6, 7, 8 };
        var file = Archive(values);
        Assert.Equal(values, PyTorchCheckpoint.Read(new MemoryStream(file))["w"].ToArray());

        // find the stored float 5.0f (00 00 A0 40) and flip one bit of its mantissa
        var needle = BitConverter.GetBytes(5f);
        int at = file.AsSpan().IndexOf(needle);
        Assert.True(at > 0);
        file[at + 1] ^= 0x10;
        var ex = Assert.Throws<InvalidDataException>(() => PyTorchCheckpoint.Read(new MemoryStream(file)));
        Assert.Contains("CRC", ex.Message);
        Assert.Contains("data/0", ex.Message);
    }

    [Fact]
    public void FlippedBitInThePickle_IsRefused()
    {
        var file = Archive([1, 2]);
        // the pickle's key "w" (BINUNICODE, length 1): change it to "x"; the pickle still parses, only the CRC can tell
        int at = file.AsSpan().IndexOf("X\u0001\0\0\0w"u8);
        Assert.True(at > 0);
        file[at + 5] = (byte)'x';
        var ex = Assert.Throws<InvalidDataException>(() => PyTorchCheckpoint.Read(new MemoryStream(file)));
        Assert.Contains("CRC", ex.Message);
    }
}
