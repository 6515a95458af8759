using System.Globalization;
using System.Text;

namespace SharpGrad.Data;

/// <summary>
/// Reader for numeric CSV files (PyTorch users' <c>numpy.loadtxt(delimiter=…)</c> / <c>pandas.read_csv</c> followed by
/// <c>torch.tensor</c>). Gzipped files (magic 1f 8b) are decompressed transparently. Cells are numbers in the invariant
/// culture, optionally surrounded by spaces or double quotes; blank lines are skipped. A malformed file gives an
/// <see cref="InvalidDataException"/> naming the file, the line and the column.
/// </summary>
public static class Csv
{
    /// <summary>The longest line accepted, in characters (guards against unbounded memory on corrupt input).</summary>
    public const int MaxLineLength = 16 * 1024 * 1024;

    /// <summary>Reads every cell of the CSV file at <paramref name="path"/> into a Float32 tensor of shape [rows, columns].</summary>
    /// <param name="path">The file, plain or gzipped.</param>
    /// <param name="hasHeader">Skip the first line (column names).</param>
    /// <param name="separator">The cell separator.</param>
    /// <exception cref="InvalidDataException">A cell is not a number, or rows have different numbers of columns.</exception>
    public static Tensor Read(string path, bool hasHeader = false, char separator = ',')
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = File.OpenRead(path);
        return Read(stream, path, hasHeader, separator);
    }

    /// <summary>Reads CSV from <paramref name="stream"/> (not closed); <paramref name="name"/> is used in error messages.
    /// See <see cref="Read(string, bool, char)"/>.</summary>
    /// <exception cref="InvalidDataException">A cell is not a number, or rows have different numbers of columns.</exception>
    public static Tensor Read(Stream stream, string? name = null, bool hasHeader = false, char separator = ',')
    {
        var table = Parse(stream, name ?? "<stream>", hasHeader ? 1 : 0, separator, labelColumn: null);
        return Tensor.Wrap(table.Values, table.Rows, table.Columns);
    }

    /// <summary>Reads a CSV file whose column <paramref name="labelColumn"/> holds integer class labels: returns the other
    /// columns as Float32 features [rows, columns − 1] and the labels as Int64 [rows].</summary>
    /// <param name="path">The file, plain or gzipped.</param>
    /// <param name="labelColumn">The label column, 0-based; negative counts from the end (−1: the last column).</param>
    /// <param name="hasHeader">Skip the first line (column names).</param>
    /// <param name="separator">The cell separator.</param>
    /// <exception cref="InvalidDataException">A cell is not a number, a label is not an integer, or rows differ in length.</exception>
    public static (Tensor Features, Tensor Labels) ReadWithLabels(string path, int labelColumn = -1, bool hasHeader = false, char separator = ',')
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = File.OpenRead(path);
        return ReadWithLabels(stream, path, labelColumn, hasHeader, separator);
    }

    /// <summary>Reads labelled CSV from <paramref name="stream"/> (not closed). See <see cref="ReadWithLabels(string, int, bool, char)"/>.</summary>
    /// <exception cref="InvalidDataException">A cell is not a number, a label is not an integer, or rows differ in length.</exception>
    public static (Tensor Features, Tensor Labels) ReadWithLabels(Stream stream, string? name = null, int labelColumn = -1, bool hasHeader = false, char separator = ',')
    {
        var table = Parse(stream, name ?? "<stream>", hasHeader ? 1 : 0, separator, labelColumn);
        return (Tensor.Wrap(table.Values, table.Rows, table.Columns), Tensor.Wrap(table.Labels!, table.Rows));
    }

    internal sealed record Table(float[] Values, long[]? Labels, int Rows, int Columns, string[] SkippedLines);

    /// <summary>Parses numeric CSV. <paramref name="skipLines"/> leading lines are returned verbatim (headers);
    /// with a label column, <see cref="Table.Columns"/> counts the feature columns only.</summary>
    internal static Table Parse(Stream stream, string name, int skipLines, char separator, int? labelColumn)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Stream data;
        bool compressed;
        try
        {
            data = DataStreams.MaybeDecompress(stream, out compressed);
        }
        catch (IOException ex)
        {
            throw new InvalidDataException($"CSV file '{name}': could not be read: {ex.Message}", ex);
        }
        try
        {
            using var reader = new LineReader(new StreamReader(data, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16, leaveOpen: true), name, compressed);
            var skipped = new string[skipLines];
            for (int i = 0; i < skipLines; i++)
            {
                skipped[i] = reader.ReadLine() ?? throw new InvalidDataException($"CSV file '{name}': ends before its {skipLines} header line(s).");
            }

            var values = new List<float>();
            var labels = labelColumn is null ? null : new List<long>();
            int columns = -1, label = -1, rows = 0;
            string? line;
            while ((line = reader.ReadLine()) is not null)
            {
                if (string.IsNullOrWhiteSpace(line)) continue;
                int lineNo = reader.LineNumber;
                int cells = CountCells(line, separator);
                if (columns < 0)
                {
                    columns = cells;
                    if (labelColumn is int lc)
                    {
                        label = lc < 0 ? lc + columns : lc;
                        if (label < 0 || label >= columns)
                        {
                            throw new InvalidDataException($"CSV file '{name}', line {lineNo}: the label column {lc} does not exist; the file has {columns} column(s).");
                        }
                    }
                }
                else if (cells != columns)
                {
                    throw new InvalidDataException($"CSV file '{name}', line {lineNo} (data row {rows + 1}): has {cells} column(s), but the first data row has {columns}.");
                }
                if ((long)values.Count + columns > Array.MaxLength)
                {
                    throw new InvalidDataException($"CSV file '{name}': more cells than a tensor can hold (stopped at line {lineNo}).");
                }
                int col = 0, start = 0;
                for (int i = 0; i <= line.Length; i++)
                {
                    if (i < line.Length && line[i] != separator) continue;
                    var cell = Unquote(line.AsSpan(start, i - start));
                    if (col == label)
                    {
                        labels!.Add(ParseLabel(cell, name, lineNo, rows + 1, col + 1));
                    }
                    else
                    {
                        if (!float.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out float v))
                        {
                            throw new InvalidDataException($"CSV file '{name}', line {lineNo} (data row {rows + 1}), column {col + 1}: '{Shorten(cell)}' is not a number.");
                        }
                        values.Add(v);
                    }
                    col++;
                    start = i + 1;
                }
                rows++;
            }
            int featureColumns = columns < 0 ? 0 : labelColumn is null ? columns : columns - 1;
            return new Table(values.ToArray(), labels?.ToArray(), rows, featureColumns, skipped);
        }
        finally
        {
            if (compressed) data.Dispose();
        }
    }

    private static int CountCells(string line, char separator)
    {
        int n = 1;
        foreach (var c in line) if (c == separator) n++;
        return n;
    }

    private static ReadOnlySpan<char> Unquote(ReadOnlySpan<char> cell)
    {
        cell = cell.Trim();
        if (cell.Length >= 2 && cell[0] == '"' && cell[^1] == '"') cell = cell[1..^1].Trim();
        return cell;
    }

    private static string Shorten(ReadOnlySpan<char> cell) => cell.Length <= 40 ? cell.ToString() : cell[..40].ToString() + "…";

    private static long ParseLabel(ReadOnlySpan<char> cell, string name, int lineNo, int row, int col)
    {
        if (long.TryParse(cell, NumberStyles.Integer, CultureInfo.InvariantCulture, out long l)) return l;
        if (double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out double d)
            && d == Math.Floor(d) && Math.Abs(d) <= 1L << 53)
        {
            return (long)d;
        }
        throw new InvalidDataException($"CSV file '{name}', line {lineNo} (data row {row}), column {col}: the label '{Shorten(cell)}' is not an integer.");
    }

    /// <summary>Reads lines with a length limit and a line counter, turning decompression errors into clear messages.</summary>
    private sealed class LineReader(StreamReader reader, string name, bool compressed) : IDisposable
    {
        private readonly StringBuilder _sb = new();
        private readonly char[] _buffer = new char[1 << 14];
        private int _pos, _len;
        private bool _eof;

        public int LineNumber { get; private set; }

        public string? ReadLine()
        {
            _sb.Clear();
            bool any = false;
            while (true)
            {
                if (_pos == _len)
                {
                    if (_eof || !Fill()) return any ? Finish() : null;
                }
                any = true;
                int i = Array.IndexOf(_buffer, '\n', _pos, _len - _pos);
                int end = i < 0 ? _len : i;
                if (_sb.Length + (end - _pos) > MaxLineLength)
                {
                    throw new InvalidDataException($"CSV file '{name}': line {LineNumber + 1} is longer than {MaxLineLength} characters; this is not a CSV file of numbers.");
                }
                _sb.Append(_buffer, _pos, end - _pos);
                _pos = end;
                if (i >= 0)
                {
                    _pos++;
                    return Finish();
                }
            }
        }

        private string Finish()
        {
            LineNumber++;
            if (_sb.Length > 0 && _sb[^1] == '\r') _sb.Length--;
            return _sb.ToString();
        }

        private bool Fill()
        {
            try
            {
                _len = reader.Read(_buffer, 0, _buffer.Length);
            }
            catch (InvalidDataException ex) when (compressed)
            {
                throw new InvalidDataException($"CSV file '{name}': bad gzip data: {ex.Message}", ex);
            }
            catch (IOException ex)
            {
                throw new InvalidDataException($"CSV file '{name}': could not be read ({ex.Message}).", ex);
            }
            _pos = 0;
            if (_len <= 0)
            {
                _len = 0;
                _eof = true;
                return false;
            }
            return true;
        }

        public void Dispose() => reader.Dispose();
    }
}
