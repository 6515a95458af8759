using System.Linq;

namespace SharpGrad.Generator.Emit;

/// <summary>
/// Emits the region runners of a module (<c>Net.Regions.g.cs</c>): for each method with graph breaks, a private method
/// of the module itself that runs the method's top-level statements in order, each static region as a call of its
/// compiled program (<c>ForwardRegion1</c>, one node on the tape) and the statements between them as written. It is a
/// member of the module, with the using directives of the method's file, so the eager statements bind as in the method.
/// </summary>
internal static class RegionEmitter
{
    public static string HintName(ModuleSpec spec) => ModuleEmitter.HintName(spec).Replace(".g.cs", ".Regions.g.cs");

    /// <summary>The runner of <paramref name="method"/>: a private member of the module (<c>__SharpGrad_Forward</c>).</summary>
    public static string RunnerName(GraphMethod method) => "__SharpGrad_" + method.Name;

    public static string Emit(ModuleSpec spec, ProgramPlan p)
    {
        // The eager statements are the user's, copied under the nullable context and using directives of their file.
        var preamble = new[] { p.Runners[0].NullableEnabled ? "#nullable enable" : "#nullable disable" }
            .Concat(p.Runners[0].Usings.Split('\n').Where(l => l.Length > 0));
        var w = ModuleEmitter.BeginFile(spec, preamble);
        var compiled = p.Methods.Select(m => m.Name).ToList();
        using (w.Block($"{spec.DeclarationKeywords} {spec.ClassName}"))
        {
            bool first = true;
            foreach (var method in p.Runners)
            {
                if (!first) w.WriteLine();
                first = false;
                w.WriteLine($"/// <summary>{method.Name} with its static regions compiled (called by <see cref=\"Compiled.{method.Name}\"/>).</summary>");
                w.WriteLine(GeneratorInfo.GeneratedCodeAttribute);
                string parameters = method.Parameters.Length == 0 ? "" : ", " + method.Parameters;
                using (w.Block($"private {method.ReturnType} {RunnerName(method)}(Compiled __compiled{parameters})"))
                {
                    int temp = 0;
                    var segments = method.Segments.ToList();
                    for (int n = 0; n < segments.Count; n++)
                    {
                        var segment = segments[n];
                        // A branch group (GraphParser.BranchRegions): one segment per combination of the tests' values, the last the
                        // `else`; the instance's fields or built layers choose the region; a branch with no region passes its input on.
                        // When any region is not compiled, the statements run once, as written (their Code).
                        if (segment.Condition is not null)
                        {
                            int end = n;
                            while (end < segments.Count - 1 && segments[end].Condition is { Length: > 0 }) end++;
                            var group = segments.GetRange(n, end - n + 1);
                            n = end;
                            if (!group.All(s => s.Region is null || compiled.Contains(s.Region)))
                            {
                                w.Comment("eager (not compiled, see Explanation): " + group[0].Where);
                                foreach (var line in group[0].Code.Split('\n')) w.WriteLine(line.TrimEnd('\r'));
                                continue;
                            }
                            for (int g = 0; g < group.Count; g++)
                            {
                                var branch = group[g];
                                w.Comment((branch.Region is null ? "passed on: " : "compiled: ") + branch.Where);
                                foreach (var declaration in branch.Declarations) w.WriteLine(declaration + ";");
                                string value = branch.Region is null ? branch.Arguments[0] : $"__compiled.{branch.Region}({string.Join(", ", branch.Arguments)})";
                                string test = branch.Condition!.Length == 0 ? "else" : g == 0 ? $"if ({branch.Condition})" : $"else if ({branch.Condition})";
                                using (w.Block(test))
                                    w.WriteLine(branch.Returns ? $"return {value};" : branch.Output is null ? value + ";" : $"{branch.Output} = {value};");
                            }
                            continue;
                        }
                        if (segment.Region is null || !compiled.Contains(segment.Region))
                        {
                            w.Comment((segment.Region is null ? "eager (a graph break): " : "eager (not compiled, see Explanation): ") + segment.Where);
                            foreach (var line in segment.Code.Split('\n')) w.WriteLine(line.TrimEnd('\r'));
                            continue;
                        }
                        w.Comment("compiled: " + segment.Where);
                        foreach (var declaration in segment.Declarations) w.WriteLine(declaration + ";");
                        if (segment.Guard is null)
                        {
                            Call(w, segment, ref temp);
                            continue;
                        }
                        // A break's value read by the region, its rank guessed from the layer reading it (Planner): the region for
                        // that rank, the statements as written for any other (a Linear takes any leading dims).
                        using (w.Block($"if ({segment.Guard})")) Call(w, segment, ref temp);
                        using (w.Block("else"))
                        {
                            foreach (var line in segment.Fallback!.Split('\n')) w.WriteLine(line.TrimEnd('\r'));
                        }
                    }
                }
            }
        }
        return ModuleEmitter.EndFile(w, spec);
    }

    /// <summary>The call of a segment's compiled region and the assignments of what it leaves.</summary>
    private static void Call(IndentedWriter w, MethodSegment segment, ref int temp)
    {
        string call = $"__compiled.{segment.Region}({string.Join(", ", segment.Arguments)})";
        if (segment.Returns)
        {
            w.WriteLine($"return {call};");
            return;
        }
        if (segment.Aliases.IsEmpty)
        {
            w.WriteLine(segment.Output is null ? call + ";" : $"{segment.Output} = {call};");
            foreach (var again in segment.Recomputed) w.WriteLine(again);   // data the region leaves (a mask), as written
            return;
        }
        // Locals the region leaves equal to an input (`var skip = x;`): read before any of them is assigned.
        string result = "__r" + (temp++).ToString(System.Globalization.CultureInfo.InvariantCulture);
        w.WriteLine($"var {result} = {call};");
        var pairs = segment.Aliases.Select(a => a.Split('=')).ToList();
        for (int k = 0; k < pairs.Count; k++) w.WriteLine($"var {result}_{k} = {pairs[k][1]};");
        for (int k = 0; k < pairs.Count; k++) w.WriteLine($"{pairs[k][0]} = {result}_{k};");
        if (segment.Output is not null) w.WriteLine($"{segment.Output} = {result};");
        foreach (var again in segment.Recomputed) w.WriteLine(again);
    }
}
