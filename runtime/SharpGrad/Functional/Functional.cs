namespace SharpGrad;

/// <summary>
/// Stateless neural-network functions (PyTorch: <c>torch.nn.functional</c>): activations, convolution, pooling,
/// normalisation, dropout, embedding. Each records its gradient for autograd. The layers in <c>SharpGrad.Layers</c> call these.
/// </summary>
public static partial class Functional
{
}
