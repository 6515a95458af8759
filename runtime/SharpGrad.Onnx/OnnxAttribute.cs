using Google.Protobuf;
using Proto = global::Onnx;

namespace SharpGrad.Onnx;

/// <summary>An attribute of an ONNX node (<c>AttributeProto</c>): an int, a float, a string or a list of ints or floats.</summary>
public sealed class OnnxAttribute
{
    private readonly Proto.AttributeProto _proto;

    private OnnxAttribute(Proto.AttributeProto proto) => _proto = proto;

    /// <summary>The attribute's name.</summary>
    public string Name => _proto.Name;

    /// <summary>An integer attribute (e.g. <c>group</c>, <c>transB</c>).</summary>
    public static OnnxAttribute Int(string name, long value) => new(new() { Name = name, Type = Proto.AttributeProto.Types.AttributeType.Int, I = value });

    /// <summary>A float attribute (e.g. <c>epsilon</c>, <c>alpha</c>).</summary>
    public static OnnxAttribute Float(string name, float value) => new(new() { Name = name, Type = Proto.AttributeProto.Types.AttributeType.Float, F = value });

    /// <summary>A string attribute (e.g. Gelu's <c>approximate</c>).</summary>
    public static OnnxAttribute String(string name, string value) =>
        new(new() { Name = name, Type = Proto.AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) });

    /// <summary>A list of integers (e.g. <c>kernel_shape</c>, <c>pads</c>, <c>perm</c>).</summary>
    public static OnnxAttribute Ints(string name, params long[] values)
    {
        var a = new Proto.AttributeProto { Name = name, Type = Proto.AttributeProto.Types.AttributeType.Ints };
        a.Ints.Add(values);
        return new(a);
    }

    /// <summary>A list of strings (e.g. RNN's <c>activations</c>).</summary>
    public static OnnxAttribute Strings(string name, params string[] values)
    {
        var a = new Proto.AttributeProto { Name = name, Type = Proto.AttributeProto.Types.AttributeType.Strings };
        a.Strings.Add(values.Select(ByteString.CopyFromUtf8));
        return new(a);
    }

    /// <summary>A list of floats.</summary>
    public static OnnxAttribute Floats(string name, params float[] values)
    {
        var a = new Proto.AttributeProto { Name = name, Type = Proto.AttributeProto.Types.AttributeType.Floats };
        a.Floats.Add(values);
        return new(a);
    }

    internal Proto.AttributeProto ToProto() => _proto.Clone();
}
