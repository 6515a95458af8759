using System.Runtime.InteropServices;
using System.Text;

namespace SharpGrad.Distributed.Native;

/// <summary>
/// Finds and loads the MPI library at run time (nothing native is needed to build or to run a single process), points
/// the <see cref="Mpi"/> imports at it, and turns MPI error codes into exceptions.
/// </summary>
internal static unsafe partial class MpiLibrary
{
    /// <summary>Overrides the search: the file name or path of an MPICH-ABI MPI library.</summary>
    internal const string LibraryVariable = "SHARPGRAD_MPI_LIBRARY";

    private static readonly object s_gate = new();
    private static nint s_handle;

    /// <summary>The name or path the library was loaded from (for messages).</summary>
    internal static string? LoadedFrom { get; private set; }

    /// <summary>The library's own description (MPI_Get_library_version), e.g. "MPICH Version: 4.0.2 …".</summary>
    internal static string Version { get; private set; } = "";

    /// <summary>The names tried in order: the override, then the MPICH ABI's sonames (MPICH, Intel MPI, Cray MPICH, MVAPICH).</summary>
    internal static IReadOnlyList<string> Candidates()
    {
        var names = new List<string>();
        if (Environment.GetEnvironmentVariable(LibraryVariable) is { Length: > 0 } custom) names.Add(custom);
        if (OperatingSystem.IsWindows()) names.Add("msmpi.dll");
        else if (OperatingSystem.IsMacOS()) names.AddRange(["libmpi.12.dylib", "libmpich.12.dylib", "libmpi.dylib", "libmpich.dylib"]);
        else names.AddRange(["libmpi.so.12", "libmpich.so.12", "libmpi.so", "libmpich.so"]);
        return names;
    }

    /// <summary>Loads the library once and checks that it speaks the MPICH ABI.</summary>
    /// <exception cref="DistributedException">No MPI library was found, or it is Open MPI (another ABI).</exception>
    internal static void Load()
    {
        lock (s_gate)
        {
            if (s_handle != 0) return;
            // UCX (MPICH's network layer on Debian) turns SIGSEGV, SIGBUS, SIGILL and SIGFPE into its own crash report by
            // default, but .NET raises NullReferenceException and friends from those signals. UCX reads its settings when
            // the library is loaded, so this must come first.
            SetNativeDefault("UCX_ERROR_SIGNALS", "");
            var tried = new List<string>();
            nint handle = 0;
            string? from = null;
            foreach (var name in Candidates())
            {
                if (NativeLibrary.TryLoad(name, out handle))
                {
                    from = name;
                    break;
                }
                tried.Add(name);
            }
            if (handle == 0)
            {
                throw new DistributedException(
                    $"SharpGrad.Distributed: the program was started by an MPI launcher, but no MPI library could be loaded (tried {string.Join(", ", tried)}). " +
                    $"Install MPICH (Debian/Ubuntu: apt-get install mpich), or set {LibraryVariable} to the path of an MPICH-ABI libmpi (MPICH, Intel MPI, Cray MPICH, MVAPICH).");
            }
            s_handle = handle;
            LoadedFrom = from;
            NativeLibrary.SetDllImportResolver(typeof(MpiLibrary).Assembly, static (name, _, _) => name == Mpi.Library ? s_handle : 0);

            var buffer = new byte[Mpi.MaxLibraryVersionString];
            fixed (byte* p = buffer)
            {
                if (Mpi.GetLibraryVersion(p, out int length) == Mpi.Success) Version = Encoding.UTF8.GetString(buffer, 0, Math.Clamp(length, 0, buffer.Length)).Trim('\0', ' ', '\n');
            }
            if (Version.Contains("Open MPI", StringComparison.OrdinalIgnoreCase))
            {
                throw new DistributedException(
                    $"SharpGrad.Distributed: '{from}' is Open MPI, whose ABI (pointer handles) SharpGrad does not bind. Use an MPICH-ABI MPI: " +
                    $"install MPICH (Debian/Ubuntu: apt-get install mpich) and launch with its mpiexec, or set {LibraryVariable} to such a library.");
            }
        }
    }

    /// <summary>Throws a <see cref="DistributedException"/> naming <paramref name="what"/> and MPI's message when <paramref name="code"/> is an error.</summary>
    internal static void Check(int code, string what)
    {
        if (code != Mpi.Success) throw new DistributedException($"{what} failed: {ErrorText(code)}");
    }

    /// <summary>MPI's text for an error code (MPI_Error_string).</summary>
    internal static string ErrorText(int code)
    {
        var buffer = new byte[Mpi.MaxErrorString];
        fixed (byte* p = buffer)
        {
            if (Mpi.ErrorString(code, p, out int length) == Mpi.Success) return $"MPI error {code}: {Encoding.UTF8.GetString(buffer, 0, Math.Clamp(length, 0, buffer.Length)).Trim('\0', ' ', '\n')}";
        }
        return $"MPI error {code}";
    }

    /// <summary>Sets a variable in the native environment (which MPI and its transports read; .NET's own
    /// <see cref="Environment.SetEnvironmentVariable(string, string)"/> does not change it on Unix), unless it is already set.</summary>
    internal static void SetNativeDefault(string name, string value)
    {
        if (OperatingSystem.IsWindows() || Environment.GetEnvironmentVariable(name) is not null) return;
        SetEnv(name, value, 0);
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);
}
