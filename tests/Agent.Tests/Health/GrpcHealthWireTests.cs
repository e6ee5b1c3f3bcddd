using System.Collections;
using Microsoft.Extensions.Configuration;
using Sidecar.Configuration;
using Sidecar.Health;

namespace Sidecar.Tests.Health;

/// <summary>The pure pieces of the gRPC health check (docs/app-health.md#grpc-checks): the bytes sent, the answer read, the URL accepted.</summary>
[Trait("Category", "Unit")]
public sealed class GrpcHealthWireTests
{
    [Theory]
    [InlineData("", "0000000000")]
    [InlineData("orders", "00000000080A066F7264657273")]
    [InlineData("é", "00000000040A02C3A9")] // the name's UTF-8 length, not its char count
    public void EncodeRequest_IsThePrefixThenHealthCheckRequest(string service, string hex) =>
        Assert.Equal(hex, Convert.ToHexString(GrpcHealthWire.EncodeRequest(service)));

    [Fact]
    public void EncodeRequest_WritesALongNamesLengthAsAMultiByteVarint()
    {
        var frame = GrpcHealthWire.EncodeRequest(new string('s', 300));

        Assert.Equal("000000012F0AAC02", Convert.ToHexString(frame[..8])); // 300 = 0xAC 0x02; message 1 + 2 + 300 = 303 = 0x12F
        Assert.Equal(5 + 303, frame.Length);
    }

    [Theory]
    [InlineData("00000000020801", 1, null)] // SERVING
    [InlineData("00000000020802", 2, null)] // NOT_SERVING
    [InlineData("00000000020803", 3, null)] // SERVICE_UNKNOWN
    [InlineData("0000000000", 0, null)] // empty message: the proto3 default, UNKNOWN
    [InlineData("0000000009120361626308011801", 1, null)] // unknown fields (length-delimited 2, varint 3) skipped around status
    [InlineData("000000000B1103000000000000000801", 1, null)] // a fixed64 field skipped
    [InlineData("000000000715010000000801", 1, null)] // a fixed32 field skipped
    [InlineData("", null, "no message in the answer")]
    [InlineData("000000", null, "a truncated gRPC frame")]
    [InlineData("000000000308", null, "a truncated gRPC frame")]
    [InlineData("00000000010801", null, "more than one message in the answer")]
    [InlineData("01000000020801", null, "a compressed message (none was asked for)")]
    [InlineData("000000000108", null, "a malformed HealthCheckResponse")] // a tag without its value
    [InlineData("000000000212FF", null, "a malformed HealthCheckResponse")] // a length past the end
    [InlineData("00000000020F01", null, "a malformed HealthCheckResponse")] // wire type 7 does not exist
    public void DecodeStatus_ReadsTheStatusField(string hex, int? status, string? error)
    {
        var result = GrpcHealthWire.DecodeStatus(Convert.FromHexString(hex), out var why);

        Assert.Equal(status, result);
        Assert.Equal(error, why);
    }

    [Theory]
    [InlineData(200, "0", null, "00000000020801", "", true, "SERVING")]
    [InlineData(200, "0", null, "00000000020802", "", false, "NOT_SERVING")]
    [InlineData(200, "0", null, "0000000000", "", false, "UNKNOWN")]
    [InlineData(200, "0", null, "00000000020803", "orders", false, "SERVICE_UNKNOWN")]
    [InlineData(200, "0", null, "00000000020807", "", false, "status 7")]
    [InlineData(200, "0", null, "", "", false, "no message in the answer")]
    [InlineData(200, "12", "unknown%20service%20grpc.health.v1.Health", "", "", false, "UNIMPLEMENTED: the server has no grpc.health.v1.Health service (unknown service grpc.health.v1.Health)")]
    [InlineData(200, "12", null, "", "", false, "UNIMPLEMENTED: the server has no grpc.health.v1.Health service")]
    [InlineData(200, "5", "unknown service", "", "orders", false, "NOT_FOUND: the health service knows no service 'orders' (unknown service)")]
    [InlineData(200, "5", null, "", "", false, "NOT_FOUND")]
    [InlineData(200, "14", "db%0Agone", "", "", false, "UNAVAILABLE (db gone)")]
    [InlineData(200, "99", null, "", "", false, "code 99")]
    [InlineData(200, "x", null, "", "", false, "grpc-status 'x' is not a number")]
    [InlineData(200, null, null, "00000000020801", "", false, "no grpc-status in the answer (not a gRPC server?)")]
    [InlineData(404, null, null, "", "", false, "HTTP 404, not a gRPC answer")]
    public void Judge_SaysWhatTheAnswerMeans(int http, string? grpcStatus, string? grpcMessage, string body, string service, bool healthy, string detail) =>
        Assert.Equal((healthy, detail), GrpcHealthWire.Judge(http, grpcStatus, grpcMessage, Convert.FromHexString(body), service));

    [Fact]
    public void Judge_ShortensALongMessage()
    {
        var (_, detail) = GrpcHealthWire.Judge(200, "13", new string('x', 1000), [], "");

        Assert.Equal("INTERNAL (" + new string('x', 200) + "...)", detail);
    }

    [Theory]
    [InlineData("grpc://127.0.0.1:50051", "http", "127.0.0.1:50051", "")]
    [InlineData("grpc://127.0.0.1:50051/", "http", "127.0.0.1:50051", "")]
    [InlineData("GRPC://app.internal:9000/my.pkg.Orders", "http", "app.internal:9000", "my.pkg.Orders")]
    [InlineData("grpcs://[::1]:443/orders", "https", "[::1]:443", "orders")]
    [InlineData("grpc://localhost:1/a%20b", "http", "localhost:1", "a b")]
    public void GrpcUrls_AreAccepted(string text, string scheme, string authority, string service)
    {
        Assert.True(GrpcAppHealthProbe.TryParseUrl(text, out var url));
        Assert.Equal(scheme, url.Scheme == "grpcs" ? "https" : "http");
        Assert.Equal(authority, url.Authority);
        Assert.Equal(service, GrpcAppHealthProbe.ServiceOf(url));
    }

    [Theory]
    [InlineData("grpc://127.0.0.1")]
    [InlineData("grpc://127.0.0.1/orders")]
    [InlineData("grpc://127.0.0.1:/orders")]
    [InlineData("grpc://127.0.0.1:0")]
    [InlineData("grpc://127.0.0.1:70000")]
    [InlineData("grpc://user:secret@127.0.0.1:50051")]
    [InlineData("grpc://127.0.0.1:50051/a/b")]
    [InlineData("grpc://127.0.0.1:50051/a?x=1")]
    [InlineData("grpc://127.0.0.1:50051#x")]
    [InlineData("grpc:127.0.0.1:50051")]
    [InlineData("http://127.0.0.1:50051")]
    public void MalformedGrpcUrls_AreRefused(string text) =>
        Assert.False(GrpcAppHealthProbe.TryParseUrl(text, out _));

    [Theory]
    [InlineData("grpc://127.0.0.1")]
    [InlineData("grpcs://app/orders")]
    [InlineData("grpc://127.0.0.1:50051/a/b")]
    public void ABadGrpcHealthUrl_IsOneLineNamingTheVariable(string value)
    {
        var message = Assert.Throws<InvalidConfigurationException>(() => Load(new() { ["APP_PORT"] = "50051", ["APP_HEALTH_URL"] = value })).Message;

        Assert.Equal($"invalid configuration: APP_HEALTH_URL (App:Health:Url): '{value}' is not grpc://host:port or grpc://host:port/service (grpcs:// for TLS; nothing else)", message);
    }

    [Fact]
    public void AGrpcHealthUrl_IsReadAsIs_AndShownWithItsService()
    {
        var health = Load(new() { ["APP_PORT"] = "50051", ["APP_HEALTH_URL"] = "grpc://127.0.0.1:50051/orders" }).Health;

        Assert.Equal(new Uri("grpc://127.0.0.1:50051/orders"), health.Url);
        Assert.True(GrpcAppHealthProbe.IsGrpc(health.Url!));
        Assert.Equal("grpc://127.0.0.1:50051/orders", AppHealthMonitor.Shown(health.Url!));
        Assert.Equal("grpc://127.0.0.1:50051", AppHealthMonitor.Shown(new Uri("grpc://127.0.0.1:50051/")));
    }

    private static AgentOptions Load(Dictionary<string, string?> environment) =>
        AgentOptions.Load(new ConfigurationBuilder()
            .Add(new AgentVariablesConfigurationSource(new Hashtable(environment.ToDictionary(p => p.Key, p => (object?)p.Value))))
            .Build());
}
