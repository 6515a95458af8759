using System.Text;
using SharpGrad.Layers;
using SharpGrad.Serialization;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Serialization;

/// <summary>
/// Randomized robustness, run in CI: 15,400 mutations (7,500 safetensors reads, 5,500 .pt, 2,400 whole-model loads) of valid files — safetensors, PyTorch .pt archives and
/// whole-model files (Module.Save, read back by Sequential.Load and Module.Load) — with fixed seeds, so failures reproduce.
/// For every case: the only exception is the documented <see cref="InvalidDataException"/> (success is fine: many mutations
/// only change values), and the bytes allocated on the reading thread stay under a ceiling proportional to the input
/// (<see cref="CeilingBytes"/>), so no input can make a reader allocate what it declares instead of what it holds.
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
    private long _largestAllocation;

    /// <summary>
    /// The most a case may allocate: 8 MiB of fixed overhead (JSON documents, zip directories, the model's own objects)
    /// plus 64 bytes per input byte. A reader that trusted a declared size would blow far past it (a declared
    /// Linear(10000, 10000) alone is 400 MB).
    /// </summary>
    private static long CeilingBytes(int inputLength) => (8L << 20) + 64L * inputLength;

    private void Survive(Func<object> read, byte[] input, int i, string what)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
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
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        _largestAllocation = Math.Max(_largestAllocation, allocated);
        Assert.True(allocated <= CeilingBytes(input.Length),
            $"{what} mutation #{i} ({input.Length} bytes) allocated {allocated} bytes, more than the {CeilingBytes(input.Length)}-byte ceiling");
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

    /// <summary>A whole-model file as Module.Save writes it: most built-in layer kinds, small, with the architecture in the metadata.</summary>
    private static byte[] SavedModel()
    {
        #pragma warning disable SG2009 // this test exercises a run-time Sequential on purpose
        var model = new Sequential(
            new Conv2d(1, 2, 3, padding: 1), new BatchNorm2d(2), new ReLU(), new MaxPool2d(2), new Flatten(),
            new Linear(2 * 2 * 2, 4), new LayerNorm(4), new GELU(), new Dropout(0.25), new Linear(4, 3, bias: false), new LogSoftmax(1));
        #pragma warning restore SG2009
        // the same bytes on every run, without reseeding Rng.Default (the tests run in parallel, and others rely on its sequence)
        var rng = new Rng(1118);
        using (Autograd.NoGrad())
        {
            foreach (var p in model.Parameters()) p.Copy_(Tensor.Randn(p.Shape, rng: rng));
        }
        var path = Path.Combine(Path.GetTempPath(), "sg-fuzz-seed-" + Guid.NewGuid().ToString("N") + ".safetensors");
        try
        {
            model.Save(path);
            return File.ReadAllBytes(path);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void WholeModelFiles_ThousandsOfMutations_OnlyInvalidDataException_WithinTheMemoryCeiling()
    {
        var seed = SavedModel();
        var weights = SafeTensors.Read(new MemoryStream(seed));
        string architecture = weights.Metadata["sharpgrad.architecture"];
        var rng = new Random(20261204);
        var path = Path.Combine(Path.GetTempPath(), "sg-fuzz-model-" + Guid.NewGuid().ToString("N") + ".safetensors");
        try
        {
            for (int i = 0; i < 2400; i++)
            {
                byte[] input;
                if (i % 4 == 0)
                {
                    input = Mutate(seed, rng); // the raw file: header, metadata and data
                }
                else
                {
                    // the architecture JSON, in an otherwise valid file, so that the builder sees every mutation
                    var mutated = Encoding.UTF8.GetString(Mutate(Encoding.UTF8.GetBytes(architecture), rng));
                    var ms = new MemoryStream();
                    SafeTensors.Write(ms, weights.Items(), new Dictionary<string, string>(weights.Metadata) { ["sharpgrad.architecture"] = mutated });
                    input = ms.ToArray();
                }
                File.WriteAllBytes(path, input);
                Survive(i % 2 == 0 ? () => Sequential.Load(path) : () => Module.Load<Sequential>(path), input, i, "whole-model file");
            }
        }
        finally
        {
            File.Delete(path);
        }
        Assert.True(_rejected > 1000 && _accepted > 100, $"rejected {_rejected}, accepted {_accepted}");
    }
}
