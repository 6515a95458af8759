namespace SharpGrad.Data;

/// <summary>
/// Loaders for small classic data sets in the formats scikit-learn ships them in
/// (PyTorch users' <c>sklearn.datasets.load_iris</c> / <c>load_digits</c>).
/// </summary>
public static class Datasets
{
    /// <summary>Loads Fisher's iris data from scikit-learn's <c>iris.csv</c>: a first line
    /// "<c>samples,features,class names…</c>", then one line per sample with the features and a class index.
    /// Returns the features as Float32 [samples, features] and the labels as Int64 [samples] in [0, classes)
    /// (scikit-learn: <c>load_iris(return_X_y=True)</c>).</summary>
    /// <exception cref="InvalidDataException">The header or a row does not match the format, or the counts disagree with the header.</exception>
    public static (Tensor Features, Tensor Labels) LoadIris(string path) => LoadIris(path, out _);

    /// <summary>Loads iris like <see cref="LoadIris(string)"/> and also returns the class names from the first line
    /// (scikit-learn: <c>target_names</c>).</summary>
    /// <exception cref="InvalidDataException">The header or a row does not match the format, or the counts disagree with the header.</exception>
    public static (Tensor Features, Tensor Labels) LoadIris(string path, out string[] classNames)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = File.OpenRead(path);
        var table = Csv.Parse(stream, path, skipLines: 1, separator: ',', labelColumn: -1);
        var header = table.SkippedLines[0].Split(',');
        if (header.Length < 3
            || !int.TryParse(header[0].Trim(), out int samples) || samples < 0
            || !int.TryParse(header[1].Trim(), out int features) || features < 0)
        {
            throw new InvalidDataException($"Iris file '{path}', line 1: expected 'samples,features,class names…' (e.g. '150,4,setosa,versicolor,virginica'), but found '{Shorten(table.SkippedLines[0])}'.");
        }
        classNames = header[2..].Select(h => h.Trim()).ToArray();
        return Check(path, table, samples, features, classNames.Length, "Iris");
    }

    /// <summary>Loads scikit-learn's handwritten digits (<c>digits.csv.gz</c>, plain or gzipped): 64 pixel columns (8×8, values
    /// 0–16) then the digit. Returns the pixels as Float32 [samples, 64] (unscaled) and the digits as Int64 [samples]
    /// (scikit-learn: <c>load_digits(return_X_y=True)</c>).</summary>
    /// <exception cref="InvalidDataException">The file does not have 65 numeric columns, or a label is not a digit 0–9.</exception>
    public static (Tensor Features, Tensor Labels) LoadDigits(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = File.OpenRead(path);
        var table = Csv.Parse(stream, path, skipLines: 0, separator: ',', labelColumn: -1);
        return Check(path, table, table.Rows, 64, 10, "Digits");
    }

    private static (Tensor, Tensor) Check(string path, Csv.Table table, int samples, int features, int classes, string what)
    {
        if (table.Rows != samples)
        {
            throw new InvalidDataException($"{what} file '{path}': expected {samples} samples, but the file has {table.Rows} data rows.");
        }
        if (table.Rows > 0 && table.Columns != features)
        {
            throw new InvalidDataException($"{what} file '{path}': expected {features} feature columns and a label column, but the rows have {table.Columns + 1} columns.");
        }
        var labels = table.Labels!;
        for (int i = 0; i < labels.Length; i++)
        {
            if (labels[i] < 0 || labels[i] >= classes)
            {
                throw new InvalidDataException($"{what} file '{path}': data row {i + 1} has label {labels[i]}, but there are {classes} classes (labels 0 to {classes - 1}).");
            }
        }
        return (Tensor.Wrap(table.Values, table.Rows, features), Tensor.Wrap(labels, table.Rows));
    }

    private static string Shorten(string s) => s.Length <= 60 ? s : s[..60] + "…";
}
