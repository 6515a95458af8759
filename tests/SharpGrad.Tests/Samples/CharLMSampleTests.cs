using SharpGrad.Samples.CharLM;
using SharpGrad.Serialization;
using SharpGrad.Tests.Compiler;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Samples;

/// <summary>samples/CharLM: short training runs of both models (the loss falls, the outputs are written and reload),
/// the text it ships, and the program end to end.</summary>
public class CharLMSampleTests
{
    private static string TextPath => Path.Combine(AppContext.BaseDirectory, "Data", "pride-and-prejudice.txt");

    /// <summary>A few dozen small steps on the first 20,000 characters: enough for the loss to fall well below ln(vocabulary).</summary>
    private static CharOptions Short(CharModelKind model, string outDir) => new()
    {
        Model = model, Epochs = 2, StepsPerEpoch = 25, BatchSize = 8, SequenceLength = 24, Hidden = model == CharModelKind.Lstm ? 48 : 32,
        Layers = 1, LearningRate = 1e-2, TextLength = 20_000, GenerateLength = 40, OutDir = outDir, Seed = 1,
    };

    [Theory]
    [InlineData(CharModelKind.Lstm)]
    [InlineData(CharModelKind.Transformer)]
    public void AShortRunLowersTheLossWritesReloadableWeightsAndGeneratesText(CharModelKind kind)
    {
        using var dir = new TempFolder("charlm-run");
        var lines = new List<string>();
        var steps = new List<StepProgress>();
        var o = Short(kind, dir);
        var r = CharTraining.Run(o, lines.Add, steps.Add);

        // The training loss falls: the mean of the last 10 steps well below the first 10, which start near ln(V)
        // (a fresh model guesses every character about equally).
        double first = r.StepLosses.Take(10).Average(), last = r.StepLosses.TakeLast(10).Average();
        Assert.Equal(50, r.StepLosses.Count);
        Assert.InRange(first, 0.8 * Math.Log(r.Vocabulary.Count), 1.2 * Math.Log(r.Vocabulary.Count));
        Assert.True(last < first - 0.5, $"{kind}: the training loss should fall by more than 0.5 nats: first 10 steps {first:F3}, last 10 {last:F3}");
        Assert.True(r.Epochs[^1].ValidationLoss < r.InitialValidationLoss - 0.5,
            $"{kind}: the validation loss should fall: {r.InitialValidationLoss:F3} → {r.Epochs[^1].ValidationLoss:F3}");

        // Progress after every step; one summary line and one sample line per epoch.
        Assert.Equal(50, steps.Count);
        Assert.Equal((2, 25L, 25L), (steps[^1].Epoch, steps[^1].Seen, steps[^1].Total));
        Assert.Equal(4, lines.Count);
        Assert.StartsWith("epoch 1/2  loss ", lines[0]);
        Assert.Contains("validation loss", lines[0]);
        Assert.StartsWith("  sample: Elizabeth", lines[1]);

        // The generated text: the prompt, then 40 characters of the text's alphabet.
        Assert.StartsWith("Elizabeth", r.Generated);
        Assert.Equal("Elizabeth".Length + 40, r.Generated.Length);
        Assert.All(r.Generated, c => Assert.Contains(c, r.Vocabulary.Chars));

        // The plot and the weights: reloaded into a fresh model of the same shape, the same logits.
        PngCheck.AssertPlot(r.PlotPath);
        ICharModel fresh = kind == CharModelKind.Lstm
            ? new CharLstm(r.Vocabulary.Count, 64, o.Hidden, o.Layers, new Rng(99))
            : new CharTransformer(r.Vocabulary.Count, o.Hidden, 4, o.Layers, o.SequenceLength, new Rng(99));
        ((Module)fresh).LoadStateDict(SafeTensors.Read(r.WeightsPath));
        var x = Tensor.FromArray(r.Vocabulary.Encode("Mr. Darcy"), 1, 9);
        using (Autograd.NoGrad())
        {
            ((Module)r.Model).Eval();
            ((Module)fresh).Eval();
            TensorAssert.Close(r.Model.Forward(x), fresh.Forward(x), 0, 0, "logits of the reloaded model");
        }
    }

    [Fact]
    public void TheSameSeedGivesTheSameRun()
    {
        using TempFolder a = new("charlm-seed-a"), b = new("charlm-seed-b");
        CharResult Run(string dir) => CharTraining.Run(WithSteps(Short(CharModelKind.Lstm, dir), 5));
        var r1 = Run(a);
        var r2 = Run(b);
        Assert.Equal(r1.StepLosses, r2.StepLosses);
        Assert.Equal(r1.Generated, r2.Generated);
    }

    private static CharOptions WithSteps(CharOptions o, int steps)
    {
        o.Epochs = 1;
        o.StepsPerEpoch = steps;
        return o;
    }

    [Fact]
    public void TheShippedTextIsTheNovel()
    {
        // Data/README.md gives its provenance: 684,768 bytes of ASCII with \n line ends, the novel from its title to its end.
        var bytes = File.ReadAllBytes(TextPath);
        Assert.Equal(684_768, bytes.Length);
        Assert.All(bytes, b => Assert.True(b is (>= 0x20 and < 0x7F) or (byte)'\n', $"byte 0x{b:x2} is not printable ASCII or \\n"));
        var text = CharTraining.LoadText(TextPath);
        Assert.StartsWith("PRIDE AND PREJUDICE", text);
        Assert.Contains("It is a truth universally acknowledged", text);
    }

    [Fact]
    public void BadInputIsRefusedWithAReason()
    {
        using var dir = new TempFolder("charlm-bad");
        var o = Short(CharModelKind.Lstm, dir);
        o.TextLength = 200;
        var e = Assert.Throws<ArgumentException>(() => CharTraining.Run(o));
        Assert.Contains("too short", e.Message);
        o = Short(CharModelKind.Lstm, dir);
        o.Prompt = "Élisabeth";
        e = Assert.Throws<ArgumentException>(() => CharTraining.Run(o));
        Assert.Contains("'É'", e.Message);
        var invalid = Path.Combine(dir, "bad.txt");
        Directory.CreateDirectory(dir);
        File.WriteAllBytes(invalid, [0x41, 0xFF, 0x42]);
        o = Short(CharModelKind.Lstm, dir);
        o.TextPath = invalid;
        Assert.Contains("not valid UTF-8", Assert.Throws<InvalidDataException>(() => CharTraining.Run(o)).Message);
    }

    /// <summary>Runs the built sample program with <paramref name="args"/>; returns its exit code, stdout and stderr.</summary>
    private static (int ExitCode, string Out, string Err) RunProgram(params string[] args) => SampleProgram.Run("CharLM.dll", args);

    [Fact]
    public void TheProgramRunsEndToEndWithRedirectedOutput()
    {
        using var dir = new TempFolder("charlm-program");
        var lines = SampleProgram.Lines("CharLM.dll", "--epochs", "2", "--steps", "15", "--batch-size", "8", "--seq-len", "24", "--hidden", "48",
            "--text-length", "20000", "--generate", "30", "--prompt", "Mr. Darcy", "--out", dir);
        Assert.True(lines.Length >= 8, string.Join("\n", lines)); // the generated text may hold line breaks
        // The header, per epoch a summary and a sample line, the result, then the generated text after its heading.
        (int Line, string Start)[] expected =
            [(0, "CharLM: LSTM (width 48, 1 layer), eager mode, 2 epochs"), (1, "epoch 1/2  loss "), (2, "sample: Mr. Darcy"),
             (3, "epoch 2/2  loss "), (5, "validation loss "), (6, "generated (temperature 0.7, seed 0)"), (7, "Mr. Darcy")];
        foreach (var (line, start) in expected) Assert.StartsWith(start, lines[line]);
        foreach (var file in new[] { "charlm.safetensors", "loss.png" }) Assert.True(File.Exists(Path.Combine(dir, file)), $"{file} written");
    }

    [Theory]
    [InlineData("lstm")]
    [InlineData("transformer")]
    public void CompiledModeTrainsThroughTheCompiledProgram(string model)
    {
        // Both models have Compile() (no [Module(Compile = false)]): compiled mode trains through it and names what runs eagerly.
        using var dir = new TempFolder("charlm-compiled");
        var lines = SampleProgram.Lines("CharLM.dll", "--model", model, "--mode", "compiled", "--epochs", "1", "--steps", "3", "--batch-size", "4",
            "--seq-len", "16", "--hidden", "32", "--text-length", "5000", "--generate", "10", "--out", dir);
        Assert.Contains("compiled mode", lines[0], StringComparison.Ordinal);
        Assert.StartsWith("compiled: ", lines[1], StringComparison.Ordinal);
        Assert.Contains(lines, l => l.StartsWith("epoch 1/1  loss ", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("lstm", 1)]
    [InlineData("lstm", 3)]
    [InlineData("lstm", 64)]
    [InlineData("transformer", 1)]
    [InlineData("transformer", 3)]
    [InlineData("transformer", 64)]
    public void BothModelsCompiledProgramsEqualEager(string kind, int batch)
    {
        // The models as the sample builds them (sizes and the layer count from the constructor): the compiled program's
        // logits and every parameter's gradient equal eager's at two sequence lengths.
        ICharModel model = kind == "lstm" ? new CharLstm(20, 12, 16, 2, new Rng(7)) : new CharTransformer(20, 16, 4, 2, 12, new Rng(7));
        var (compiled, explanation) = model.CompileForward();
        Assert.DoesNotContain(explanation.Breaks, b => b.Construct.Contains("Forward(tokens, null)", StringComparison.Ordinal));
        // Both compile whole. The Transformer's guards run as written, the causal mask and both embeddings are a compiled
        // region (the length read again), the stack runs its own compiled program, and the final LayerNorm and head are a
        // region of the stack's output; the LSTM's constructor-sized num_layers is a size bound in Compile(), its parameters
        // one group read when the module is built (session 11).
        Assert.True(explanation.IsFullyCompiled, explanation.ToString());
        if (kind == "transformer")
        {
            Assert.Contains(explanation.Regions, r => r.EndsWith(": blocks: Forward", StringComparison.Ordinal));
            Assert.Equal(3, explanation.Regions.Count);
        }
        foreach (int t in new[] { 7, 12 })
        {
            var tokens = Tensor.RandInt(0, 20, [batch, t], new Rng(8 + t));
            CompiledLengthReadTests.CompareTokens((Module)model, model.Forward, compiled, tokens, seed: 9 + t);
        }
    }

    [Fact]
    public void TheProgramListsItsOptionsAndRefusesWhatItCannotDo()
    {
        var (code, stdout, _) = RunProgram("--help");
        Assert.Equal(0, code);
        foreach (var option in new[] { "--epochs", "--model", "lstm", "transformer", "--mode", "--seed", "--temperature", "--generate", "--prompt", "--out" })
            Assert.Contains(option, stdout);

        (code, _, var stderr) = RunProgram("--model", "gpt5");
        Assert.Equal(2, code);
        Assert.Contains("--model expects 'lstm' or 'transformer', but got 'gpt5'", stderr);
        (code, _, stderr) = RunProgram("--temperature", "0");
        Assert.Equal(2, code);
        Assert.Contains("--temperature expects a positive number", stderr);
    }
}
