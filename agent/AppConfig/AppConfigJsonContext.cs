using System.Text.Json;
using System.Text.Json.Serialization;

namespace Sidecar.AppConfig;

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(LastKnownGoodCopy))]
internal sealed partial class AppConfigJsonContext : JsonSerializerContext;
