using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Sidecar.Tests.Support;

/// <summary>
/// Captures everything the agent logs, at every level, with each message rendered and each structured
/// value and exception included: what a sink could ever see. Install it through
/// <see cref="AgentHarness.StartAsync"/>'s services callback (it replaces the agent's logger factory).
/// </summary>
public sealed class LogCapture : ILoggerFactory
{
    private readonly ConcurrentQueue<string> _entries = new();

    public IReadOnlyList<string> Entries => [.. _entries];

    /// <summary>Every entry, one per line.</summary>
    public string Text => string.Join('\n', _entries);

    public void Install(IServiceCollection services) => services.AddSingleton<ILoggerFactory>(this);

    public bool Contains(string text) => _entries.Any(e => e.Contains(text, StringComparison.Ordinal));

    public ILogger CreateLogger(string categoryName) => new CapturingLogger(categoryName, _entries);

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    private sealed class CapturingLogger(string category, ConcurrentQueue<string> entries) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var text = $"{logLevel} {category} [{eventId.Id}] {formatter(state, exception)}";
            if (state is IEnumerable<KeyValuePair<string, object?>> values)
            {
                text += " {" + string.Join(", ", values.Select(v => $"{v.Key}={v.Value}")) + "}";
            }

            if (exception is not null)
            {
                text += " " + exception;
            }

            entries.Enqueue(text);
        }
    }
}
