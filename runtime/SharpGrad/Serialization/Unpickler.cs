using System.Buffers.Binary;
using System.Text;

namespace SharpGrad.Serialization;

internal enum StorageKind { Float, Double, Long, Int, Byte, Bool, Half, BFloat16 }

internal sealed record StorageType(string Name, StorageKind Kind, int ElementSize)
{
    public bool IsHalf => Kind is StorageKind.Half or StorageKind.BFloat16;
}

internal sealed record StorageRef(StorageType Type, string Key, long NumElements);

internal sealed record TensorRef(StorageRef Storage, long Offset, long[] Size, long[] Stride);

internal sealed class PyDict
{
    private readonly Dictionary<object, int> _index = new();
    public readonly List<(object Key, object Value)> Items = [];

    public void Set(object key, object value, Unpickler u)
    {
        if (key is not (string or long or bool or double)) throw u.Bad($"a dict key is a {Unpickler.Describe(key)}; state dicts have string keys.");
        if (_index.TryGetValue(key, out int i)) Items[i] = (key, value);
        else
        {
            _index[key] = Items.Count;
            Items.Add((key, value));
        }
    }
}

internal sealed class PyTuple(object[] items)
{
    public readonly object[] Items = items;
}

internal sealed class PyList
{
    public readonly List<object> Items = [];
}

internal sealed class PyNone
{
    public static readonly PyNone Instance = new();
}

internal sealed record PyGlobal(string Module, string Name)
{
    public string FullName => Module + "." + Name;
}

/// <summary>
/// A pickle reader that executes nothing: it understands the opcodes a PyTorch state dict uses and builds plain data, accepting
/// only the globals a state dict needs. Everything it reads is bounded (stack, marks, memo, string sizes).
/// </summary>
internal sealed class Unpickler(byte[] data, string source)
{
    private const int MaxStack = 1 << 20;
    private const int MaxMarks = 1 << 12;
    private const int MaxMemo = 1 << 20;
    private const int MaxTupleForTensor = 64;

    private static readonly Dictionary<string, StorageType> StorageTypes = new(StringComparer.Ordinal)
    {
        ["FloatStorage"] = new("FloatStorage", StorageKind.Float, 4),
        ["DoubleStorage"] = new("DoubleStorage", StorageKind.Double, 8),
        ["LongStorage"] = new("LongStorage", StorageKind.Long, 8),
        ["IntStorage"] = new("IntStorage", StorageKind.Int, 4),
        ["ByteStorage"] = new("ByteStorage", StorageKind.Byte, 1),
        ["BoolStorage"] = new("BoolStorage", StorageKind.Bool, 1),
        ["HalfStorage"] = new("HalfStorage", StorageKind.Half, 2),
        ["BFloat16Storage"] = new("BFloat16Storage", StorageKind.BFloat16, 2),
    };

    private static readonly UTF8Encoding Utf8 = new(false, true);

    private readonly List<object> _stack = [];
    private readonly List<int> _marks = [];
    private readonly Dictionary<long, object> _memo = [];
    private int _pos;

    public InvalidDataException Bad(string problem) => PyTorchCheckpoint.Bad(source, "data.pkl " + problem);

    private InvalidDataException MoreThanStateDict(string what) => PyTorchCheckpoint.Bad(source,
        $"the file holds more than a state dict: its pickle uses {what}, which SharpGrad's restricted unpickler does not run. " +
        "Only collections.OrderedDict, torch._utils._rebuild_tensor_v2 / _rebuild_parameter and the torch.*Storage types are allowed. " +
        "Save the weights with torch.save(model.state_dict(), path) or as safetensors.");

    public object Load()
    {
        while (true)
        {
            int at = _pos;
            byte op = ReadByte();
            switch (op)
            {
                case 0x80: // PROTO
                {
                    int v = ReadByte();
                    if (v > 5) throw Bad($"declares pickle protocol {v}; protocols up to 5 are understood.");
                    break;
                }
                case 0x95: Take(8); break; // FRAME: a length hint only
                case (byte)'.': // STOP
                {
                    if (_stack.Count != 1 || _marks.Count != 0) throw Bad($"stops with {_stack.Count} objects on the stack (expected exactly one).");
                    return _stack[0];
                }
                case (byte)'(': // MARK
                    if (_marks.Count >= MaxMarks) throw Bad($"nests more than {MaxMarks} marks.");
                    _marks.Add(_stack.Count);
                    break;
                case (byte)'}': Push(new PyDict()); break;
                case (byte)']': Push(new PyList()); break;
                case (byte)')': Push(new PyTuple([])); break;
                case (byte)'N': Push(PyNone.Instance); break;
                case 0x88: Push(true); break;
                case 0x89: Push(false); break;
                case (byte)'K': Push((long)ReadByte()); break;
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Take(2))); break;
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(Take(4))); break;
                case 0x8a: // LONG1
                {
                    int n = ReadByte();
                    if (n > 8) throw Bad($"has a {n}-byte integer at byte {at}; at most 8 bytes are supported.");
                    var b = Take(n);
                    long v = 0;
                    for (int i = n - 1; i >= 0; i--) v = (v << 8) | b[i];
                    if (n is > 0 and < 8 && (b[n - 1] & 0x80) != 0) v -= 1L << (8 * n);
                    Push(v);
                    break;
                }
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(Take(8))); break;
                case (byte)'X': Push(ReadString(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)))); break;
                case 0x8c: Push(ReadString(ReadByte())); break;
                case 0x8d: Push(ReadString(BinaryPrimitives.ReadUInt64LittleEndian(Take(8)))); break;
                case (byte)'U': Push(Encoding.Latin1.GetString(Take(ReadByte()))); break;
                case (byte)'T': Push(Encoding.Latin1.GetString(Take(CheckLength(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)))))); break;
                case (byte)'C': Push(Take(ReadByte()).ToArray()); break;
                case (byte)'B': Push(Take(CheckLength(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)))).ToArray()); break;
                case (byte)'q': Memo(ReadByte()); break;
                case (byte)'r': Memo(BinaryPrimitives.ReadUInt32LittleEndian(Take(4))); break;
                case 0x94: Memo(_memo.Count); break; // MEMOIZE
                case (byte)'h': Push(Recall(ReadByte())); break;
                case (byte)'j': Push(Recall(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)))); break;
                case (byte)'0': Pop(); break; // POP
                case (byte)'1': PopMark(); break; // POP_MARK
                case (byte)'2': Push(Peek()); break; // DUP
                case (byte)'t': Push(new PyTuple(PopMark().ToArray())); break;
                case 0x85: { var a = Pop(); Push(new PyTuple([a])); break; }
                case 0x86: { var b = Pop(); var a = Pop(); Push(new PyTuple([a, b])); break; }
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); Push(new PyTuple([a, b, c])); break; }
                case (byte)'l': { var l = new PyList(); l.Items.AddRange(PopMark()); Push(l); break; }
                case (byte)'d': // DICT
                {
                    var items = PopMark();
                    if (items.Count % 2 != 0) throw Bad($"has a DICT with an odd number of items at byte {at}.");
                    var d = new PyDict();
                    for (int i = 0; i < items.Count; i += 2) d.Set(items[i], items[i + 1], this);
                    Push(d);
                    break;
                }
                case (byte)'a': { var v = Pop(); AsList(Peek(), at).Items.Add(v); break; }
                case (byte)'e': { var items = PopMark(); AsList(Peek(), at).Items.AddRange(items); break; }
                case (byte)'s': { var v = Pop(); var k = Pop(); AsDict(Peek(), at).Set(k, v, this); break; }
                case (byte)'u':
                {
                    var items = PopMark();
                    if (items.Count % 2 != 0) throw Bad($"has a SETITEMS with an odd number of items at byte {at}.");
                    var d = AsDict(Peek(), at);
                    for (int i = 0; i < items.Count; i += 2) d.Set(items[i], items[i + 1], this);
                    break;
                }
                case (byte)'c': // GLOBAL
                {
                    string module = ReadLine();
                    string name = ReadLine();
                    Push(Global(module, name));
                    break;
                }
                case 0x93: // STACK_GLOBAL
                {
                    var name = Pop();
                    var module = Pop();
                    if (module is not string m || name is not string n) throw Bad($"has a STACK_GLOBAL without two strings at byte {at}.");
                    Push(Global(m, n));
                    break;
                }
                case (byte)'Q': Push(PersistentLoad(Pop())); break; // BINPERSID
                case (byte)'R': // REDUCE
                {
                    var args = Pop();
                    var fn = Pop();
                    Push(Reduce(fn, args, at));
                    break;
                }
                case (byte)'b': // BUILD
                {
                    var state = Pop();
                    var target = Peek();
                    // OrderedDict's BUILD sets attributes such as _metadata (module versions): harmless, ignored.
                    if (target is not (PyDict or TensorRef) || state is not (PyDict or PyNone or PyTuple))
                    {
                        throw MoreThanStateDict($"BUILD on a {Describe(target)}");
                    }
                    break;
                }
                default:
                    throw MoreThanStateDict($"the pickle opcode 0x{op:x2} ('{(op is >= 0x20 and < 0x7f ? ((char)op).ToString() : "?")}') at byte {at}");
            }
        }
    }

    private object Global(string module, string name)
    {
        if (module == "collections" && name == "OrderedDict") return new PyGlobal(module, name);
        if (module == "torch._utils" && name is "_rebuild_tensor_v2" or "_rebuild_parameter") return new PyGlobal(module, name);
        if (module == "torch" && StorageTypes.TryGetValue(name, out var st)) return st;
        throw MoreThanStateDict($"the global '{PyTorchCheckpoint.Truncate(module)}.{PyTorchCheckpoint.Truncate(name)}'");
    }

    private StorageRef PersistentLoad(object pid)
    {
        if (pid is not PyTuple { Items: [string tag, StorageType type, var key, string, long numel] } || tag != "storage")
        {
            throw MoreThanStateDict($"a persistent id that is not ('storage', type, key, location, numel) but a {Describe(pid)}");
        }
        string k = key switch
        {
            string s => s,
            long l => l.ToString(System.Globalization.CultureInfo.InvariantCulture),
            _ => throw Bad($"has a storage key that is a {Describe(key)}."),
        };
        if (k.Length == 0 || k.Length > 64 || k.Contains('/') || k.Contains('\\') || k.Contains(".."))
        {
            throw Bad($"has an invalid storage key '{PyTorchCheckpoint.Truncate(k)}'.");
        }
        if (numel < 0) throw Bad($"declares storage '{k}' with {numel} elements.");
        return new StorageRef(type, k, numel);
    }

    private object Reduce(object fn, object args, int at)
    {
        if (args is not PyTuple tuple) throw Bad($"calls a function with arguments that are a {Describe(args)} at byte {at}.");
        var a = tuple.Items;
        switch (fn)
        {
            case PyGlobal { Module: "collections", Name: "OrderedDict" }:
                if (a.Length != 0) throw MoreThanStateDict("OrderedDict(...) with arguments");
                return new PyDict();
            case PyGlobal { Name: "_rebuild_tensor_v2" }:
            {
                if (a.Length is < 6 or > 7 || a[0] is not StorageRef storage || a[1] is not long offset ||
                    a[2] is not PyTuple size || a[3] is not PyTuple stride || a[4] is not bool)
                {
                    throw Bad($"calls _rebuild_tensor_v2 with unexpected arguments at byte {at} (expected storage, offset, size, stride, requires_grad, hooks).");
                }
                if (a[5] is PyDict { Items.Count: > 0 }) throw MoreThanStateDict("a tensor with backward hooks");
                return new TensorRef(storage, offset, Longs(size, "size", at), Longs(stride, "stride", at));
            }
            case PyGlobal { Name: "_rebuild_parameter" }:
            {
                if (a.Length != 3 || a[0] is not TensorRef t || a[1] is not bool)
                {
                    throw Bad($"calls _rebuild_parameter with unexpected arguments at byte {at}.");
                }
                if (a[2] is PyDict { Items.Count: > 0 }) throw MoreThanStateDict("a parameter with backward hooks");
                return t;
            }
            default:
                throw MoreThanStateDict($"a call of {Describe(fn)}");
        }
    }

    private long[] Longs(PyTuple t, string what, int at)
    {
        if (t.Items.Length > MaxTupleForTensor) throw Bad($"has a tensor {what} with {t.Items.Length} entries at byte {at}.");
        var r = new long[t.Items.Length];
        for (int i = 0; i < r.Length; i++)
        {
            r[i] = t.Items[i] is long v ? v : throw Bad($"has a tensor {what} entry that is a {Describe(t.Items[i])} at byte {at}.");
        }
        return r;
    }

    private PyList AsList(object o, int at) => o as PyList ?? throw Bad($"appends to a {Describe(o)} at byte {at}.");

    private PyDict AsDict(object o, int at) => o as PyDict ?? throw Bad($"sets an item on a {Describe(o)} at byte {at}.");

    private void Push(object o)
    {
        if (_stack.Count >= MaxStack) throw Bad($"grows its stack past {MaxStack} objects.");
        _stack.Add(o);
    }

    private object Pop()
    {
        int floor = _marks.Count > 0 ? _marks[^1] : 0;
        if (_stack.Count <= floor) throw Bad($"pops from an empty stack at byte {_pos - 1}.");
        var o = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return o;
    }

    private object Peek()
    {
        int floor = _marks.Count > 0 ? _marks[^1] : 0;
        if (_stack.Count <= floor) throw Bad($"reads an empty stack at byte {_pos - 1}.");
        return _stack[^1];
    }

    private List<object> PopMark()
    {
        if (_marks.Count == 0) throw Bad($"uses a mark that was never set at byte {_pos - 1}.");
        int m = _marks[^1];
        _marks.RemoveAt(_marks.Count - 1);
        var items = _stack.GetRange(m, _stack.Count - m);
        _stack.RemoveRange(m, _stack.Count - m);
        return items;
    }

    private void Memo(long index)
    {
        if (index > MaxMemo) throw Bad($"uses memo slot {index}, beyond the limit of {MaxMemo}.");
        if (_memo.Count >= MaxMemo && !_memo.ContainsKey(index)) throw Bad($"stores more than {MaxMemo} memo entries.");
        _memo[index] = Peek();
    }

    private object Recall(long index) =>
        _memo.TryGetValue(index, out var o) ? o : throw Bad($"reads memo slot {index}, which was never stored (at byte {_pos - 1}).");

    private byte ReadByte()
    {
        if (_pos >= data.Length) throw Bad("ends before its STOP opcode (truncated).");
        return data[_pos++];
    }

    private ReadOnlySpan<byte> Take(int n)
    {
        if (n < 0 || n > data.Length - _pos) throw Bad($"needs {n} bytes at byte {_pos}, past its end (truncated or corrupt).");
        var s = data.AsSpan(_pos, n);
        _pos += n;
        return s;
    }

    private int CheckLength(ulong n)
    {
        if (n > (ulong)(data.Length - _pos)) throw Bad($"declares a {n}-byte value at byte {_pos}, longer than the rest of the pickle.");
        return (int)n;
    }

    private string ReadString(ulong n)
    {
        var bytes = Take(CheckLength(n));
        try
        {
            return Utf8.GetString(bytes);
        }
        catch (DecoderFallbackException ex)
        {
            throw PyTorchCheckpoint.Bad(source, $"data.pkl has a string that is not valid UTF-8 at byte {_pos - bytes.Length}.", ex);
        }
    }

    private string ReadLine()
    {
        int start = _pos;
        int end = Array.IndexOf(data, (byte)'\n', start, Math.Min(256, data.Length - start));
        if (end < 0) throw Bad($"has a GLOBAL name that is not newline-terminated within 256 bytes at byte {start}.");
        _pos = end + 1;
        return Encoding.ASCII.GetString(data, start, end - start);
    }

    public static string Describe(object? o) => o switch
    {
        null => "null",
        PyDict => "dict",
        PyList => "list",
        PyTuple t => $"tuple of {t.Items.Length}",
        PyNone => "None",
        PyGlobal g => g.FullName,
        StorageType s => "torch." + s.Name,
        StorageRef => "storage",
        TensorRef => "tensor",
        string => "string",
        long => "int",
        double => "float",
        bool => "bool",
        byte[] => "bytes",
        _ => o.GetType().Name,
    };
}
