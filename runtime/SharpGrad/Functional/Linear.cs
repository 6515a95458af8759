namespace SharpGrad;

public static partial class Functional
{
    /// <summary>
    /// Applies an affine map <c>y = x·Wᵀ + b</c> (PyTorch: <c>torch.nn.functional.linear</c>).
    /// <paramref name="input"/> is [..., in_features], <paramref name="weight"/> is [out_features, in_features],
    /// <paramref name="bias"/> (optional) is [out_features]; the result is [..., out_features].
    /// </summary>
    public static Tensor Linear(Tensor input, Tensor weight, Tensor? bias = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(weight);
        if (weight.Rank != 2)
        {
            throw new ArgumentException(
                $"Linear: weight must be 2-d [out_features, in_features], but got shape {ShapeUtil.Format(weight._shape)}.");
        }
        if (input.Rank == 0 || input._shape[^1] != weight._shape[1])
        {
            throw new ArgumentException(
                $"Linear: input of shape {ShapeUtil.Format(input._shape)} does not match weight of shape {ShapeUtil.Format(weight._shape)}: " +
                $"the last dimension of the input must equal in_features = {weight._shape[1]}. " +
                $"Reshape the input (e.g. x.View(-1, {weight._shape[1]})) or construct the layer with in_features = {(input.Rank == 0 ? 0 : input._shape[^1])}.");
        }
        if (bias is not null && (bias.Rank != 1 || bias._shape[0] != weight._shape[0]))
        {
            throw new ArgumentException(
                $"Linear: bias must have shape [{weight._shape[0]}] (out_features of weight {ShapeUtil.Format(weight._shape)}), but got {ShapeUtil.Format(bias._shape)}.");
        }
        var y = input.MatMul(weight.T());
        return bias is null ? y : y + bias;
    }
}
