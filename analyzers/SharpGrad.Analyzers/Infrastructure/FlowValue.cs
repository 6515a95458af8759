using System;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace SharpGrad.Analyzers;

/// <summary>A three-valued answer: the analyzers act on <see cref="True"/> and <see cref="False"/> only, never on <see cref="Unknown"/>.</summary>
internal enum Tri : byte
{
    Unknown,
    False,
    True,
}

internal static class TriExtensions
{
    public static Tri ToTri(this bool value) => value ? Tri.True : Tri.False;

    /// <summary>True when either is true; false when both are false; else unknown.</summary>
    public static Tri Or(this Tri a, Tri b) => a == Tri.True || b == Tri.True ? Tri.True : a == Tri.False && b == Tri.False ? Tri.False : Tri.Unknown;

    public static Tri Not(this Tri a) => a switch { Tri.True => Tri.False, Tri.False => Tri.True, _ => Tri.Unknown };
}

/// <summary>One write of a local or parameter: where it happens and the value written (null when the value is not known).</summary>
internal readonly struct Write
{
    public Write(IOperation site, IOperation? value)
    {
        Site = site;
        Value = value;
    }

    /// <summary>The declarator, assignment, loop or argument that writes.</summary>
    public IOperation Site { get; }

    public IOperation? Value { get; }
}

/// <summary>
/// A call of a local function or lambda being followed into its body: the body's parameters stand for the call's
/// arguments (evaluated in <see cref="Parent"/>). Frames compare by their chain of call sites, so the same op reached
/// through the same calls is the same value.
/// </summary>
internal sealed class Frame : IEquatable<Frame>
{
    public Frame(IInvocationOperation call, IMethodSymbol callee, IOperation body, IOperation returned, Frame? parent)
    {
        Call = call;
        Callee = callee;
        Body = body;
        Returned = returned;
        Parent = parent;
        Depth = parent is null ? 1 : parent.Depth + 1;
    }

    /// <summary>The call site, in <see cref="Parent"/>'s frame.</summary>
    public IInvocationOperation Call { get; }

    /// <summary>The local function or lambda called.</summary>
    public IMethodSymbol Callee { get; }

    /// <summary>The callee's body.</summary>
    public IOperation Body { get; }

    /// <summary>The expression the callee returns (its only return).</summary>
    public IOperation Returned { get; }

    public Frame? Parent { get; }

    public int Depth { get; }

    public bool Equals(Frame? other)
        => other is not null && (ReferenceEquals(this, other) || (Call == other.Call && Equals(Parent, other.Parent)));

    public override bool Equals(object? obj) => obj is Frame f && Equals(f);

    public override int GetHashCode() => Call.GetHashCode() * 31 + (Parent?.GetHashCode() ?? 0);
}

/// <summary>
/// A tensor value: the operation that computes it and the frame (calls of local functions/lambdas followed) it is
/// computed in — null at the level of the analyzed method. Two expressions with the same value denote the same tensor
/// object.
/// </summary>
internal readonly struct FlowValue : IEquatable<FlowValue>
{
    public FlowValue(IOperation operation, Frame? frame)
    {
        Operation = operation;
        Frame = frame;
    }

    public IOperation Operation { get; }

    public Frame? Frame { get; }

    public bool Equals(FlowValue other) => Operation == other.Operation && Equals(Frame, other.Frame);

    public override bool Equals(object? obj) => obj is FlowValue v && Equals(v);

    public override int GetHashCode() => Operation.GetHashCode() * 31 + (Frame?.GetHashCode() ?? 0);
}

/// <summary>
/// What autograd knows about a tensor at one point of the program: does it require grad, is it a leaf, and — when it
/// does not require grad because it was computed with gradient recording off — the op that was computed so.
/// </summary>
internal readonly struct GradState
{
    public GradState(Tri requiresGrad, Tri leaf, IOperation? computedWithoutGrad = null)
    {
        RequiresGrad = requiresGrad;
        Leaf = leaf;
        ComputedWithoutGrad = computedWithoutGrad;
    }

    public static GradState Unknown => default;

    /// <summary>A leaf that requires grad (or not).</summary>
    public static GradState LeafWith(Tri requiresGrad) => new(requiresGrad, Tri.True);

    public Tri RequiresGrad { get; }

    /// <summary>True for a leaf (created by the user, or computed from values that do not require grad); false for an op's recorded result.</summary>
    public Tri Leaf { get; }

    /// <summary>The op computed inside <c>Autograd.NoGrad()</c> that this value comes from, when that is why it has no graph.</summary>
    public IOperation? ComputedWithoutGrad { get; }

    /// <summary>An op's result: requires grad (a recorded non-leaf) when an input does, a leaf when none does.</summary>
    public static GradState OpResult(Tri inputsRequireGrad, IOperation? computedWithoutGrad = null)
        => new(inputsRequireGrad, inputsRequireGrad.Not(), inputsRequireGrad == Tri.False ? computedWithoutGrad : null);
}
