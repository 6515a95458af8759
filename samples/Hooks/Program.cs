// Tensor hooks and module forward/backward hooks: prints per-layer activation statistics and gradient norms
// while a small MLP trains for a few steps on a synthetic classification task.
//   dotnet run --project samples/Hooks -- [STEPS]
using System.Globalization;
using SharpGrad.Samples.Hooks;

int steps = 3;
if (args.Length > 0 && (!int.TryParse(args[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out steps) || steps < 1))
{
    Console.Error.WriteLine($"Hooks: expected a positive number of training steps, but got '{args[0]}'. Usage: Hooks [STEPS]");
    return 2;
}
HooksDemo.Run(steps, Console.WriteLine);
return 0;
