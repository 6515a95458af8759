// Classifies MNIST digits with the CNN trained by samples/Mnist, as a NativeAOT executable.
//   AotInference IMAGES [START] [COUNT]
// IMAGES is an IDX image file (gzipped or not, [N, 28, 28] unsigned bytes) or a 28x28 PGM file (P5 binary or P2 ASCII).
// Prints one line per image: "INDEX PREDICTED_DIGIT". Bad arguments or files: one line on stderr, exit code 2.
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using SharpGrad.Data;
using SharpGrad.Samples.Mnist;
using SharpGrad.Serialization;

namespace SharpGrad.Samples.AotInference;

/// <summary>The program; <see cref="Run"/> is public so that tests run the same code in-process (the JIT build).</summary>
public static partial class Program
{
    /// <summary>The weights file, looked up next to the executable.</summary>
    public const string WeightsFile = "mnist-cnn.safetensors";

    private const string Usage = "usage: AotInference IMAGES [START] [COUNT]  (IMAGES: IDX image file, gzipped or not, or a 28x28 PGM file)";

    public static int Main(string[] args)
    {
        using var stdout = new StreamWriter(OpenStandardOutput(), new UTF8Encoding(false)) { AutoFlush = false };
        // Console.Error is created (with its encoding lookup) only when an error is printed.
        int rc = Run(args, stdout, new LazyStandardError());
        stdout.Flush();
        return rc;
    }

    /// <summary>
    /// Standard output as a plain stream. On Unix, <see cref="Console.OpenStandardOutput()"/>'s first write initialises the
    /// terminal and signal handling (a ".NET SigHandler" thread, terminal settings), which costs start-up time and is not
    /// needed to print lines of text; a <see cref="FileStream"/> over file descriptor 1 writes the same bytes.
    /// </summary>
    private static Stream OpenStandardOutput() => OperatingSystem.IsWindows() ? Console.OpenStandardOutput() : new UnixStandardOutput();

    /// <summary>File descriptor 1 written with write(2), as the console stream does after its initialisation. (A
    /// <see cref="FileStream"/> over descriptor 1 would not do: it writes at its own offset with pwrite(2), so the shared
    /// offset of a redirected file does not advance and whatever the shell writes next overwrites the output.)</summary>
    private sealed partial class UnixStandardOutput : Stream
    {
        [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
        private static partial nint Write(int fd, ref byte buffer, nint count);

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            while (!buffer.IsEmpty)
            {
                nint n = Write(1, ref MemoryMarshal.GetReference(buffer), buffer.Length);
                if (n < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == 4) continue; // EINTR
                    throw new IOException($"cannot write to standard output (errno {errno}).");
                }
                buffer = buffer[(int)n..];
            }
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
        public override void Flush() { }
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }

    /// <summary><see cref="Console.Error"/>, created on the first write.</summary>
    private sealed class LazyStandardError : TextWriter
    {
        public override Encoding Encoding => Console.Error.Encoding;
        public override void Write(char value) => Console.Error.Write(value);
        public override void Write(string? value) => Console.Error.Write(value);
        public override void WriteLine(string? value) => Console.Error.WriteLine(value);
    }

    /// <summary>Runs the program with <paramref name="args"/>, writing predictions to <paramref name="stdout"/> and errors to
    /// <paramref name="stderr"/>; returns the exit code (0, or 2 for bad arguments or files).</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        try
        {
            if (args.Length == 1 && args[0] is "-h" or "--help")
            {
                stdout.WriteLine(Usage);
                return 0;
            }
            if (args.Length is < 1 or > 3) throw new UsageException(Usage);

            // An IDX file is opened at its header; only the selected images are read (decompressed) below.
            using var source = OpenImages(args[0]);
            int n = source.Count;
            int start = args.Length > 1 ? ParseCount(args[1], "START") : 0;
            if (start >= n) throw new UsageException($"START {start} is out of range: '{args[0]}' holds {n} image(s) (indices 0..{n - 1}).");
            int count = args.Length > 2 ? ParseCount(args[2], "COUNT") : n - start;
            if (count < 1) throw new UsageException("COUNT must be at least 1.");
            if ((long)start + count > n) throw new UsageException($"START {start} + COUNT {count} exceeds the {n} image(s) in '{args[0]}'.");

            var model = LoadModel();
            model.Eval();
            using var noGrad = Autograd.NoGrad();
            const int batch = 256;
            var line = new StringBuilder();
            for (int i = start; i < start + count; i += batch)
            {
                int len = Math.Min(batch, start + count - i);
                // Only the requested images are read and converted (a whole 10,000-image file would cost more than the inference).
                var x = (source.Read(i, len).To(DType.Float32) / source.Scale).Unsqueeze(1);
                var predicted = model.Forward(x).ArgMax(1).ToLongArray();
                for (int k = 0; k < predicted.Length; k++)
                {
                    line.Clear().Append(i + k).Append(' ').Append(predicted[k]);
                    stdout.WriteLine(line);
                }
                stdout.Flush();
            }
            return 0;
        }
        catch (Exception e) when (e is UsageException or ArgumentException or InvalidDataException or IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine("AotInference: " + e.Message.ReplaceLineEndings(" "));
            return 2;
        }
    }

    private sealed class UsageException(string message) : Exception(message);

    private static int ParseCount(string text, string name) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var v)
            ? v : throw new UsageException($"{name} must be a non-negative integer, but got '{text}'.");

    private static MnistCnn LoadModel()
    {
        var path = Path.Combine(AppContext.BaseDirectory, WeightsFile);
        if (!File.Exists(path)) throw new UsageException($"the weights file '{path}' is missing (it ships next to the executable).");
        // Built without the random initialisation that the weights would overwrite (PyTorch: torch.nn.utils.skip_init).
        var model = Module.SkipInit(static () => new MnistCnn());
        model.LoadStateDict(SafeTensors.Read(path));
        return model;
    }

    /// <summary>The images of IMAGES: a PGM file (one image, read whole) or an IDX file (read by range with
    /// <see cref="IdxReader"/>), as [N, 28, 28] pixels, and the divisor that scales them to [0, 1] (255 for IDX bytes,
    /// as <c>Mnist.Load</c> does for training; 1 for PGM, already scaled).</summary>
    private sealed class ImageSource(IdxReader? idx, Tensor? pgm, float scale) : IDisposable
    {
        public float Scale => scale;
        public int Count => idx?.Count ?? pgm!.Size(0);
        public Tensor Read(int start, int count) => idx?.ReadItems(start, count) ?? pgm!.Narrow(0, start, count);
        public void Dispose() => idx?.Dispose();
    }

    /// <summary>Opens IMAGES: a PGM file (by its P5/P2 magic) or an IDX file, whose header must say [N, 28, 28] unsigned bytes.</summary>
    private static ImageSource OpenImages(string path)
    {
        if (Directory.Exists(path)) throw new UsageException($"'{path}' is a directory, not an image file.");
        if (!File.Exists(path)) throw new UsageException($"image file '{path}' not found.");
        byte[] head = new byte[2];
        using (var f = File.OpenRead(path)) head = head[..f.Read(head)];
        if (head.Length == 2 && head[0] == (byte)'P' && head[1] is (byte)'5' or (byte)'2') return new ImageSource(null, Pgm.Read(path), 1f);

        var reader = IdxReader.Open(path);
        var shape = reader.Shape;
        if (reader.DType != DType.UInt8 || shape.Length != 3 || shape[1] != 28 || shape[2] != 28)
        {
            reader.Dispose();
            throw new UsageException($"'{path}': expected an IDX image file of unsigned bytes of shape [N, 28, 28], " +
                                     $"but it holds {reader.DType} of shape [{string.Join(", ", shape)}].");
        }
        return new ImageSource(reader, null, 255f);
    }
}
