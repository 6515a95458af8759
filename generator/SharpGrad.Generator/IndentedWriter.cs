using System;
using System.Text;

namespace SharpGrad.Generator;

/// <summary>Writes source text line by line with the current indentation (four spaces per level).</summary>
internal sealed class IndentedWriter
{
    private readonly StringBuilder _sb = new();
    private int _indent;

    public void WriteLine(string line = "")
    {
        if (line.Length == 0)
        {
            _sb.Append('\n');
            return;
        }
        // Multi-line text (a raw string literal) is indented line by line.
        foreach (var part in line.Split('\n'))
        {
            if (part.Length > 0) _sb.Append(' ', _indent * 4).Append(part);
            _sb.Append('\n');
        }
    }

    /// <summary>Writes <paramref name="line"/> then <c>{</c>, and indents until the returned scope is disposed (<c>}</c>).</summary>
    public Block Block(string line, string close = "}")
    {
        WriteLine(line);
        WriteLine("{");
        _indent++;
        return new Block(this, close);
    }

    public void Indent() => _indent++;

    public void Dedent() => _indent--;

    public override string ToString() => _sb.ToString();

    internal void Close(string close)
    {
        _indent--;
        WriteLine(close);
    }
}

internal readonly struct Block : IDisposable
{
    private readonly IndentedWriter _writer;
    private readonly string _close;

    public Block(IndentedWriter writer, string close)
    {
        _writer = writer;
        _close = close;
    }

    public void Dispose() => _writer.Close(_close);
}
