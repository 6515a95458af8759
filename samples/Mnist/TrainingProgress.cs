using System.Globalization;
using Spectre.Console;

namespace SharpGrad.Samples.Mnist;

/// <summary>The training run's progress. On a terminal: Spectre.Console's live progress display, one bar per epoch whose
/// description shows the running loss, accuracy and speed, replaced by the epoch's summary when the epoch ends. When the
/// output is redirected (a CI log, a test): nothing per batch, one summary line per epoch.</summary>
public static class TrainingProgress
{
    /// <summary>Runs <paramref name="train"/> — called with the per-epoch summary callback and the per-batch progress
    /// callback (as <see cref="MnistTraining.Run"/> takes them) — under a progress display on <paramref name="console"/>
    /// when <paramref name="interactive"/>, or writing one summary line per epoch to <paramref name="log"/> otherwise.</summary>
    public static T Show<T>(IAnsiConsole console, bool interactive, TextWriter log, Func<Action<string>, Action<BatchProgress>, T> train)
    {
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
                    if (task is null) return;
                    task.Description = Markup.Escape(summary);
                    task.Value = task.MaxValue;
                    task.StopTask();
                }
                void Update(BatchProgress p)
                {
                    if (task is null || p.Epoch != epoch)
                    {
                        epoch = p.Epoch;
                        task = ctx.AddTask(Markup.Escape(Describe(p)), maxValue: p.Total);
                    }
                    task.Value = p.Seen;
                    task.Description = Markup.Escape(Describe(p));
                }
                return train(Finish, Update);
            });
    }

    /// <summary>A bar's description, e.g. <c>epoch 1/5  loss 0.4321  accuracy 86.12%  2650 images/s</c>.</summary>
    public static string Describe(BatchProgress p) => string.Create(CultureInfo.InvariantCulture,
        $"epoch {p.Epoch}/{p.Epochs}  loss {p.Loss:F4}  accuracy {p.Accuracy:P2}  {p.ImagesPerSecond:F0} images/s");
}
