using Spectre.Console;

namespace SharpGrad.Samples.Shared;

/// <summary>The running figures of a training epoch after a batch, as a progress bar shows them.</summary>
public interface IBatchProgress
{
    /// <summary>The epoch, from 1.</summary>
    int Epoch { get; }

    /// <summary>The work of the epoch done so far (images, sequences, …), out of <see cref="Total"/>.</summary>
    long Seen { get; }

    /// <summary>The work of the whole epoch.</summary>
    long Total { get; }

    /// <summary>The bar's description, e.g. <c>epoch 1/5  loss 0.4321  accuracy 86.12%  2650 images/s</c>.</summary>
    string Describe();
}

/// <summary>The training run's progress. On a terminal: Spectre.Console's live progress display, one bar per epoch whose
/// description shows the running figures (<see cref="IBatchProgress.Describe"/>), replaced by the epoch's summary when the
/// epoch ends. When the output is redirected (a CI log, a test): nothing per batch, one summary line per epoch.</summary>
public static class TrainingProgress
{
    /// <summary>
    /// Runs <paramref name="train"/> under <see cref="Show"/> on this process's console: a bar per epoch on a terminal,
    /// summary lines when the output is redirected. Bad input, unreadable data or an unwritable folder
    /// (<see cref="ArgumentException"/>, <see cref="IOException"/>, <see cref="InvalidDataException"/>,
    /// <see cref="UnauthorizedAccessException"/>) is one line on stderr, <c>SAMPLE: message</c>, and null.
    /// </summary>
    public static T? OnConsole<T>(string sample, Func<Action<string>, Action<IBatchProgress>, T> train) where T : class
    {
        try
        {
            return Show(AnsiConsole.Console, interactive: !Console.IsOutputRedirected, Console.Out, train);
        }
        catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"{sample}: {e.Message}");
            return null;
        }
    }

    /// <summary>Runs <paramref name="train"/> — called with the per-epoch summary callback and the per-batch progress
    /// callback — under a progress display on <paramref name="console"/> when <paramref name="interactive"/>, or writing one
    /// summary line per epoch to <paramref name="log"/> otherwise.</summary>
    /// <remarks>A sample's training loop takes an <c>Action&lt;TItsProgress&gt;</c>; the <c>Action&lt;IBatchProgress&gt;</c> given here
    /// converts to it (delegates are contravariant in their parameters).</remarks>
    public static T Show<T>(IAnsiConsole console, bool interactive, TextWriter log, Func<Action<string>, Action<IBatchProgress>, T> train)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(log);
        ArgumentNullException.ThrowIfNull(train);
        if (!interactive) return train(log.WriteLine, _ => { });
        return console.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                ProgressTask? task = null;
                int epoch = 0;
                void Finish(string summary)
                {
                    if (task is null)
                    {
                        console.WriteLine(summary); // a summary before any batch (nothing to replace)
                        return;
                    }
                    task.Description = Markup.Escape(summary);
                    task.Value = task.MaxValue;
                    task.StopTask();
                    task = null;
                }
                void Update(IBatchProgress p)
                {
                    if (task is null || p.Epoch != epoch)
                    {
                        epoch = p.Epoch;
                        task = ctx.AddTask(Markup.Escape(p.Describe()), maxValue: p.Total);
                    }
                    task.Value = p.Seen;
                    task.Description = Markup.Escape(p.Describe());
                }
                return train(Finish, Update);
            });
    }
}
