using Microsoft.CodeAnalysis;
using SharpGrad.Generator.Tests.Support;

namespace SharpGrad.Generator.Tests.Compiler;

/// <summary>
/// Each kind of construct the compiler does not take is a graph break: an SG1019 info (never an error) at the construct,
/// naming it and the fix; the module still gets <c>Compile()</c> (the broken method runs eagerly) and its
/// <c>Explanation</c> lists the break. All breaks of a build are reported at once.
/// </summary>
public class GraphBreakTests
{
    private static string Model(string fields, string parameters, string body, string extra = "") => $$"""
        using SharpGrad;
        using SharpGrad.Layers;

        namespace Demo.Compiled;

        [Module]
        public partial class Net
        {
        {{fields}}

            public Tensor Forward({{parameters}})
            {
        {{body}}
            }
        {{extra}}
        }
        """;

    /// <summary>Runs the generator; asserts the output compiles with no error and every diagnostic is an SG1019 info; returns them.</summary>
    private static (IReadOnlyList<Diagnostic> Breaks, Compilation Output, GeneratorRunResult Result) Breaks(params string[] sources)
    {
        var (result, output) = GeneratorHarness.Run(sources);
        Assert.All(result.Diagnostics, d =>
        {
            Assert.Equal("SG1019", d.Id);
            Assert.Equal(DiagnosticSeverity.Info, d.Severity);
            Assert.EndsWith("(docs/diagnostics/SG1019.md)", d.GetMessage());
        });
        var errors = output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        Assert.True(errors.Count == 0, string.Join("\n", errors));
        return (result.Diagnostics, output, result);
    }

    /// <summary>The one break of <paramref name="source"/>: its source text and message; the class got an eager Compiled.</summary>
    private static (string Text, string Message) Single(string source, string className = "Net")
    {
        var (breaks, _, result) = Breaks(source);
        var d = Assert.Single(breaks);
        Assert.Equal("Source0.cs", d.Location.GetLineSpan().Path);
        var span = d.Location.SourceSpan;
        var compiled = result.GeneratedSources.Single(s => s.HintName == $"Demo.Compiled.{className}.Compiled.g.cs").SourceText.ToString();
        Assert.Contains("public global::SharpGrad.GraphExplanation Explanation", compiled);
        Assert.Contains("new(\"", compiled);   // the break, as data
        Assert.StartsWith($"'{className}' breaks the compiled graph at ", d.GetMessage());
        return (source.Substring(span.Start, span.Length), d.GetMessage());
    }

    /// <summary>
    /// The common ops still without compiled code (issue 12 item 3, session 8) are each one named break at the expression:
    /// windows along the batch dim, the Functional forms whose layers compile only as children
    /// (<c>%</c> with a constant divisor compiles since session 9: Remainder's node; indices compile as a result).
    /// </summary>
    [Theory]
    [InlineData("return h.Narrow(0, 0, 1);", "h.Narrow(0, 0, 1)", "(Narrow along dim 0 of [N, 8]), a window of the batch N: its result is a batch of another size")]
    [InlineData("return h.Slice(0, 0, 2);", "h.Slice(0, 0, 2)", "(Slice along dim 0 of [N, 8]), a window of the batch N")]
    [InlineData("return h.Chunk(2, 0)[1];", "h.Chunk(2, 0)[1]", "(Chunk along dim 0 of [N, 8]), a window of the batch N")]
    [InlineData("return Functional.InstanceNorm(h.View(-1, 8, 1));", "Functional.InstanceNorm(h.View(-1, 8, 1))", "(InstanceNorm, input shapes [N, 8, 1], output [N, 8, 1]), which the code generator does not emit yet")]
    public void ACommonOpWithoutCompiledCodeIsANamedBreak(string body, string expectedText, string expectedMessage)
    {
        var (text, message) = Single(Model("    private readonly Linear fc = new(8, 8);\n    private readonly Parameter g = new(Tensor.Ones(8));", "[Shape(\"N\", 8)] Tensor x",
            "        var h = fc.Forward(x);\n        " + body));
        Assert.Equal(expectedText, text);
        Assert.Contains(expectedMessage, message);
        Assert.Contains("that part runs eagerly inside Compile()", message);
        Assert.DoesNotContain("[Shape", message);   // a window of the batch is not a shape to declare
    }

    /// <summary>int64 indices compile as the program's result (session 9): no break, a program returning eager's Int64 tensor.</summary>
    [Theory]
    [InlineData("return h.Max(1).Indices;")]
    [InlineData("var (v, i) = h.View(-1, 2, 4).Min(2, keepDim: true);\n        return i;")]
    [InlineData("return h.ArgMax(1);")]
    [InlineData("return h.ArgMin();")]
    [InlineData("return h.View(-1, 2, 4).ArgMax(-1, keepDim: true);")]
    public void IndicesCompileAsTheResult(string body)
    {
        var (breaks, _, result) = Breaks(Model("    private readonly Linear fc = new(8, 8);", "[Shape(\"N\", 8)] Tensor x", "        var h = fc.Forward(x);\n        " + body));
        Assert.Empty(breaks);
        var compiled = result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.Net.Compiled.g.cs").SourceText.ToString();
        Assert.Contains("ReduceKernel.ArgExtreme", compiled);
        Assert.Contains("WrapInt64", compiled);
    }

    /// <summary>Compiled code does not compute with indices yet: arithmetic on them is a break naming the indices, and the fix.</summary>
    [Fact]
    public void ArithmeticOnIndicesIsANamedBreak()
    {
        var (text, message) = Single(Model("    private readonly Linear fc = new(8, 8);", "[Shape(\"N\", 8)] Tensor x",
            "        var h = fc.Forward(x);\n        return h.Max(1).Values + h.ArgMax(1);"));
        Assert.Equal("h.Max(1).Values + h.ArgMax(1)", text);
        Assert.Contains("reads the int64 indices `h.ArgMax(1)`", message);
        Assert.Contains("return the indices from Forward", message);
    }

    /// <summary><c>x % s</c> compiles as <c>x.Remainder(s)</c> when s is a constant; a divisor read at run time is a break at it.</summary>
    [Fact]
    public void RemainderByADivisorKnownOnlyAtRunTime()
    {
        var (text, message) = Single(Model("    private readonly Linear fc = new(3, 3);\n    private static double k = 1.5;", "[Shape(\"N\", 3)] Tensor x",
            "        return fc.Forward(x) % k;"));
        Assert.Equal("k", text);
        Assert.Contains("the non-constant divisor `k` of `fc.Forward(x) % k`", message);
    }

    /// <summary>A <c>null</c> before a tensor argument would shift the op's operands: a break at the <c>null</c>, never a silent difference.</summary>
    [Fact]
    public void NullBeforeAGivenTensorArgumentIsABreak()
    {
        var (text, message) = Single(Model("    private readonly Parameter g = new(Tensor.Ones(3));", "[Shape(\"N\", 3)] Tensor x",
            "        return Functional.LayerNorm(x, [3], null, g);"));
        Assert.Equal("null", text);
        Assert.Contains("the `null` argument `null` before a tensor argument of `Functional.LayerNorm(x, [3], null, g)`", message);
    }

    [Fact]
    public void CallOfAMethodTheCompilerCannotSeeInto()
    {
        var (text, message) = Single(Model("", "[Shape(\"N\", 3)] Tensor x", "        var y = Scale(x);\n        return y;",
            "    private static Tensor Scale(Tensor t) => t;"));
        Assert.Equal("Scale(x)", text);
        Assert.Contains("the call to `Net.Scale`, which SharpGrad cannot see into", message);
        Assert.Contains("that part runs eagerly inside Compile()", message);
    }

    [Fact]
    public void MaskBuilderWithAnArgumentKnownOnlyAtRunTime()
    {
        var (text, message) = Single(Model("    private readonly Linear fc = new(3, 3);\n    private static double k = 1.5;", "[Shape(\"N\", 3)] Tensor x",
            "        return fc.Forward(x).MaskedFill(Tensor.Arange(3).Ge(k), 0.0);"));
        Assert.Equal("k", text);
        Assert.Contains("the argument `k` of `Tensor.Arange(3).Ge(k)`, which is neither a constant nor a field of the module", message);
    }

    [Fact]
    public void ComparisonOfAComputedValue()
    {
        var (text, message) = Single(Model("    private readonly Linear fc = new(3, 3);", "[Shape(\"N\", 3)] Tensor x",
            "        var h = fc.Forward(x);\n        return Tensor.Where(h.Gt(0.0), h, h * 0.1f);"));
        Assert.Equal("h.Gt(0.0)", text);
        Assert.Contains("which the code generator does not emit yet", message);
    }

    [Fact]
    public void LoopOverData()
    {
        var (text, message) = Single(Model("", "[Shape(\"N\", 3)] Tensor x", "        for (int i = 0; i < Repeats; i++) x = x + 1f;\n        return x;", "    public int Repeats { get; set; } = 3;"));
        Assert.StartsWith("for (int i = 0;", text);
        Assert.Contains("a loop", message);
    }

    [Fact]
    public void ConditionOtherThanTraining()
    {
        var (text, message) = Single(Model("    public bool Residual { get; set; }", "[Shape(\"N\", 3)] Tensor x",
            "        var y = x * 2f;\n        if (Residual) y = y + x;\n        return y;"));
        Assert.StartsWith("if (Residual)", text);
        Assert.Contains("condition other than `if (Training)`", message);
    }

    [Fact]
    public void EarlyReturn()
    {
        var (text, message) = Single(Model("    public bool Skip { get; set; }", "[Shape(\"N\", 3)] Tensor x",
            "        if (Training) { return x; }\n        return x * 2f;"));
        Assert.Equal("return x;", text);
        Assert.Contains("a return before the end of the method", message);
    }

    [Fact]
    public void NonConstantArgument()
    {
        // x.Shape[0] is the symbolic batch and x.Shape[1] a size read (its dim); a size computed at run time is a break, at the argument.
        var (text, message) = Single(Model("", "[Shape(\"N\", 3, 4)] Tensor x", "        return x.View(x.Shape[1] * 2, -1);"));
        Assert.Equal("x.Shape[1] * 2", text);
        Assert.Contains("the non-constant argument `x.Shape[1] * 2`", message);
    }

    [Fact]
    public void UnknownExpression()
    {
        var (text, message) = Single(Model("", "[Shape(\"N\", 3)] Tensor x", "        var t = System.Array.Empty<int>().Length > 0 ? x : x;\n        return t;"));
        Assert.Equal("System.Array.Empty<int>().Length > 0 ? x : x", text);
        Assert.Contains("the expression `System.Array.Empty<int>().Length > 0 ? x : x`", message);
    }

    [Fact]
    public void ChildWithANonConstantArgument()
    {
        var (text, message) = Single(Model("    static readonly int Width = 8;\n    readonly Linear fc = new(Width, 2);",
            "[Shape(\"N\", 8)] Tensor x", "        return fc.Forward(x);"));
        Assert.Equal("new(Width, 2)", text);
        Assert.Contains("the child 'fc', whose argument `Width` is not a compile-time constant", message);
    }

    [Fact]
    public void ChildNotConstructedOnce()
    {
        // Two constructions under a condition: which one the module holds is decided at run time.
        var (text, message) = Single(Model("    readonly Linear fc;\n    public Net(bool wide) { if (wide) fc = new Linear(8, 4); else fc = new Linear(8, 2); }",
            "[Shape(\"N\", 8)] Tensor x", "        return fc.Forward(x);"));
        Assert.Equal("fc", text);
        Assert.Contains("the child 'fc', which is not constructed once in a field initialiser or the constructor", message);
    }

    [Fact]
    public void ListOfChildrenNotKnownAtBuildTime()
    {
        var (text, message) = Single(Model("    readonly System.Collections.Generic.List<Linear> layers = new();",
            "[Shape(\"N\", 8)] Tensor x", "        return x;"));
        Assert.Equal("layers", text);
        Assert.Contains("the list of children 'layers', whose items are not known at build time", message);
    }

    [Fact]
    public void ChildTheCompilerDoesNotSeeInto()
    {
        var source = Model("    readonly Block block = new();", "[Shape(\"N\", 8)] Tensor x", "        return block.Forward(x);") + """

            [Module(Compile = false)]
            public partial class Block
            {
                public Tensor Forward(Tensor x) => x * 2f;
            }
            """;
        var (text, message) = Single(source);
        Assert.Equal("block.Forward(x)", text);
        Assert.Contains("the call of 'block' (Block), which the compiler does not see into", message);
    }

    [Fact]
    public void ChildWhoseGraphBreaks()
    {
        var source = Model("    readonly Block block = new();", "[Shape(\"N\", 8)] Tensor x", "        return block.Forward(x);") + """

            [Module]
            public partial class Block
            {
                public Tensor Forward(Tensor x) => Twice(x);
                private static Tensor Twice(Tensor t) => t * 2f;
            }
            """;
        var (breaks, _, _) = Breaks(source);
        Assert.Equal(2, breaks.Count);
        Assert.Contains(breaks, d => d.GetMessage().Contains("'Block' breaks the compiled graph at the call to `Block.Twice`", StringComparison.Ordinal));
        Assert.Contains(breaks, d => d.GetMessage().Contains("'Net' breaks the compiled graph at the call of 'block' (Block), whose own graph breaks", StringComparison.Ordinal));
    }

    [Fact]
    public void AllBreaksOfAMethodInOneBuild()
    {
        // Three independent breaks, and a statement that only reads a value a break left eager (not a break of its own).
        var (breaks, _, _) = Breaks(Model("    public bool Flag { get; set; }", "[Shape(\"N\", 3)] Tensor x", """
                    var a = Scale(x);
                    var b = a + 1f;
                    var c = x.View(x.Shape[1] * 2, -1);
                    for (int i = 0; i < Flag.GetHashCode(); i++) b = b * 2f;
                    return b;
            """, "    private static Tensor Scale(Tensor t) => t;"));
        Assert.Equal(3, breaks.Count);
        Assert.Contains(breaks, d => d.GetMessage().Contains("Net.Scale", StringComparison.Ordinal));
        Assert.Contains(breaks, d => d.GetMessage().Contains("x.Shape[1]", StringComparison.Ordinal));
        Assert.Contains(breaks, d => d.GetMessage().Contains("a loop", StringComparison.Ordinal));
    }

    /// <summary>
    /// One row per remaining parse-time break class (the others have a test of their own above): the fields, Forward's
    /// body over <c>[Shape("N", 8)] Tensor x</c>, the source text the SG1019 points at, and what its message names.
    /// </summary>
    public static TheoryData<string, string, string, string> BreakClasses() => new()
    {
        { "", "        Tensor h;\n        h = x * 2f;\n        return h;", "h", "at a local without an initial value; that part runs eagerly inside Compile() (to compile it: give it its value where it is declared)" },
        { "    private int calls;", "        calls = 1;\n        return x * 2f;", "calls = 1", "at an assignment to something other than a tensor local;" },
        { "    private readonly int which = 1;", "        var parts = x.Split([4, 4], 1);\n        return parts[which];", "parts[which]", "at the part `parts[which]` with a non-constant index; that part runs eagerly inside Compile() (to compile it: index the parts with a constant)" },
        { "", "        return Tensor.Cat(new System.Collections.Generic.List<Tensor> { x, x }, 1);", "new System.Collections.Generic.List<Tensor> { x, x }",
          "at the tensor list `new System.Collections.Generic.List<Tensor> { x, x }`; that part runs eagerly inside Compile() (to compile it: list the tensors in the call (`Tensor.Cat([a, b], 1)`))" },
        { "", "        return x.Prod(1);", "x.Prod(1)", "at `Tensor.Prod`, which the compiler does not know yet;" },
        { "", "        Tensor a = x, b = x * 2f;\n        (a, b) = (b, a);\n        return a;", "(a, b) = (b, a)", "at the deconstruction `(a, b) = (b, a)`;" },
        { "    private readonly LSTM lstm = new(4, 4, batchFirst: true);", "        var (y, state) = lstm.Forward(x.View(-1, 2, 4));\n        return y.Flatten(1);",
          "var (y, state) = lstm.Forward(x.View(-1, 2, 4))", "at the state tuple of `lstm.Forward(x.View(-1, 2, 4))` kept whole;" },
    };

    [Theory]
    [MemberData(nameof(BreakClasses))]
    public void EachBreakClassIsAnInfoAtTheConstructWithItsMessage(string fields, string body, string text, string message)
    {
        var (at, actual) = Single(Model(fields, "[Shape(\"N\", 8)] Tensor x", body));
        Assert.Equal(text, at);
        Assert.Contains(message, actual);
    }

    [Fact]
    public void OverloadsOfAParsedMethod()
    {
        // Forward(x) and Forward(x, y) would share the compiled fields of their name: each runs eagerly, with a break that says why.
        var (breaks, _, _) = Breaks(Model("", "[Shape(\"N\", 8)] Tensor x", "        return x * 2f;",
            "    public Tensor Forward([Shape(\"N\", 8)] Tensor x, [Shape(\"N\", 8)] Tensor y) => x + y;"));
        Assert.Equal(2, breaks.Count);
        Assert.All(breaks, d => Assert.Contains("at the overloads of `Forward`, which are not compiled (each would need its own name); that part runs eagerly inside Compile() (to compile it: give each overload its own name)", d.GetMessage()));
    }

    [Fact]
    public void InputShapeNotKnownInAConstructorSizedModuleSaysToDeclareIt()
    {
        // Sizes bound when the module is built: the break's one fix is the [Shape], not the generic "write it with compiled ops".
        var (text, message) = Single(Model("    private readonly Linear fc;\n    public Net(int hidden) { fc = new Linear(hidden, 3); }",
            "Tensor x", "        return fc.Forward(x * 2f);"));
        Assert.Equal("Forward", text);
        Assert.Contains("at Forward, whose inputs have no batch dim known at build time;", message);
        Assert.Contains("(to compile it: declare the input's shape with [Shape(\"N\", …)]; its sizes may name the constructor's parameters)", message);
        Assert.DoesNotContain("write that expression", message);
    }

    [Fact]
    public void InputShapeNotKnownAtBuildTime()
    {
        // No [Shape] and no layer to take it from: Forward runs eagerly inside Compile(), and the break says how to compile it.
        var (text, message) = Single(Model("", "Tensor x", "        return x * 2f;"));
        Assert.Equal("Forward", text);
        Assert.Contains("at Forward, whose inputs have no batch dim known at build time;", message);
        Assert.Contains("declare the input's shape with [Shape(\"N\", …)]", message);
    }

    /// <summary>Runs the generator on a module that gets no program: one SG1017 warning, at the method, with its message (and maybe breaks).</summary>
    private static (string Text, string Message) NoProgram(string source)
    {
        var (result, output) = GeneratorHarness.Run(source);
        var d = Assert.Single(result.Diagnostics, d => d.Id != "SG1019");
        Assert.Equal("SG1017", d.Id);
        Assert.Equal(DiagnosticSeverity.Warning, d.Severity);
        Assert.StartsWith("'Net' gets no Compile(): ", d.GetMessage());
        Assert.EndsWith("(docs/diagnostics/SG1017.md)", d.GetMessage());
        Assert.DoesNotContain(result.GeneratedSources, s => s.HintName == "Demo.Compiled.Net.Compiled.g.cs");
        Assert.Empty(output.GetDiagnostics().Where(e => e.Severity == DiagnosticSeverity.Error));
        var span = d.Location.SourceSpan;
        return (source.Substring(span.Start, span.Length), d.GetMessage());
    }

    [Fact]
    public void AMethodNamedLikeAMemberOfTheProgramIsSG1017()
    {
        var (text, message) = NoProgram(Model("", "[Shape(\"N\", 3)] Tensor x", "        return x * 2f;",
            "    [Compiled] public Tensor Compile(Tensor x, Tensor y) => Forward(x) - y;"));
        Assert.Equal("Compile", text);
        Assert.Contains("its method `Compile` has the name of a member the generated program needs; the model still runs eagerly (rename the method", message);
    }

    [Fact]
    public void AMethodTheProgramCannotRedeclareIsSG1017()
    {
        var (text, message) = NoProgram(Model("", "[Shape(\"N\", 3)] Tensor x", "        return x * 2f;",
            "    [Compiled] public Tensor Score(Tensor x, ref int calls) { calls++; return Forward(x); }"));
        Assert.Equal("Score", text);
        Assert.Contains("its method `Score` cannot be re-declared by the generated program (a generic method, or ref/out/in parameters)", message);
        Assert.Contains("make it a plain method of tensor parameters", message);
    }

    [Fact]
    public void EveryReasonForNoProgramOrABreakIsReportedInOneBuild()
    {
        // Three modules in one build: a break, a shape not known, and no program at all; each says why, none is silent.
        string Named(string name, string source) => source.Replace("public partial class Net", "public partial class " + name, StringComparison.Ordinal);
        var (result, _) = GeneratorHarness.Run(
            Named("A", Model("", "[Shape(\"N\", 3)] Tensor x", "        return Scale(x);", "    private static Tensor Scale(Tensor t) => t;")),
            Named("B", Model("", "Tensor x", "        return x * 2f;")),
            Named("C", Model("", "[Shape(\"N\", 3)] Tensor x", "        return x * 2f;", "    [Compiled] public Tensor Explanation(Tensor x, Tensor y) => Forward(x) - y;")));
        Assert.Equal(3, result.Diagnostics.Length);
        Assert.Contains(result.Diagnostics, d => d.Id == "SG1019" && d.GetMessage().StartsWith("'A' breaks the compiled graph at the call to `A.Scale`", StringComparison.Ordinal));
        Assert.Contains(result.Diagnostics, d => d.Id == "SG1019" && d.GetMessage().StartsWith("'B' breaks the compiled graph at Forward, whose inputs have no batch dim", StringComparison.Ordinal));
        Assert.Contains(result.Diagnostics, d => d.Id == "SG1017" && d.GetMessage().StartsWith("'C' gets no Compile(): its method `Explanation`", StringComparison.Ordinal));
    }

    [Fact]
    public void ChildAssignedInTheConstructorIsParsed()
    {
        // self.fc = nn.Linear(8, 4) in __init__: constant arguments, so it is a child like a field initialiser.
        var (result, output) = GeneratorHarness.Run(Model("    readonly Linear fc;\n    public Net() { fc = new Linear(8, 4); }",
            "[Shape(\"N\", 8)] Tensor x", "        return Functional.Relu(fc.Forward(x));"));
        Assert.Empty(result.Diagnostics);
        var compiled = result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.Net.Compiled.g.cs").SourceText.ToString();
        Assert.Contains("\"Forward: the whole method\"", compiled);
        Assert.DoesNotContain("=> _m.Forward(", compiled);   // compiled, not the eager stand-in
        Assert.Empty(output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error));

        // Assigned with the wrong in-features in the constructor: a shape error at the call, as for a field initialiser.
        var (wrong, _) = GeneratorHarness.Run(Model("    readonly Linear fc;\n    public Net() { fc = new Linear(5, 4); }",
            "[Shape(\"N\", 8)] Tensor x", "        return fc.Forward(x);"));
        Assert.Equal("SG1010", Assert.Single(wrong.Diagnostics).Id);
    }
    [Fact]
    public void TheStaticRegionsAroundABreakAreCompiledAndTheRestRunsAsWritten()
    {
        // Region 1 leaves h (and skip, equal to its input x); the helper runs eagerly; region 2 reads h (shape from fc2)
        // and skip (shape from region 1's input). Each region is an internal compiled method; the runner calls them.
        var source = Model("    readonly Linear fc1 = new(6, 8);\n    readonly Linear fc2 = new(8, 4);", "Tensor x", """
                    var skip = x;
                    var h = Functional.Relu(fc1.Forward(x));
                    h = Rescale(h);
                    return fc2.Forward(h) + skip.Sum(1, keepDim: true);
            """, "    private static Tensor Rescale(Tensor t) => t * 0.5f;");
        var (breaks, _, result) = Breaks(source);
        Assert.Contains("Net.Rescale", Assert.Single(breaks).GetMessage(), StringComparison.Ordinal);
        var compiled = result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.Net.Compiled.g.cs").SourceText.ToString();
        Assert.Contains("internal global::SharpGrad.Tensor ForwardRegion1([global::SharpGrad.Shape(\"N\", 6)] global::SharpGrad.Tensor x)", compiled);
        Assert.Contains("internal global::SharpGrad.Tensor ForwardRegion2([global::SharpGrad.Shape(\"N\", 8)] global::SharpGrad.Tensor h, "
                        + "[global::SharpGrad.Shape(\"N\", 6)] global::SharpGrad.Tensor skip)", compiled);
        Assert.Contains("public global::SharpGrad.Tensor Forward(global::SharpGrad.Tensor x) => _m.__SharpGrad_Forward(this, x);", compiled);
        Assert.Contains("\"Forward, Source0.cs lines 14–15\"", compiled);
        var regions = result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.Net.Regions.g.cs").SourceText.ToString();
        Snapshot.Verify("Compiler.Demo.Compiled.Net.Regions", regions);
    }

    [Fact]
    public void ATensorArrayForwardCompilesEachElementWhereItsOpsCompile()
    {
        // return [a, b] (PyTorch: a forward returning a tuple): h is region 1, the first element region 2, the second
        // element breaks (an unparsed helper) and runs as written, with its break named; the runner returns the array.
        var source = Model("    readonly Linear fc1 = new(6, 8);\n    readonly Linear fc2 = new(8, 4);", "[Shape(\"N\", 6)] Tensor x", """
                    var h = Functional.Relu(fc1.Forward(x));
                    return [fc2.Forward(h) * 2f, Rescale(h)];
            """, "    private static Tensor Rescale(Tensor t) => t * 0.5f;").Replace("public Tensor Forward", "public Tensor[] Forward");
        var (breaks, _, result) = Breaks(source);
        var d = Assert.Single(breaks);
        Assert.Contains("Net.Rescale", d.GetMessage(), StringComparison.Ordinal);
        Assert.Equal("Rescale(h)", source.Substring(d.Location.SourceSpan.Start, d.Location.SourceSpan.Length));
        var compiled = result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.Net.Compiled.g.cs").SourceText.ToString();
        Assert.Contains("internal global::SharpGrad.Tensor ForwardRegion2([global::SharpGrad.Shape(\"N\", 8)] global::SharpGrad.Tensor h)", compiled);
        Assert.DoesNotContain("ForwardRegion3", compiled);
        Assert.Contains("public global::SharpGrad.Tensor[] Forward(global::SharpGrad.Tensor x) => _m.__SharpGrad_Forward(this, x);", compiled);
        var regions = result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.Net.Regions.g.cs").SourceText.ToString();
        Snapshot.Verify("Compiler.Demo.Compiled.Net.SeveralOutputs.Regions", regions);
    }
}
