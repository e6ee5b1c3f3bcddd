using Sidecar.Platform;

namespace Sidecar.Hosting;

internal static class PipelineExtensions
{
    /// <summary>What every request goes through first: its log line, the last-resort error answer, the public listener's guard.</summary>
    public static IApplicationBuilder UseAgentPipeline(this IApplicationBuilder app) => app
        .UseMiddleware<RequestLoggingMiddleware>()
        .UseMiddleware<ErrorHandlingMiddleware>()
        .UsePublicHealthGuard();
}
