using System;
using System.Collections.Generic;
using System.Text;

namespace SharpGrad.Generator.Emit;

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

    /// <summary>The longest line generated code may have (a reviewer reads it without scrolling).</summary>
    public const int MaxWidth = 160;

    /// <summary>The width of the current indentation.</summary>
    public int Indentation => _indent * 4;

    /// <summary>
    /// Writes <c>head(arg, arg, …)tail</c> on one line when it fits in <see cref="MaxWidth"/>, else the head and the
    /// arguments packed on continuation lines indented one level more.
    /// </summary>
    public void Call(string head, IReadOnlyList<string> args, string tail = ");")
    {
        string line = head + "(" + string.Join(", ", args) + tail;
        if (Indentation + line.Length <= MaxWidth || args.Count == 0)
        {
            WriteLine(line);
            return;
        }
        WriteLine(head + "(");
        _indent++;
        Pack(args, tail);
        _indent--;
    }

    /// <summary>
    /// Writes <c>head { item, item, … }tail</c> on one line when it fits in <see cref="MaxWidth"/>, else the items packed on
    /// lines between braces.
    /// </summary>
    public void List(string head, IReadOnlyList<string> items, string tail)
    {
        string line = head + " { " + string.Join(", ", items) + " }" + tail;
        if (Indentation + line.Length <= MaxWidth)
        {
            WriteLine(line);
            return;
        }
        WriteLine(head);
        WriteLine("{");
        _indent++;
        Pack(items, ",");
        _indent--;
        WriteLine("}" + tail);
    }

    /// <summary>
    /// Writes <c>head[item, item, …]tail</c> (a collection expression) on one line when it fits in <see cref="MaxWidth"/>,
    /// else the items packed on lines between brackets.
    /// </summary>
    public void Collection(string head, IReadOnlyList<string> items, string tail)
    {
        string line = head + "[" + string.Join(", ", items) + "]" + tail;
        if (Indentation + line.Length <= MaxWidth)
        {
            WriteLine(line);
            return;
        }
        WriteLine(head.TrimEnd());
        WriteLine("[");
        _indent++;
        Pack(items, ",");
        _indent--;
        WriteLine("]" + tail);
    }

    /// <summary>Writes the items separated by commas, as many on a line as fit in <see cref="MaxWidth"/>; the last one ends with <paramref name="last"/>.</summary>
    private void Pack(IReadOnlyList<string> items, string last)
    {
        var current = new StringBuilder();
        for (int k = 0; k < items.Count; k++)
        {
            string piece = items[k] + (k == items.Count - 1 ? last : ",");
            if (current.Length > 0 && Indentation + current.Length + 1 + piece.Length > MaxWidth)
            {
                WriteLine(current.ToString());
                current.Clear();
            }
            if (current.Length > 0) current.Append(' ');
            current.Append(piece);
        }
        WriteLine(current.ToString());
    }

    /// <summary>Writes a <c>//</c> comment, wrapped at word boundaries to fit in <see cref="MaxWidth"/>.</summary>
    public void Comment(string text)
    {
        int room = Math.Max(40, MaxWidth - Indentation - 3);
        var words = text.Split(' ');
        var current = new StringBuilder();
        foreach (var word in words)
        {
            if (current.Length > 0 && current.Length + 1 + word.Length > room)
            {
                WriteLine("// " + current);
                current.Clear();
            }
            if (current.Length > 0) current.Append(' ');
            current.Append(word);
        }
        WriteLine("// " + current);
    }

    /// <summary>Appends text another writer indented already (at this writer's indentation).</summary>
    public void WriteIndented(string text) => _sb.Append(text);

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
