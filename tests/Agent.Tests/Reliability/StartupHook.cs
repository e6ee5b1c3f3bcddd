using System.Globalization;

#pragma warning disable CA1050 // a startup hook must be a type named StartupHook outside any namespace

/// <summary>
/// Loaded into the agent process by the soak (<c>DOTNET_STARTUP_HOOKS</c> = this assembly) to report
/// the agent's own GC heap, which no other process can read: whenever the file
/// <c>$SOAK_HEAP_FILE.request</c> appears, a full compacting collection is made and the heap still
/// alive (bytes) is written to <c>$SOAK_HEAP_FILE</c>. Does nothing without <c>SOAK_HEAP_FILE</c>.
/// </summary>
internal static class StartupHook
{
    public static void Initialize()
    {
        var path = Environment.GetEnvironmentVariable("SOAK_HEAP_FILE");
        if (string.IsNullOrEmpty(path))
        {
            return;
        }

        var thread = new Thread(() => Watch(path)) { IsBackground = true, Name = "soak heap probe" };
        thread.Start();
    }

    private static void Watch(string path)
    {
        var request = path + ".request";
        while (true)
        {
            Thread.Sleep(200);
            if (!File.Exists(request))
            {
                continue;
            }

            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            var info = GC.GetGCMemoryInfo();
            File.WriteAllText(path + ".tmp", string.Create(CultureInfo.InvariantCulture, $"{GC.GetTotalMemory(false)} {info.TotalCommittedBytes}"));
            File.Move(path + ".tmp", path, overwrite: true);
            File.Delete(request);
        }
    }
}
