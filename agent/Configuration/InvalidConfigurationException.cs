namespace Sidecar.Configuration;

/// <summary>Bad settings found at start: the agent prints <see cref="Exception.Message"/> as one line and exits with code 2.</summary>
internal sealed class InvalidConfigurationException(IReadOnlyList<string> errors)
    : Exception("invalid configuration: " + Platform.LogText.Printable(string.Join("; ", errors))) // one line, whatever an error quotes
{
    public IReadOnlyList<string> Errors { get; } = errors;
}
