namespace SharpGrad.Tests.Support;

/// <summary>
/// Tests that seed <see cref="Rng.Default"/> (<c>Rng.ManualSeed</c>) and then depend on its exact stream — e.g. two
/// training runs that must start from the same initial weights — run in this collection, alone: every test running in
/// parallel that builds a layer or draws a random tensor without an explicit <c>Rng</c> draws from the same default
/// generator, and would shift the stream between the two runs.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GlobalRngCollection
{
    /// <summary>The collection's name, for <c>[Collection(GlobalRngCollection.Name)]</c>.</summary>
    public const string Name = "Seeded default generator";
}
