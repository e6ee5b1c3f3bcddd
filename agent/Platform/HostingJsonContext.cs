using System.Text.Json;
using System.Text.Json.Serialization;

namespace Sidecar.Platform;

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = false)]
[JsonSerializable(typeof(ProblemBody))]
internal sealed partial class HostingJsonContext : JsonSerializerContext;
