namespace KillToken.Storage.LocalFiles;

/// <summary>
/// The data folder holds the embedded store, the local vault and the generated server keys: readable by the user who
/// runs the gateway and no one else. The folder is created 700 and every file in it 600; a file an earlier version
/// created wider is narrowed when it is next opened. (No-ops on Windows, where ACLs of the user profile apply.)
/// </summary>
public static class PrivateFiles
{
    public const UnixFileMode FolderMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    public const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Creates the folder (and missing parents) owner-only; an existing folder is left as the user made it.</summary>
    public static void CreateFolder(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
        }
        else if (!Directory.Exists(path))
        {
            Directory.CreateDirectory(path, FolderMode);
        }
    }

    /// <summary>
    /// Makes sure the file exists and is owner-only before a library opens it. SQLite gives its <c>-wal</c> and <c>-shm</c>
    /// files the database file's permissions, so a database created here keeps all three at 600.
    /// </summary>
    public static void PrepareFile(string path)
    {
        TryCreate(path, []);
        Narrow(path);
    }

    /// <summary>
    /// Creates the file owner-only (in an owner-only folder) holding <paramref name="content"/>; false when it already
    /// exists, e.g. because another process starting at the same time created it first.
    /// </summary>
    public static bool TryCreate(string path, ReadOnlySpan<byte> content)
    {
        CreateFolder(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var options = new FileStreamOptions { Mode = System.IO.FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = FileMode;
        }

        try
        {
            using var stream = new FileStream(path, options);
            stream.Write(content);
            return true;
        }
        catch (IOException) when (File.Exists(path))
        {
            return false;
        }
    }

    /// <summary>Narrows an existing file to 600 (the companions of a database an older version created 644).</summary>
    public static void Narrow(string path)
    {
        if (!OperatingSystem.IsWindows() && File.Exists(path) && (File.GetUnixFileMode(path) & ~FileMode) != 0)
        {
            File.SetUnixFileMode(path, FileMode);
        }
    }

    /// <summary>True when the folder's group or others may read, write or enter it (worth a warning at start-up).</summary>
    public static bool IsOpenToOthers(string path) =>
        !OperatingSystem.IsWindows() && Directory.Exists(path) && (File.GetUnixFileMode(path) & ~FolderMode) != 0;
}
