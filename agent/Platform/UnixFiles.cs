using System.Runtime.InteropServices;

namespace Sidecar.Platform;

/// <summary>
/// The two facts about a file .NET does not expose: which user the agent runs as, and which user owns
/// a file. Linux only (<c>geteuid</c>, <c>statx</c>, whose buffer has the same layout on every
/// architecture); elsewhere <see cref="Supported"/> is false and nothing is checked.
/// </summary>
internal static partial class UnixFiles
{
    private const int AtFdCwd = -100;
    private const uint StatxType = 0x1;
    private const uint StatxMode = 0x2;
    private const uint StatxUid = 0x8;
    private const int FileTypeMask = 0xF000;
    private const int Directory = 0x4000;
    private const int RegularFile = 0x8000;

    public static bool Supported => OperatingSystem.IsLinux();

    /// <summary>The effective user id of the agent.</summary>
    public static uint EffectiveUserId => GetEffectiveUserId();

    /// <summary>The owner, permission bits and kind of <paramref name="path"/> (symbolic links followed); null when it does not exist or cannot be read.</summary>
    public static (uint Owner, UnixFileMode Mode, bool IsDirectory, bool IsFile)? Stat(string path)
    {
        if (Statx(AtFdCwd, path, 0, StatxType | StatxMode | StatxUid, out var buffer) != 0)
        {
            return null;
        }

        var type = buffer.Mode & FileTypeMask;
        return (buffer.Uid, (UnixFileMode)(buffer.Mode & 0xFFF), type == Directory, type == RegularFile);
    }

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEffectiveUserId();

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Statx(int directoryFd, string path, int flags, uint mask, out StatxBuffer buffer);

    // struct statx (linux/stat.h): the first fields, padded to its full 256 bytes.
    [StructLayout(LayoutKind.Sequential, Size = 256)]
    private struct StatxBuffer
    {
        public uint Mask;
        public uint BlockSize;
        public ulong Attributes;
        public uint Links;
        public uint Uid;
        public uint Gid;
        public ushort Mode;
    }
}
