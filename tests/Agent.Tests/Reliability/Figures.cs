using System.Globalization;
using System.Text;
using Xunit.Abstractions;

namespace Sidecar.Tests.Reliability;

/// <summary>
/// The figures of one scenario: what was sent, what succeeded, what failed and what was lost,
/// printed to the test's output and appended as one row to <c>TestResults/reliability.md</c> next to
/// the test assembly (the file is started afresh by the first scenario of a test run), so one full
/// run leaves every scenario's figures in one table.
/// </summary>
internal sealed class Figures(string scenario)
{
    private static readonly Lock FileLock = new();
    private static bool s_started;

    private readonly List<string> _notes = [];

    public static string ResultsFile => Path.Combine(AppContext.BaseDirectory, "TestResults", "reliability.md");

    public string Scenario { get; } = scenario;

    public long Sent { get; set; }

    public long Succeeded { get; set; }

    public long Failed { get; set; }

    /// <summary>What the scenario lost (requests, config values, registrations...); "0" unless set.</summary>
    public string Lost { get; set; } = "0";

    public Figures Note(string note)
    {
        _notes.Add(note);
        return this;
    }

    public Figures Note(FormattableString note) => Note(note.ToString(CultureInfo.InvariantCulture));

    /// <summary>Adds a load run's counts to the totals and notes its break-down.</summary>
    public Figures Add(LoadResult result, string? label = null)
    {
        Sent += result.Sent;
        Succeeded += result.Succeeded;
        Failed += result.Failed;
        return Note((label is null ? "" : label + ": ") + result.Describe());
    }

    /// <summary>Prints the figures to the test output and appends them to the results file.</summary>
    public void Report(ITestOutputHelper output)
    {
        var notes = string.Join("; ", _notes);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"[{Scenario}] sent {Sent}, succeeded {Succeeded}, failed {Failed}, lost {Lost}{(notes.Length > 0 ? "; " + notes : "")}"));
        var row = string.Create(CultureInfo.InvariantCulture, $"| {Scenario} | {Sent} | {Succeeded} | {Failed} | {Lost} | {notes.Replace("|", "/", StringComparison.Ordinal)} |");
        lock (FileLock)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(ResultsFile)!);
            if (!s_started)
            {
                s_started = true;
                var header = new StringBuilder()
                    .Append(CultureInfo.InvariantCulture, $"# Reliability figures, run of {DateTimeOffset.UtcNow:u} on {Environment.ProcessorCount} cores\n\n")
                    .Append("| scenario | sent | succeeded | failed | lost | details |\n")
                    .Append("|---|---:|---:|---:|---|---|\n");
                File.WriteAllText(ResultsFile, header.ToString());
            }

            File.AppendAllText(ResultsFile, row + "\n");
        }
    }
}
