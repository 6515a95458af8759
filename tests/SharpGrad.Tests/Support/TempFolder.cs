namespace SharpGrad.Tests.Support;

/// <summary>A fresh folder under the system's temporary folder (not created), deleted with what it holds on Dispose.</summary>
internal sealed class TempFolder(string what) : IDisposable
{
    /// <summary>The folder's path: <c>TMP/sharpgrad-WHAT-GUID</c>.</summary>
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"sharpgrad-{what}-{Guid.NewGuid():N}");

    public static implicit operator string(TempFolder folder) => folder.Path;

    public void Dispose()
    {
        if (Directory.Exists(Path)) Directory.Delete(Path, recursive: true);
    }
}
