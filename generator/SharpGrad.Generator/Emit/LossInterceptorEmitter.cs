using System.Linq;
using SharpGrad.Generator.Model;

namespace SharpGrad.Generator.Emit;

/// <summary>
/// Writes <c>SharpGrad.LossInterceptors.g.cs</c>: one interceptor per loss, with the loss's own signature, routing
/// <c>Losses.CrossEntropy(c.Forward(x), y, …)</c> to the compiled loss head (<c>CompiledSupport.CrossEntropy</c>).
/// </summary>
internal static class LossInterceptorEmitter
{
    public const string HintName = "SharpGrad.LossInterceptors.g.cs";
    private const string Tensor = "global::SharpGrad.Tensor";

    public static string Emit(EquatableArray<LossInterceptSpec> calls)
    {
        var w = InterceptorEmitter.BeginFile();
        using (w.Block("namespace SharpGrad.Generated"))
        {
            w.WriteLine("/// <summary>");
            w.WriteLine("/// Losses applied straight to a compiled program's output (<c>Losses.CrossEntropy(c.Forward(x), y)</c>), rerouted to the");
            w.WriteLine("/// compiled loss head: the loss is recorded on the program's own tape node (no second node, no logits tensor).");
            w.WriteLine("/// Any call the head does not fuse runs the eager loss; the value and the gradients are the same either way.");
            w.WriteLine("/// </summary>");
            w.WriteLine(GeneratorInfo.GeneratedCodeAttribute);
            using (w.Block("file static class LossInterceptors"))
            {
                var groups = calls.GroupBy(c => c.Loss).OrderBy(g => g.Key, System.StringComparer.Ordinal).ToList();
                for (int i = 0; i < groups.Count; i++)
                {
                    if (i > 0) w.WriteLine();
                    foreach (var call in groups[i])
                        w.WriteLine($"[global::System.Runtime.CompilerServices.InterceptsLocation({call.LocationVersion}, \"{call.LocationData}\")] // {call.DisplayLocation}");
                    w.WriteLine(GeneratorInfo.GeneratedCodeAttribute);
                    switch (groups[i].Key)
                    {
                        case "CrossEntropy":
                            w.WriteLine($"public static {Tensor} CrossEntropy({Tensor} input, {Tensor} target, {Tensor}? weight, long ignoreIndex, double labelSmoothing, global::SharpGrad.Reduction reduction)");
                            w.WriteLine("    => global::SharpGrad.CompiledSupport.CrossEntropy(input, target, weight, ignoreIndex, labelSmoothing, reduction);");
                            break;
                    }
                }
            }
        }
        return w.ToString();
    }
}
