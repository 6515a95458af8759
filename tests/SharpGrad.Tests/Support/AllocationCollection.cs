namespace SharpGrad.Tests.Support;

/// <summary>
/// The tests that count allocated bytes (<c>GC.GetAllocatedBytesForCurrentThread</c>) run in this collection, alone:
/// the kernels' shared scratch pools hand out a new array when a concurrent test holds the pooled one, which would be
/// counted against the measured code.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AllocationCollection
{
    /// <summary>The collection's name, for <c>[Collection(AllocationCollection.Name)]</c>.</summary>
    public const string Name = "Allocation measurements";
}
