namespace SharpGrad.Generator;

internal static class GeneratorInfo
{
    public const string Name = "SharpGrad.Generator";

    /// <summary>Written into <c>[GeneratedCode]</c>; kept constant so snapshots do not change with every build.</summary>
    public const string Version = "0.1.0";

    public const string GeneratedCodeAttribute =
        "[global::System.CodeDom.Compiler.GeneratedCode(\"" + Name + "\", \"" + Version + "\")]";
}
