using System.Globalization;

namespace SharpGrad.Samples.Shared;

/// <summary>
/// Reads a sample's options in order (<c>--name value</c>): <see cref="Next"/> moves to the next option, and the value
/// readers take the value after it and check it. A missing or bad value is an <see cref="ArgumentException"/> whose
/// message names the option and what it expects.
/// </summary>
public sealed class CommandLine(string[] args)
{
    private int _at = -1;

    /// <summary>
    /// Reads every option of <paramref name="args"/> with <paramref name="read"/>, which handles <see cref="Option"/> (and
    /// its value) and returns true to go on, or false to stop (after printing the help). A bad option is one line on
    /// stderr, <c>SAMPLE: message</c>. Returns the exit code to stop with — 0 after the help, 2 after an error — or null
    /// when every option was read.
    /// </summary>
    public static int? Read(string sample, string[] args, Func<CommandLine, bool> read)
    {
        ArgumentNullException.ThrowIfNull(read);
        var line = new CommandLine(args);
        try
        {
            while (line.Next())
            {
                if (!read(line)) return 0;
            }
            return null;
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"{sample}: {e.Message}");
            return 2;
        }
    }

    /// <summary>Moves to the next option; false when there is none left.</summary>
    public bool Next() => ++_at < args.Length;

    /// <summary>The option at hand, e.g. <c>--epochs</c>.</summary>
    public string Option => args[_at];

    /// <summary>The value after the option.</summary>
    public string Value() => _at + 1 < args.Length ? args[++_at] : throw new ArgumentException($"{Option} needs a value (--help lists the options).");

    /// <summary>The value as an integer of at least <paramref name="min"/>.</summary>
    public int Int(int min = 1)
    {
        var (name, text) = (Option, Value());
        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= min
            ? v : throw new ArgumentException($"{name} expects {(min == 1 ? "a positive integer" : $"an integer of at least {min}")}, but got '{text}'.");
    }

    /// <summary>The value as a 64-bit integer (a seed).</summary>
    public long Long()
    {
        var (name, text) = (Option, Value());
        return long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : throw new ArgumentException($"{name} expects an integer, but got '{text}'.");
    }

    /// <summary>The value as a finite positive number.</summary>
    public double Positive()
    {
        var (name, text) = (Option, Value());
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v > 0 && double.IsFinite(v)
            ? v : throw new ArgumentException($"{name} expects a positive number, but got '{text}'.");
    }

    /// <summary>The value as one of <paramref name="choices"/>, by its text.</summary>
    public T Choice<T>(params (string Text, T Value)[] choices)
    {
        ArgumentNullException.ThrowIfNull(choices);
        var (name, text) = (Option, Value());
        foreach (var (t, v) in choices)
        {
            if (t == text) return v;
        }
        throw new ArgumentException($"{name} expects {string.Join(" or ", choices.Select(c => $"'{c.Text}'"))}, but got '{text}'.");
    }

    /// <summary>The error for an option the sample doesn't know.</summary>
    public ArgumentException Unknown() => new($"unknown option '{Option}' (--help lists the options).");
}
