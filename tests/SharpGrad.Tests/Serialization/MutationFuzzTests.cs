using System.Text;
using SharpGrad.Serialization;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Serialization;

/// <summary>
/// Randomized robustness: thousands of mutations of valid files (fixed seeds, so failures reproduce). The only exception the
/// readers may throw is InvalidDataException; success is fine (many mutations only change values).
/// </summary>
public class MutationFuzzTests
{
    private static readonly byte[] Interesting = [0, 1, 0x7f, 0x80, 0xff, (byte)'{', (byte)'}', (byte)'"', (byte)'9', (byte)'-', (byte)',', (byte)'[', (byte)'.', (byte)'(', (byte)'t', (byte)'R', (byte)'q', (byte)'h'];

    private static byte[] Mutate(byte[] src, Random rng)
    {
        var b = src.ToList();
        int edits = 1 + rng.Next(3);
        for (int e = 0; e < edits && b.Count > 0; e++)
        {
            int at = rng.Next(b.Count);
            switch (rng.Next(9))
            {
                case 0: b[at] ^= (byte)(1 << rng.Next(8)); break;
                case 1: b[at] = (byte)rng.Next(256); break;
                case 2: b[at] = Interesting[rng.Next(Interesting.Length)]; break;
                case 3: b.RemoveRange(rng.Next(b.Count), 0); b.RemoveRange(at, rng.Next(Math.Min(16, b.Count - at) + 1)); break;
                case 4: b.InsertRange(at, Enumerable.Range(0, 1 + rng.Next(8)).Select(_ => (byte)rng.Next(256))); break;
                case 5: b.RemoveRange(at, b.Count - at); break; // truncate
                case 6:
                {
                    int len = Math.Min(1 + rng.Next(32), b.Count - at);
                    b.InsertRange(rng.Next(b.Count), b.GetRange(at, len)); // duplicate a range
                    break;
                }
                case 7:
                {
                    // a plausible-looking but wrong number where a digit was
                    int digit = b.FindIndex(at, x => x is >= (byte)'0' and <= (byte)'9');
                    if (digit >= 0) b.InsertRange(digit, Encoding.ASCII.GetBytes(rng.Next(3) switch { 0 => "99999999999999", 1 => "1152921504606846976", _ => "-" }));
                    break;
                }
                default:
                {
                    // overwrite 1, 2, 4 or 8 bytes with an extreme little-endian integer
                    int width = 1 << rng.Next(4);
                    for (int i = 0; i < width && at + i < b.Count; i++) b[at + i] = rng.Next(2) == 0 ? (byte)0xff : (byte)(i == width - 1 ? 0x7f : 0xff);
                    break;
                }
            }
        }
        return b.ToArray();
    }

    private int _rejected, _accepted;

    private void Survive(Func<object> read, byte[] input, int i, string what)
    {
        try
        {
            read();
            _accepted++;
        }
        catch (InvalidDataException ex)
        {
            Assert.False(string.IsNullOrWhiteSpace(ex.Message));
            _rejected++;
        }
        catch (Exception ex)
        {
            Assert.Fail($"{what} mutation #{i} ({input.Length} bytes) threw {ex.GetType().Name} instead of InvalidDataException: {ex.Message}\n{ex.StackTrace}");
        }
    }

    [Fact]
    public void SafeTensors_ThousandsOfMutations_OnlyInvalidDataException()
    {
        var ms = new MemoryStream();
        SafeTensors.Write(ms, [
            ("f", Tensor.FromArray(new float[] { 1, 2, 3 }, 3)), ("d", Tensor.FromArray(new double[] { 1, 2 }, 2, 1)),
            ("l", Tensor.FromArray(new long[] { 5 }, 1)), ("i", Tensor.FromArray(new[] { 1, 2 }, 2)),
            ("u", Tensor.FromArray(new byte[] { 9 }, 1)), ("b", Tensor.FromArray(new[] { true }, 1)), ("s", Tensor.Scalar(1f)),
        ], new Dictionary<string, string> { ["format"] = "pt" });
        var seeds = new[] { File.ReadAllBytes(Path.Combine(SafeTensorsFile.Dir, "net3.safetensors")), ms.ToArray() };
        var rng = new Random(20261127);
        for (int i = 0; i < 6000; i++)
        {
            var input = Mutate(seeds[i % seeds.Length], rng);
            Survive(() => SafeTensors.Read(new MemoryStream(input)), input, i, "safetensors");
            if (i % 4 == 0) Survive(() => SafeTensors.Read(new ForwardOnlyStream(input)), input, i, "safetensors (stream)");
        }
        // the mutations reach both outcomes (so they exercise the validation, not just the first check)
        Assert.True(_rejected > 1000 && _accepted > 100, $"rejected {_rejected}, accepted {_accepted}");
    }

    [Fact]
    public void PyTorchCheckpoint_ThousandsOfMutations_OnlyInvalidDataException()
    {
        var files = new[]
        {
            File.ReadAllBytes(Path.Combine(SafeTensorsFile.Dir, "net3_state_dict.pt")),
            CheckpointZip.Build(new PickleBuilder().BeginDict()
                .Str("t").Tensor("FloatStorage", "0", 12, 1, [3, 2], [1, 4])
                .Str("h").Tensor("HalfStorage", "1", 2, 0, [2], [1])
                .EndDict().ToArray(), [("0", CheckpointZip.Floats(new float[12])), ("1", new byte[4])]),
        };
        var rng = new Random(1127);
        // the raw archive: mostly caught by the zip layer (structure, CRCs)
        for (int i = 0; i < 1500; i++)
        {
            var input = Mutate(files[i % files.Length], rng);
            Survive(() => PyTorchCheckpoint.Read(new MemoryStream(input)), input, i, ".pt archive");
        }
        // the pickle, re-zipped with valid checksums, so the unpickler sees every mutation
        var pickles = files.Select(CheckpointZip.PickleOf).ToArray();
        for (int i = 0; i < 4000; i++)
        {
            int which = i % files.Length;
            var pickle = Mutate(pickles[which], rng);
            var input = CheckpointZip.WithPickle(files[which], pickle);
            Survive(() => PyTorchCheckpoint.Read(new MemoryStream(input)), pickle, i, ".pt pickle");
        }
        Assert.True(_rejected > 1000 && _accepted > 100, $"rejected {_rejected}, accepted {_accepted}");
    }
}
