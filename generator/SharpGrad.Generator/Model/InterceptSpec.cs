namespace SharpGrad.Generator.Model;

/// <summary>
/// One direct <c>child.Forward(x)</c> call to reroute through <c>Module.DispatchForward</c> so the child's hooks run:
/// the receiver type (fully qualified), the number of tensor inputs the call passes, the types of the trailing optional
/// parameters it leaves to their defaults (<c>layer.Forward(src)</c> on <c>Forward(Tensor src, Tensor? srcMask = null, …)</c>;
/// empty when it passes every parameter), and the interceptable location.
/// </summary>
internal sealed record InterceptSpec(string ReceiverType, int Arity, EquatableArray<string> OmittedParameterTypes, int LocationVersion, string LocationData, string DisplayLocation);
