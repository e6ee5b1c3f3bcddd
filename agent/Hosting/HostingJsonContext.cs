using System.Text.Json;
using System.Text.Json.Serialization;

namespace Sidecar.Hosting;

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = false)]
[JsonSerializable(typeof(ProblemBody))]
internal sealed partial class HostingJsonContext : JsonSerializerContext;
