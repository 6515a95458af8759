namespace SharpGrad.Tests.Support;

/// <summary>
/// Tests that reseed <c>Rng.Default</c> (the process-wide generator, like <c>torch.manual_seed</c>) and then depend on the
/// exact sequence it produces over a long run run in this collection, alone: a test in another class constructing a layer
/// meanwhile would draw from the same generator. Prefer an explicit <c>new Rng(seed)</c> in new tests.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class DefaultRngCollection
{
    /// <summary>The collection's name, for <c>[Collection(DefaultRngCollection.Name)]</c>.</summary>
    public const string Name = "Rng.Default sequence";
}
