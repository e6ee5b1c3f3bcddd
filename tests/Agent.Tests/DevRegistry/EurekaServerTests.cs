using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Sidecar.Discovery;
using Sidecar.Health;
using Sidecar.Tests.Fakes;

namespace Sidecar.Tests.DevRegistry;

/// <summary>
/// The server logic behind the fake Eureka and <c>agent registry</c> is as strict as a real server
/// (docs/eureka.md#server-rules-dev-registry-and-fake), spoken to over HTTP.
/// </summary>
public sealed class EurekaServerTests : IAsyncLifetime
{
    private const string Body = """
        {"instance":{"instanceId":"host-a:orders:8080","app":"ORDERS","hostName":"host-a","ipAddr":"10.0.0.5","status":"UP",
         "overriddenstatus":"UNKNOWN","port":{"$":8080,"@enabled":"true"},"securePort":{"$":443,"@enabled":"false"},"vipAddress":"orders",
         "dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"},
         "leaseInfo":{"renewalIntervalInSecs":30,"durationInSecs":90},"metadata":{"zone":"z1"},
         "lastUpdatedTimestamp":"1000","lastDirtyTimestamp":"1000"}}
        """;

    private readonly Microsoft.Extensions.Time.Testing.FakeTimeProvider _time = Fakes.RegisteredAgent.NewClock();
    private FakeEureka _eureka = null!;
    private HttpClient _json = null!;

    public async Task InitializeAsync()
    {
        _eureka = await FakeEureka.StartAsync(_time, deltaRetention: TimeSpan.FromMinutes(3));
        _json = new HttpClient { BaseAddress = _eureka.ServiceUrl };
        _json.DefaultRequestHeaders.Accept.ParseAdd("application/json");
    }

    public async Task DisposeAsync()
    {
        _json.Dispose();
        await _eureka.DisposeAsync();
    }

    private Task<HttpResponseMessage> Register(string body, string app = "ORDERS", string contentType = "application/json") =>
        _json.PostAsync($"apps/{app}", new StringContent(body, Encoding.UTF8, contentType));

    private async Task<EurekaApplications> Applications(string path = "apps/") =>
        EurekaJsonReader.ReadApplications(await _json.GetByteArrayAsync(path));

    [Fact]
    public async Task Register_Answers204WithNoBody_AndUpperCasesTheApp()
    {
        using var response = await Register(Body.Replace("\"app\":\"ORDERS\"", "\"app\":\"orders\"", StringComparison.Ordinal), app: "orders");

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
        var instance = Assert.Single(Assert.Single((await Applications()).Applications).Instances);
        Assert.Equal("ORDERS", instance.App);
        Assert.Equal(EurekaActionType.Added, instance.ActionType);
        Assert.Equal(_time.GetUtcNow().ToUnixTimeMilliseconds(), instance.LastUpdatedTimestamp);
    }

    [Theory]
    [InlineData("\"hostName\":\"host-a\",", "Missing hostname")]
    [InlineData("\"ipAddr\":\"10.0.0.5\",", "Missing ip address")]
    [InlineData("\"app\":\"ORDERS\",", "Missing appName")]
    [InlineData("\"dataCenterInfo\":{\"@class\":\"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo\",\"name\":\"MyOwn\"},", "Missing dataCenterInfo")]
    [InlineData("\"name\":\"MyOwn\"", "Missing dataCenterInfo Name")]
    public async Task Register_WithoutARequiredField_Answers400(string removed, string message)
    {
        using var response = await Register(Body.Replace(removed, "", StringComparison.Ordinal).Replace(",}", "}", StringComparison.Ordinal));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(message, await response.Content.ReadAsStringAsync());
        Assert.Empty(_eureka.Registry.Instances());
    }

    [Fact]
    public async Task Register_WithoutInstanceIdOrHostName_Answers400MissingInstanceId()
    {
        using var response = await Register(Body.Replace("\"instanceId\":\"host-a:orders:8080\",", "", StringComparison.Ordinal).Replace("\"hostName\":\"host-a\",", "", StringComparison.Ordinal));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("Missing instanceId", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Register_WithoutInstanceId_IsKnownByItsHostName_AsEurekaJsClientRegisters()
    {
        // eureka-js-client's README example: no instanceId; it then renews and cancels under apps/{APP}/{hostName}.
        const string jsClient = """
            {"instance":{"app":"jqservice","hostName":"localhost","ipAddr":"127.0.0.1","port":{"$":8080,"@enabled":"true"},
             "vipAddress":"jq.test.something.com","dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"},
             "status":"UP"}}
            """;

        using var response = await Register(jsClient, app: "jqservice");
        using var renew = await _json.PutAsync("apps/JQSERVICE/localhost", null);
        using var byId = await _json.GetAsync("instances/localhost");

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(HttpStatusCode.OK, renew.StatusCode);
        Assert.Equal(HttpStatusCode.OK, byId.StatusCode);
        var instance = EurekaJsonReader.ReadInstanceBody(await byId.Content.ReadAsByteArrayAsync());
        Assert.Equal("localhost", instance.InstanceId);
        Assert.Equal("JQSERVICE", instance.App);
        using var cancel = await _json.DeleteAsync("apps/JQSERVICE/localhost");
        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        Assert.Empty(_eureka.Registry.Instances());
    }

    [Fact]
    public async Task Register_AnAmazonInstanceWithoutInstanceId_IsKnownByItsInstanceId()
    {
        var amazon = Body.Replace("\"instanceId\":\"host-a:orders:8080\",", "", StringComparison.Ordinal).Replace(
            "{\"@class\":\"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo\",\"name\":\"MyOwn\"}",
            "{\"@class\":\"com.netflix.appinfo.AmazonInfo\",\"name\":\"Amazon\",\"metadata\":{\"instance-id\":\"i-0abc\",\"availability-zone\":\"us-east-1a\"}}",
            StringComparison.Ordinal);

        using var response = await Register(amazon);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        var instance = _eureka.Instance("ORDERS", "i-0abc");
        Assert.NotNull(instance);
        Assert.Equal("us-east-1a", instance.DataCenterMetadata["availability-zone"]);
    }

    [Fact]
    public async Task InstancesById_AnswersTheInstanceWhateverItsApp_Or404()
    {
        await Register(Body);

        using var found = await _json.GetAsync("instances/host-a%3Aorders%3A8080");
        using var xml = await new HttpClient().GetAsync(new Uri(_eureka.ServiceUrl, "instances/host-a:orders:8080"));
        using var missing = await _json.GetAsync("instances/nobody");

        Assert.Equal(HttpStatusCode.OK, found.StatusCode);
        Assert.Equal("ORDERS", EurekaJsonReader.ReadInstanceBody(await found.Content.ReadAsByteArrayAsync()).App);
        Assert.Contains("<instance>", await xml.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task StatusUpdate_ToTheCurrentStatus_IsANoOp_ThatRenewsTheLease()
    {
        // Netflix's statusUpdate: only a different status stores an override and queues a change.
        await Register(Body);
        var deltaBefore = (await Applications("apps/delta")).AllInstances().Single().LastUpdatedTimestamp;
        _time.Advance(TimeSpan.FromSeconds(80));

        using var same = await _json.PutAsync("apps/ORDERS/host-a:orders:8080/status?value=UP&lastDirtyTimestamp=1000", null);
        _time.Advance(TimeSpan.FromSeconds(80)); // 160 s after the registration: expired, but for the renew the no-op made

        Assert.Equal(HttpStatusCode.OK, same.StatusCode);
        var instance = _eureka.Instance("ORDERS", "host-a:orders:8080");
        Assert.NotNull(instance);
        Assert.Equal(InstanceStatus.Unknown, instance.OverriddenStatus);
        Assert.Equal(deltaBefore, Assert.Single((await Applications("apps/delta")).AllInstances()).LastUpdatedTimestamp);

        // So an UP override never sticks: a DOWN from the client still wins afterwards.
        await Register(Body.Replace("\"status\":\"UP\"", "\"status\":\"DOWN\"", StringComparison.Ordinal).Replace("\"1000\"", "\"2000\"", StringComparison.Ordinal));
        Assert.Equal(InstanceStatus.Down, Status());
    }

    [Fact]
    public async Task RemovingAnOverride_ThatIsNotThere_ChangesNothing()
    {
        await Register(Body);

        using var response = await _json.DeleteAsync("apps/ORDERS/host-a:orders:8080/status");

        // Without an override to remove, Netflix leaves the status alone (no UNKNOWN, so the next renew still works).
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(InstanceStatus.Up, Status());
        using var renew = await _json.PutAsync("apps/ORDERS/host-a:orders:8080?status=UP", null);
        Assert.Equal(HttpStatusCode.OK, renew.StatusCode);
    }

    [Fact]
    public async Task Register_UnderAnotherAppName_Answers400()
    {
        using var response = await Register(Body, app: "PAYMENTS");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("Mismatched appName, expecting PAYMENTS but was ORDERS", await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("not json", "application/json", HttpStatusCode.BadRequest)]
    [InlineData("<instance/>", "application/xml", HttpStatusCode.UnsupportedMediaType)]
    public async Task Register_WithABodyItCannotRead_IsRefused(string body, string contentType, HttpStatusCode expected)
    {
        using var response = await Register(body, contentType: contentType);

        Assert.Equal(expected, response.StatusCode);
    }

    [Fact]
    public async Task RenewAndCancel_OfAnUnknownId_Answer404()
    {
        using var renew = await _json.PutAsync("apps/ORDERS/nobody?status=UP&lastDirtyTimestamp=1", null);
        using var cancel = await _json.DeleteAsync("apps/ORDERS/nobody");
        using var status = await _json.PutAsync("apps/ORDERS/nobody/status?value=OUT_OF_SERVICE", null);

        Assert.Equal(HttpStatusCode.NotFound, renew.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, cancel.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, status.StatusCode);
    }

    [Fact]
    public async Task Ids_AreUrlDecoded_EncodedAndRawAreTheSameInstance()
    {
        await Register(Body);

        using var encoded = await _json.PutAsync("apps/ORDERS/host-a%3Aorders%3A8080?status=UP&lastDirtyTimestamp=1000", null);
        using var raw = await _json.PutAsync("apps/orders/host-a:orders:8080?status=UP&lastDirtyTimestamp=1000", null);

        Assert.Equal(HttpStatusCode.OK, encoded.StatusCode);
        Assert.Equal(HttpStatusCode.OK, raw.StatusCode);
    }

    [Fact]
    public async Task Answers_AreXml_UnlessJsonIsAsked()
    {
        await Register(Body);
        using var plain = new HttpClient { BaseAddress = _eureka.ServiceUrl };

        using var xml = await plain.GetAsync("apps/");
        using var json = await _json.GetAsync("apps/");

        Assert.Equal("application/xml", xml.Content.Headers.ContentType?.MediaType);
        var text = await xml.Content.ReadAsStringAsync();
        Assert.Contains("<applications><versions__delta>", text, StringComparison.Ordinal);
        Assert.Contains("<port enabled=\"true\">8080</port>", text, StringComparison.Ordinal);
        Assert.Equal("application/json", json.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task WithRefuseXml_AClientNotAskingForJson_Gets406()
    {
        _eureka.Handler.RefuseXml = true;
        using var plain = new HttpClient { BaseAddress = _eureka.ServiceUrl };
        plain.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("*/*"));

        using var response = await plain.GetAsync("apps/");

        Assert.Equal(HttpStatusCode.NotAcceptable, response.StatusCode);
    }

    [Fact]
    public async Task AppsAndAppsSlash_BothAnswerTheRegistry()
    {
        await Register(Body);

        Assert.Single((await Applications("apps")).Applications);
        Assert.Single((await Applications("apps/")).Applications);
    }

    [Fact]
    public async Task TheHash_IsOverTheWholeRegistry_InFullAnswersAndDeltas()
    {
        var longLease = Body.Replace("\"durationInSecs\":90", "\"durationInSecs\":600", StringComparison.Ordinal);
        await Register(longLease);
        await Register(longLease.Replace("host-a:orders:8080", "host-b:orders:8080", StringComparison.Ordinal).Replace("\"status\":\"UP\"", "\"status\":\"DOWN\"", StringComparison.Ordinal));
        _time.Advance(TimeSpan.FromMinutes(5)); // both changes are out of the delta window now, the leases are not
        await _json.PutAsync("apps/ORDERS/host-a:orders:8080?status=UP&lastDirtyTimestamp=1000", null);

        Assert.Equal("DOWN_1_UP_1_", (await Applications()).AppsHashCode);
        var delta = await Applications("apps/delta");
        Assert.Equal("DOWN_1_UP_1_", delta.AppsHashCode);
        Assert.Empty(delta.Applications);
    }

    [Fact]
    public async Task TheDelta_KeepsChangesForTheRetentionWindow_WithTheirActionType()
    {
        await Register(Body);
        await _json.PutAsync("apps/ORDERS/host-a:orders:8080/status?value=OUT_OF_SERVICE&lastDirtyTimestamp=2000", null);
        await _json.DeleteAsync("apps/ORDERS/host-a:orders:8080");

        var delta = await Applications("apps/delta");
        Assert.Equal([EurekaActionType.Deleted], delta.AllInstances().Select(i => i.ActionType));
        Assert.Equal([EurekaActionType.Deleted], (await Applications("apps/delta")).AllInstances().Select(i => i.ActionType));

        _time.Advance(EurekaServerRetention + TimeSpan.FromSeconds(1));
        Assert.Empty((await Applications("apps/delta")).Applications);
    }

    [Fact]
    public async Task TheDelta_ListsEachInstanceOnce_InItsLatestStateWithItsLatestAction()
    {
        var other = Body.Replace("host-a:orders:8080", "host-b:orders:8080", StringComparison.Ordinal);
        await Register(Body);
        await _json.PutAsync("apps/ORDERS/host-a:orders:8080/status?value=OUT_OF_SERVICE&lastDirtyTimestamp=2000", null);
        await Register(other);
        await _json.PutAsync("apps/ORDERS/host-b:orders:8080/metadata?team=payments", null);
        await Register(other.Replace("\"1000\"", "\"3000\"", StringComparison.Ordinal)); // registered again: ADDED is its latest action

        var instances = (await Applications("apps/delta")).AllInstances().ToList();

        // Netflix's getApplicationDeltas keys the queued changes by id: ADDED then MODIFIED is one entry.
        Assert.Equal(["host-a:orders:8080", "host-b:orders:8080"], instances.Select(i => i.InstanceId));
        Assert.Equal(EurekaActionType.Modified, instances[0].ActionType);
        Assert.Equal(InstanceStatus.OutOfService, instances[0].Status);
        Assert.Equal(InstanceStatus.OutOfService, instances[0].OverriddenStatus);
        Assert.Equal(EurekaActionType.Added, instances[1].ActionType);
        Assert.Equal(3000, instances[1].LastDirtyTimestamp);
        Assert.False(instances[1].Metadata.ContainsKey("team")); // the re-registration replaced the instance the metadata update changed
    }

    [Fact]
    public async Task OneInstance_IsAnsweredAsTheInstanceAlone_InJsonAndInXml()
    {
        await Register(Body);
        await _json.PutAsync("apps/ORDERS/host-a:orders:8080/status?value=OUT_OF_SERVICE&lastDirtyTimestamp=2000", null);
        using var plain = new HttpClient { BaseAddress = _eureka.ServiceUrl };

        var json = await _json.GetByteArrayAsync("apps/ORDERS/host-a%3Aorders%3A8080");
        var xml = await plain.GetStringAsync("apps/ORDERS/host-a:orders:8080");

        // Netflix's InstanceResource: {"instance":{...}} and <instance>, no applications around it.
        using (var document = System.Text.Json.JsonDocument.Parse(json))
        {
            Assert.Equal(["instance"], document.RootElement.EnumerateObject().Select(p => p.Name));
        }

        var instance = EurekaJsonReader.ReadInstanceBody(json);
        Assert.Equal("host-a:orders:8080", instance.InstanceId);
        Assert.Equal("ORDERS", instance.App);
        Assert.Equal(InstanceStatus.OutOfService, instance.Status);
        Assert.Equal(InstanceStatus.OutOfService, instance.OverriddenStatus);
        Assert.Equal(8080, instance.Port);
        Assert.Equal("z1", instance.Metadata["zone"]);
        Assert.Matches(@"^<\?xml[^>]*\?><instance><instanceId>host-a:orders:8080</instanceId>", xml);
        Assert.Contains("<overriddenstatus>OUT_OF_SERVICE</overriddenstatus>", xml, StringComparison.Ordinal);
        using var unknown = await _json.GetAsync("apps/ORDERS/nobody");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    [Fact]
    public async Task Answers_AreGzipped_ForAClientThatAcceptsGzip_AndOnlyThen()
    {
        await Register(Body);
        using var gzipClient = new HttpClient(new HttpClientHandler { AutomaticDecompression = DecompressionMethods.None }) { BaseAddress = _eureka.ServiceUrl };
        gzipClient.DefaultRequestHeaders.Accept.ParseAdd("application/json");
        gzipClient.DefaultRequestHeaders.AcceptEncoding.ParseAdd("gzip");
        using var refusing = new HttpClient(new HttpClientHandler { AutomaticDecompression = DecompressionMethods.None }) { BaseAddress = _eureka.ServiceUrl };
        refusing.DefaultRequestHeaders.Accept.ParseAdd("application/json");
        refusing.DefaultRequestHeaders.AcceptEncoding.ParseAdd("gzip;q=0");

        using var gzipped = await gzipClient.GetAsync("apps/");
        using var plain = await refusing.GetAsync("apps/");

        Assert.Equal(["gzip"], gzipped.Content.Headers.ContentEncoding);
        await using var compressed = await gzipped.Content.ReadAsStreamAsync();
        await using var gunzip = new System.IO.Compression.GZipStream(compressed, System.IO.Compression.CompressionMode.Decompress);
        using var body = new MemoryStream();
        await gunzip.CopyToAsync(body);
        Assert.Equal("host-a:orders:8080", Assert.Single(EurekaJsonReader.ReadApplications(body.ToArray()).AllInstances()).InstanceId);
        Assert.Empty(plain.Content.Headers.ContentEncoding);
        Assert.Single(EurekaJsonReader.ReadApplications(await plain.Content.ReadAsByteArrayAsync()).AllInstances());
    }

    [Fact]
    public async Task ALeaseNotRenewedWithinItsDuration_Expires()
    {
        await Register(Body.Replace("\"durationInSecs\":90", "\"durationInSecs\":10", StringComparison.Ordinal));

        _time.Advance(TimeSpan.FromSeconds(9));
        using (var renew = await _json.PutAsync("apps/ORDERS/host-a:orders:8080?status=UP&lastDirtyTimestamp=1000", null))
        {
            Assert.Equal(HttpStatusCode.OK, renew.StatusCode);
        }

        _time.Advance(TimeSpan.FromSeconds(11));
        using var late = await _json.PutAsync("apps/ORDERS/host-a:orders:8080?status=UP&lastDirtyTimestamp=1000", null);
        Assert.Equal(HttpStatusCode.NotFound, late.StatusCode);
        Assert.Empty((await Applications()).Applications);
        Assert.Equal(EurekaActionType.Deleted, (await Applications("apps/delta")).AllInstances().Last().ActionType);
    }

    [Fact]
    public async Task ARenewWithANewerDirtyTimestamp_Answers404_SoTheClientRegistersAgain()
    {
        await Register(Body);

        using var response = await _json.PutAsync("apps/ORDERS/host-a:orders:8080?status=UP&lastDirtyTimestamp=2000", null);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task StatusResolution_AnOverrideWinsOverAClientUp_ButAClientDownWins()
    {
        await Register(Body);
        using (var overridden = await _json.PutAsync("apps/ORDERS/host-a:orders:8080/status?value=OUT_OF_SERVICE&lastDirtyTimestamp=1000", null))
        {
            Assert.Equal(HttpStatusCode.OK, overridden.StatusCode);
        }

        await Register(Body.Replace("\"1000\"", "\"3000\"", StringComparison.Ordinal));
        Assert.Equal(InstanceStatus.OutOfService, Status());

        await Register(Body.Replace("\"status\":\"UP\"", "\"status\":\"DOWN\"", StringComparison.Ordinal).Replace("\"1000\"", "\"4000\"", StringComparison.Ordinal));
        Assert.Equal(InstanceStatus.Down, Status());
    }

    [Fact]
    public async Task StatusResolution_AClientCannotMoveItselfFromUpToOutOfServiceByRegistering()
    {
        await Register(Body);

        await Register(Body.Replace("\"status\":\"UP\"", "\"status\":\"OUT_OF_SERVICE\"", StringComparison.Ordinal).Replace("\"1000\"", "\"2000\"", StringComparison.Ordinal));

        Assert.Equal(InstanceStatus.Up, Status());
    }

    [Fact]
    public async Task TheOverrideValue_IsCaseSensitive()
    {
        await Register(Body);

        using var response = await _json.PutAsync("apps/ORDERS/host-a:orders:8080/status?value=out_of_service", null);

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal(InstanceStatus.Up, Status());
    }

    [Fact]
    public async Task RemovingTheOverride_WithAValue_SetsIt_WithoutOne_TheNextRenewIs404()
    {
        await Register(Body);
        await _json.PutAsync("apps/ORDERS/host-a:orders:8080/status?value=OUT_OF_SERVICE", null);

        using (var withValue = await _json.DeleteAsync("apps/ORDERS/host-a:orders:8080/status?value=UP"))
        {
            Assert.Equal(HttpStatusCode.OK, withValue.StatusCode);
        }

        Assert.Equal(InstanceStatus.Up, Status());
        Assert.Equal(InstanceStatus.Unknown, _eureka.Instance("ORDERS", "host-a:orders:8080")!.OverriddenStatus);

        await _json.PutAsync("apps/ORDERS/host-a:orders:8080/status?value=OUT_OF_SERVICE", null);
        await _json.DeleteAsync("apps/ORDERS/host-a:orders:8080/status");
        Assert.Equal(InstanceStatus.Unknown, Status());
        using var renew = await _json.PutAsync("apps/ORDERS/host-a:orders:8080?status=UP", null);
        Assert.Equal(HttpStatusCode.NotFound, renew.StatusCode);
    }

    [Fact]
    public async Task Vips_AnswerTheApplicationsBehindThem_OrNone()
    {
        await Register(Body);

        Assert.Single((await Applications("vips/ORDERS")).Applications);
        Assert.Empty((await Applications("vips/nothing")).Applications);
    }

    [Fact]
    public async Task Metadata_CanBeUpdated()
    {
        await Register(Body);

        using var response = await _json.PutAsync("apps/ORDERS/host-a:orders:8080/metadata?team=payments", null);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("payments", _eureka.Instance("ORDERS", "host-a:orders:8080")!.Metadata["team"]);
        Assert.Equal("z1", _eureka.Instance("ORDERS", "host-a:orders:8080")!.Metadata["zone"]);
    }

    [Fact]
    public async Task UnknownPathsAndMethods_AreRefused()
    {
        using var unknown = await _json.GetAsync("nothing/here");
        using var method = await _json.PatchAsync("apps/ORDERS", null);

        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, method.StatusCode);
    }

    private static TimeSpan EurekaServerRetention => Sidecar.DevRegistry.EurekaServerRegistry.DefaultDeltaRetention;

    private InstanceStatus? Status() => _eureka.Instance("ORDERS", "host-a:orders:8080")?.Status;
}
