namespace SharpGrad.Generator.Model;

/// <summary>
/// One call <c>Losses.CrossEntropy(c.Forward(x), y, …)</c> whose first argument is a compiled method's call, to reroute
/// through <c>CompiledSupport.CrossEntropy</c> (the compiled loss head): the loss's name and the interceptable location.
/// </summary>
internal sealed record LossInterceptSpec(string Loss, int LocationVersion, string LocationData, string DisplayLocation);
