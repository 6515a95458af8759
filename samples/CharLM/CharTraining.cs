using System.Diagnostics;
using System.Globalization;
using System.Text;
using SharpGrad.Optimizers;
using SharpGrad.Samples.Shared;

namespace SharpGrad.Samples.CharLM;

/// <summary>Which network reads the characters.</summary>
public enum CharModelKind
{
    /// <summary>Embedding → LSTM → Linear (<see cref="CharLstm"/>).</summary>
    Lstm,
    /// <summary>A small GPT: causal pre-norm Transformer layers (<see cref="CharTransformer"/>).</summary>
    Transformer,
}

/// <summary>How the model's forward runs.</summary>
public enum CharMode
{
    /// <summary>The C# <c>Forward</c> as written, op by op on the autograd tape.</summary>
    Eager,
    /// <summary>The generator's compiled forward and backward (<c>Compile()</c>); what it does not take runs eagerly, as its explanation says.</summary>
    Compiled,
}

/// <summary>The sample's settings (command-line options).</summary>
public sealed class CharOptions
{
    public CharModelKind Model { get; set; } = CharModelKind.Lstm;
    public CharMode Mode { get; set; } = CharMode.Eager;
    public int Epochs { get; set; } = 2;
    /// <summary>Optimizer steps per epoch; 0 = one pass over the training text in expectation (training characters / (batch · sequence length)).</summary>
    public int StepsPerEpoch { get; set; }
    public int BatchSize { get; set; } = 32;
    /// <summary>Characters per training sequence (and the Transformer's context).</summary>
    public int SequenceLength { get; set; } = 64;
    /// <summary>The LSTM's hidden size, or the Transformer's model size.</summary>
    public int Hidden { get; set; } = 256;
    public int Layers { get; set; } = 1;
    public double LearningRate { get; set; } = 4e-3;
    /// <summary>Characters of the text used, from its start (0 = all); the last tenth of them is held out for validation.</summary>
    public int TextLength { get; set; }
    public string TextPath { get; set; } = Path.Combine(AppContext.BaseDirectory, "Data", "pride-and-prejudice.txt");
    public string OutDir { get; set; } = "out";
    /// <summary>Characters generated at the end.</summary>
    public int GenerateLength { get; set; } = 400;
    public double Temperature { get; set; } = 0.7;
    public string Prompt { get; set; } = "Elizabeth";
    public long Seed { get; set; }
}

/// <summary>The running figures of the epoch in progress, after each step.</summary>
public sealed record StepProgress(int Epoch, int Epochs, long Seen, long Total, float Loss, double CharsPerSecond) : IBatchProgress
{
    /// <inheritdoc/>
    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"epoch {Epoch}/{Epochs}  step {Seen}/{Total}  loss {Loss:F4}  {CharsPerSecond:F0} chars/s");
}

/// <summary>One epoch's figures: mean training loss, validation loss (nats per character), speed.</summary>
public sealed record CharEpochStats(int Epoch, int Steps, float Loss, float ValidationLoss, double CharsPerSecond, double Seconds);

/// <summary>What a training run produced (<c>StepLosses</c>: the training loss of every step, in order).</summary>
public sealed record CharResult(ICharModel Model, Vocabulary Vocabulary, IReadOnlyList<CharEpochStats> Epochs, IReadOnlyList<float> StepLosses,
    float InitialValidationLoss, string Generated, string WeightsPath, string PlotPath);

/// <summary>The characters of a text as token ids 0 … V−1, in code-point order.</summary>
public sealed class Vocabulary
{
    private readonly Dictionary<char, int> ids;

    public Vocabulary(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        Chars = text.Distinct().Order().ToArray();
        ids = Chars.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => p.i);
    }

    /// <summary>The characters, by id.</summary>
    public IReadOnlyList<char> Chars { get; }

    public int Count => Chars.Count;

    /// <summary>The ids of <paramref name="text"/>'s characters.</summary>
    /// <exception cref="ArgumentException">A character is not in the vocabulary (the message lists them).</exception>
    public long[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var missing = text.Where(c => !ids.ContainsKey(c)).Distinct().ToList();
        if (missing.Count > 0)
        {
            throw new ArgumentException($"the characters {string.Join(" ", missing.Select(c => $"'{Printable(c)}'"))} do not occur in the training text, " +
                $"so the model can't read them; use only characters of the text ({Count} distinct).");
        }
        return text.Select(c => (long)ids[c]).ToArray();
    }

    public char this[long id] => Chars[(int)id];

    private static string Printable(char c) => char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString();
}

/// <summary>The training loop, kept out of Program.cs so that the tests run the very same code.</summary>
public static class CharTraining
{
    /// <summary>The most distinct characters a text may have (a vocabulary beyond that is not a character-level model's job).</summary>
    public const int MaxVocabulary = 1024;

    /// <summary>Reads the text (UTF-8), checks it, and keeps the first <paramref name="length"/> characters (all when 0).</summary>
    public static string LoadText(string path, int length = 0)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"the text file '{path}' does not exist (--text names another).", path);
        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(File.ReadAllBytes(path));
        }
        catch (DecoderFallbackException e)
        {
            throw new InvalidDataException($"the text file '{path}' is not valid UTF-8 ({e.Message}).", e);
        }
        text = text.Replace("\r\n", "\n");
        if (length > 0 && length < text.Length) text = text[..length];
        return text;
    }

    /// <summary>Trains, validates, saves, plots and generates. <paramref name="log"/> gets one summary line per epoch and one
    /// line of sample text; <paramref name="progress"/> (optional) the running figures after every step.</summary>
    public static CharResult Run(CharOptions o, Action<string>? log = null, Action<StepProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(o);
        if (!(o.Temperature > 0 && double.IsFinite(o.Temperature))) throw new ArgumentException($"--temperature must be a positive number, but got {o.Temperature}.");
        if (o.Model == CharModelKind.Transformer && o.Hidden % 4 != 0)
            throw new ArgumentException($"--hidden must be a multiple of 4 for the Transformer (4 heads), but got {o.Hidden}.");
        OutputFolder.EnsureWritable(o.OutDir);

        var text = LoadText(o.TextPath, o.TextLength);
        var vocab = new Vocabulary(text);
        if (vocab.Count > MaxVocabulary)
            throw new InvalidDataException($"the text has {vocab.Count} distinct characters; a character-level model here takes at most {MaxVocabulary}.");
        var ids = vocab.Encode(text);
        int split = ids.Length - ids.Length / 10, t = o.SequenceLength;
        if (ids.Length / 10 < t + 1)
        {
            throw new ArgumentException($"the text is too short: {ids.Length} characters, but its last tenth (held out for validation) must hold at least one " +
                $"sequence of {t} + 1 characters, so at least {10 * (t + 1)} characters are needed.");
        }
        var prompt = vocab.Encode(o.Prompt.Length == 0 ? text[..1] : o.Prompt);
        int steps = o.StepsPerEpoch > 0 ? o.StepsPerEpoch : Math.Max(1, (int)Math.Ceiling((double)split / (o.BatchSize * t)));

        // One generator for everything random (weights, batches, sampling): the same --seed gives the same run.
        var rng = new Rng(o.Seed);
        ICharModel model = o.Model == CharModelKind.Lstm
            ? new CharLstm(vocab.Count, embedding: 64, hidden: o.Hidden, layers: o.Layers, rng)
            : new CharTransformer(vocab.Count, dModel: o.Hidden, heads: 4, layers: o.Layers, context: t, rng);
        var module = (Module)model;
        // Training steps run the compiled program in compiled mode (validation and generation stay eager: the same weights).
        Func<Tensor, Tensor> forward = model.Forward;
        if (o.Mode == CharMode.Compiled)
        {
            var (compiled, explanation) = model.CompileForward();
            forward = compiled;
            log?.Invoke(explanation.IsFullyCompiled ? "compiled: no graph break" : "compiled: " + OneLine(explanation.ToString()));
        }
        var optimizer = new Adam(module.Parameters(), lr: o.LearningRate);
        // The learning rate falls along a half cosine to 0 over the run (PyTorch: CosineAnnealingLR(opt, T_max=total steps)).
        var schedule = new CosineAnnealingLR(optimizer, tMax: o.Epochs * steps);
        var (validX, validY) = ValidationBatch(ids, split, t);
        float initialValidation = ValidationLoss(model, validX, validY);

        var epochs = new List<CharEpochStats>();
        var stepLosses = new List<float>();
        for (int epoch = 1; epoch <= o.Epochs; epoch++)
        {
            module.Train();
            var sw = Stopwatch.StartNew();
            double lossSum = 0;
            for (int step = 1; step <= steps; step++)
            {
                var (x, y) = RandomBatch(ids, split, o.BatchSize, t, rng);
                optimizer.ZeroGrad();
                var loss = Loss(forward(x), y);
                loss.Backward();
                Utils.ClipGradNorm(module.Parameters(), 1.0);
                optimizer.Step();
                schedule.Step();
                float l = loss.Item();
                stepLosses.Add(l);
                lossSum += l;
                progress?.Invoke(new StepProgress(epoch, o.Epochs, step, steps, (float)(lossSum / step), (double)step * o.BatchSize * t / sw.Elapsed.TotalSeconds));
            }
            double secs = sw.Elapsed.TotalSeconds;
            var stats = new CharEpochStats(epoch, steps, (float)(lossSum / steps), ValidationLoss(model, validX, validY), (double)steps * o.BatchSize * t / secs, secs);
            epochs.Add(stats);
            log?.Invoke(string.Create(CultureInfo.InvariantCulture,
                $"epoch {epoch}/{o.Epochs}  loss {stats.Loss:F4}  validation loss {stats.ValidationLoss:F4} ({stats.ValidationLoss / Math.Log(2):F2} bits/char)  {stats.CharsPerSecond:F0} chars/s  ({secs:F1} s)"));
            log?.Invoke("  sample: " + OneLine(Generate(model, vocab, prompt, 60, o.Temperature, new Rng(o.Seed))));
        }

        Directory.CreateDirectory(o.OutDir);
        var weights = Path.Combine(o.OutDir, "charlm.safetensors");
        module.Save(weights);
        var plot = Path.Combine(o.OutDir, "loss.png");
        SaveLossPlot(stepLosses, epochs, initialValidation,
            $"Character-level {(o.Model == CharModelKind.Lstm ? "LSTM" : "Transformer")} on {Path.GetFileName(o.TextPath)}", plot);
        var generated = Generate(model, vocab, prompt, o.GenerateLength, o.Temperature, rng);
        return new CharResult(model, vocab, epochs, stepLosses, initialValidation, generated, weights, plot);
    }

    /// <summary>Mean cross-entropy (nats per character) of logits [N, T, V] against the next characters [N, T].</summary>
    public static Tensor Loss(Tensor logits, Tensor targets)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(targets);
        return Losses.CrossEntropy(logits.Reshape(-1, logits.Size(-1)), targets.Reshape(-1));
    }

    /// <summary><paramref name="n"/> sequences of <paramref name="t"/> characters starting at random places of the training
    /// part (the first <paramref name="end"/> ids), and the same sequences shifted by one (the characters to predict).</summary>
    public static (Tensor X, Tensor Y) RandomBatch(long[] ids, int end, int n, int t, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(ids);
        ArgumentNullException.ThrowIfNull(rng);
        var starts = new int[n];
        for (int i = 0; i < n; i++) starts[i] = rng.NextInt(end - t);
        return Windows(ids, starts, t);
    }

    /// <summary>The validation sequences: evenly spaced windows of the held-out last part (from <paramref name="start"/>), at most 64.</summary>
    public static (Tensor X, Tensor Y) ValidationBatch(long[] ids, int start, int t)
    {
        ArgumentNullException.ThrowIfNull(ids);
        int room = ids.Length - start - t - 1, n = Math.Min(64, room / t + 1);
        return Windows(ids, Enumerable.Range(0, n).Select(i => start + (n == 1 ? 0 : (int)((long)room * i / (n - 1)))).ToArray(), t);
    }

    private static (Tensor X, Tensor Y) Windows(long[] ids, int[] starts, int t)
    {
        var x = new long[starts.Length * t];
        var y = new long[starts.Length * t];
        for (int i = 0; i < starts.Length; i++)
        {
            Array.Copy(ids, starts[i], x, i * t, t);
            Array.Copy(ids, starts[i] + 1, y, i * t, t);
        }
        return (Tensor.FromArray(x, starts.Length, t), Tensor.FromArray(y, starts.Length, t));
    }

    /// <summary>The model's loss on the validation sequences, in eval mode without gradients.</summary>
    public static float ValidationLoss(ICharModel model, Tensor x, Tensor y)
    {
        ArgumentNullException.ThrowIfNull(model);
        var module = (Module)model;
        bool training = module.Training;
        module.Eval();
        try
        {
            using var ng = Autograd.NoGrad();
            return Loss(model.Forward(x), y).Item();
        }
        finally
        {
            module.Train(training);
        }
    }

    /// <summary>
    /// Generates <paramref name="length"/> characters after <paramref name="prompt"/> (which is returned with them): each next
    /// character drawn from softmax(logits / <paramref name="temperature"/>) — below 1 the likely characters gain, above 1
    /// the unlikely ones (PyTorch: <c>torch.multinomial(F.softmax(logits / temperature, -1), 1)</c>).
    /// </summary>
    public static string Generate(ICharModel model, Vocabulary vocab, IReadOnlyList<long> prompt, int length, double temperature, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(vocab);
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(rng);
        if (prompt.Count == 0) throw new ArgumentException("Generate: the prompt must hold at least one character.");
        var module = (Module)model;
        bool training = module.Training;
        module.Eval();
        try
        {
            using var ng = Autograd.NoGrad();
            var session = model.StartSession();
            var sb = new StringBuilder();
            float[] logits = [];
            foreach (var id in prompt)
            {
                logits = session.Feed(id);
                sb.Append(vocab[id]);
            }
            for (int i = 0; i < length; i++)
            {
                long next = Sample(logits, temperature, rng);
                sb.Append(vocab[next]);
                if (i + 1 < length) logits = session.Feed(next);
            }
            return sb.ToString();
        }
        finally
        {
            module.Train(training);
        }
    }

    /// <summary>Draws an index from softmax(<paramref name="logits"/> / <paramref name="temperature"/>).</summary>
    public static int Sample(float[] logits, double temperature, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(rng);
        double max = logits.Max();
        var p = logits.Select(l => Math.Exp((l - max) / temperature)).ToArray();
        double u = rng.NextDouble() * p.Sum();
        for (int i = 0; i < p.Length; i++)
        {
            u -= p[i];
            if (u < 0) return i;
        }
        return p.Length - 1;
    }

    /// <summary>The training loss of every step (and its running mean over 20 steps) and the validation loss after each epoch
    /// (and before training), against the step, drawn with ScottPlot (640×480 PNG).</summary>
    public static void SaveLossPlot(IReadOnlyList<float> stepLosses, IReadOnlyList<CharEpochStats> epochs, float initialValidation, string title, string path)
    {
        ArgumentNullException.ThrowIfNull(stepLosses);
        ArgumentNullException.ThrowIfNull(epochs);
        var steps = Enumerable.Range(1, stepLosses.Count).Select(s => (double)s).ToArray();
        var smooth = new double[stepLosses.Count];
        double window = 0;
        for (int i = 0; i < stepLosses.Count; i++)
        {
            window += stepLosses[i] - (i >= 20 ? stepLosses[i - 20] : 0);
            smooth[i] = window / Math.Min(i + 1, 20);
        }
        var validSteps = new List<double> { 0 };
        var validLoss = new List<double> { initialValidation };
        int done = 0;
        foreach (var e in epochs)
        {
            done += e.Steps;
            validSteps.Add(done);
            validLoss.Add(e.ValidationLoss);
        }
        LossPlot.Save(path, title, "step", "loss (nats per character)",
        [
            new("training (mean of 20 steps)", steps, smooth),
            new("validation", validSteps, validLoss),
        ]);
    }

    private static string OneLine(string s) => s.Replace('\n', ' ');
}
