using System.Reflection;

namespace SharpGrad.Generator.Tests.EndToEnd;

/// <summary>
/// Differential check of shape inference: the shapes the generator emitted in each model's ShapeInfo (at build time
/// of this test project) are the shapes the eager runtime produces, for several batch sizes.
/// </summary>
public class ShapeInferenceAgreesWithRuntimeTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void DesignCnn(int batch)
        => Check(typeof(DesignCnn.ShapeInfo.Forward), batch, xs => new DesignCnn().Forward(xs[0]));

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void StridedCnn(int batch)
        => Check(typeof(StridedCnn.ShapeInfo.Forward), batch, xs => new StridedCnn().Forward(xs[0]));

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public void AttentionLike(int batch)
        => Check(typeof(AttentionLike.ShapeInfo.Forward), batch, xs => new AttentionLike().Forward(xs[0], xs[1]));

    private static void Check(Type shapeDelegate, int batch, Func<Tensor[], Tensor> forward)
    {
        var invoke = shapeDelegate.GetMethod("Invoke")!;
        var inputs = invoke.GetParameters()
            .Select(p => Tensor.Randn(Concrete(p.GetCustomAttribute<ShapeAttribute>()!, batch)))
            .ToArray();
        var declared = invoke.ReturnParameter.GetCustomAttribute<ShapeAttribute>();
        Assert.NotNull(declared);   // every dim of these models is inferable

        var output = forward(inputs);

        Assert.Equal(Concrete(declared, batch), output.Shape);
    }

    /// <summary>The shape with the batch symbol N replaced by <paramref name="batch"/>.</summary>
    private static int[] Concrete(ShapeAttribute shape, int batch)
        => [.. shape.Dims.Select(d => d switch
        {
            int size => size,
            "N" => batch,
            _ => throw new InvalidOperationException($"Unexpected dim {d} in an inferred shape."),
        })];
}
