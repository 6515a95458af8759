namespace SharpGrad.Generator.Model;

/// <summary>
/// One direct <c>child.Forward(x)</c> call to reroute through <c>Module.DispatchForward</c> so the child's hooks run:
/// the receiver type (fully qualified), the number of tensor inputs, and the interceptable location.
/// </summary>
internal sealed record InterceptSpec(string ReceiverType, int Arity, int LocationVersion, string LocationData, string DisplayLocation);
