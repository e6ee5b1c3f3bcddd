using System.Net;
using System.Text;
using Sidecar.Forwarding.Http1;

namespace Sidecar.Tests.Forwarding.Http1;

/// <summary>
/// A connection's previous answer's value strings handed out again for the same bytes (docs/performance.md#what-was-tuned):
/// the same instance for the same name and bytes, a new and correct string otherwise, bounded whatever is sent.
/// </summary>
public sealed class ResponseValuesTests
{
    private const string NginxHead =
        "HTTP/1.1 200 OK\r\nServer: nginx/1.27.3\r\nDate: Thu, 03 Dec 2026 12:00:00 GMT\r\nContent-Type: text/html\r\n" +
        "Content-Length: 1024\r\nLast-Modified: Wed, 02 Dec 2026 08:00:00 GMT\r\nConnection: keep-alive\r\n" +
        "ETag: \"674d6c80-400\"\r\nAccept-Ranges: bytes\r\n\r\n";

    public static TheoryData<string, string, string, string, bool> Table => new()
    {
        // first name, first value, second name, second value, the first string handed out again
        { "Server", "nginx", "Server", "nginx", true },
        { "Server", "nginx", "Server", "nginy", false },
        { "Server", "nginx", "Server", "ngin", false }, // shorter
        { "Server", "nginx", "Server", "nginxx", false }, // longer
        { "Server", "nginx", "Via", "nginx", false }, // another name
        { "Server", "", "Server", "", true },
        { "X-Latin", "caf\u00e9", "X-Latin", "caf\u00e9", true },
        { "X-Latin", "caf\u00e9", "X-Latin", "caf\u00e8", false },
        { "X-Latin", "caf\u00e9", "X-Latin", "cafe", false },
        { "X-Latin", "cafe", "X-Latin", "caf\u00e9", false },
        { "X-Latin", "\u00ff\u0080", "X-Latin", "\u00ff\u0080", true },
        { "Date", "Thu, 03 Dec 2026 12:00:00 GMT", "Date", "Thu, 03 Dec 2026 12:00:01 GMT", false },
    };

    [Theory]
    [Trait("Category", "Unit")]
    [MemberData(nameof(Table))]
    public void AValue_IsTheSameString_OnlyForTheSameNameAndBytes(string firstName, string firstValue, string secondName, string secondValue, bool same)
    {
        var values = new ResponseValues();
        var first = values.Get(0, Name(firstName), Encoding.Latin1.GetBytes(firstValue));
        var second = values.Get(0, Name(secondName), Encoding.Latin1.GetBytes(secondValue));

        Assert.Equal(firstValue, first);
        Assert.Equal(secondValue, second);
        Assert.Equal(same, ReferenceEquals(first, second));

        // The string handed out last is the one remembered.
        Assert.Same(second, values.Get(0, Name(secondName), Encoding.Latin1.GetBytes(secondValue)));
    }

    [Theory]
    [Trait("Category", "Unit")]
    [InlineData("abc", "abc", true)]
    [InlineData("abc", "abd", false)]
    [InlineData("abc", "ab", false)]
    [InlineData("", "", true)]
    [InlineData("caf\u00e9", "caf\u00e9", true)]
    [InlineData("caf\u00e9", "cafe", false)]
    [InlineData("caf\u0169", "caf\u00e9", false)] // a character over 255 never equals a byte
    public void SameText_ComparesCharactersWithLatin1Bytes(string text, string latin1, bool expected) =>
        Assert.Equal(expected, ResponseValues.SameText(text, Encoding.Latin1.GetBytes(latin1)));

    [Fact]
    [Trait("Category", "Unit")]
    public void AFieldMoreBeforeOthers_FindsThemByName_AndANamesSecondFieldKeepsItsOwn()
    {
        var values = new ResponseValues();
        var server = values.Get(0, "Server", "nginx"u8);
        var first = values.Get(1, "Set-Cookie", "a=1"u8);
        var second = values.Get(2, "Set-Cookie", "b=2"u8);

        // The next answer has a field more at the front: the others are found where they were.
        Assert.Equal("x", values.Get(0, "Vary", "x"u8));
        Assert.Same(first, values.Get(2, "Set-Cookie", "a=1"u8));
        Assert.Same(second, values.Get(3, "Set-Cookie", "b=2"u8));
        Assert.Same(server, values.Get(4, "Server", "nginx"u8));
    }

    [Fact]
    [Trait("Category", "Unit")]
    public void ItIsBounded_ALongValueAndAFieldPastTheSlots_AreNotRemembered()
    {
        var values = new ResponseValues();
        var longValue = new string('a', ResponseValues.MaxLength + 1);
        var first = values.Get(0, "X-Long", Encoding.ASCII.GetBytes(longValue));
        var again = values.Get(0, "X-Long", Encoding.ASCII.GetBytes(longValue));

        Assert.Equal(longValue, again);
        Assert.NotSame(first, again);

        var atLimit = new string('b', ResponseValues.MaxLength);
        Assert.Same(values.Get(0, "X-Limit", Encoding.ASCII.GetBytes(atLimit)), values.Get(0, "X-Limit", Encoding.ASCII.GetBytes(atLimit)));

        // Every slot taken: a field past them is made anew each time, and the ones remembered stay.
        values = new ResponseValues();
        var kept = Enumerable.Range(0, ResponseValues.Slots).Select(i => values.Get(i, $"X-{i}", "v"u8)).ToArray();
        var past = values.Get(ResponseValues.Slots, "X-Late", "v"u8);
        Assert.Equal("v", past);
        Assert.NotSame(past, values.Get(ResponseValues.Slots, "X-Late", "v"u8));
        for (var i = 0; i < ResponseValues.Slots; i++)
        {
            Assert.Same(kept[i], values.Get(i, $"X-{i}", "v"u8));
        }
    }

    [Fact]
    [Trait("Category", "Unit")]
    public void AParsedAnswer_TakesTheValuesOfThePreviousOne_AndAllocatesNoValueStrings()
    {
        var head = Encoding.Latin1.GetBytes(NginxHead);
        var values = new ResponseValues();
        using var first = new LeanResponse();
        Assert.Null(ResponseHeadParser.Parse(head, false, first, out _, values));

        using var fresh = new LeanResponse();
        var before = GC.GetAllocatedBytesForCurrentThread();
        ResponseHeadParser.Parse(head, false, fresh, out _);
        var withoutValues = GC.GetAllocatedBytesForCurrentThread() - before;

        using var second = new LeanResponse();
        before = GC.GetAllocatedBytesForCurrentThread();
        ResponseHeadParser.Parse(head, false, second, out _, values);
        var withValues = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(first.Fields.ToArray(), second.Fields.ToArray());
        Assert.Equal(fresh.Fields.ToArray(), second.Fields.ToArray());
        for (var i = 0; i < first.Fields.Length; i++)
        {
            Assert.Same(first.Fields[i].Value, second.Fields[i].Value);
        }

        // Eight value strings (about 450 bytes) made by the parse without the connection's values, none with them.
        Assert.True(withoutValues >= 400, $"{withoutValues} bytes without the values");
        Assert.True(withValues < 100, $"{withValues} bytes with the values");
    }

    [Fact]
    public async Task TwoAnswersOnOneConnection_ShareTheValueStrings_ThatAreTheSame()
    {
        var dates = new[] { "Thu, 03 Dec 2026 12:00:00 GMT", "Thu, 03 Dec 2026 12:00:01 GMT" };
        await using var upstream = new KeepAliveUpstream((n, _) => new Reply(KeepAliveUpstream.Text(
            $"HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: {dates[n - 1]}\r\nContent-Type: text/plain\r\nX-Latin: caf\u00e9\r\nContent-Length: 2\r\n\r\nok")));
        using var client = new HttpMessageInvoker(new LeanHttp1Handler(new SocketsHttpHandler { UseProxy = false }, TimeSpan.FromSeconds(2), TimeSpan.FromMinutes(1)));
        var origin = new Http1Origin(upstream.Url.GetLeftPart(UriPartial.Authority));

        var first = await FieldsAsync(client, origin);
        var second = await FieldsAsync(client, origin);

        Assert.Equal(1, upstream.Connections);
        Assert.Equal(["Server", "Date", "Content-Type", "X-Latin", "Content-Length"], second.Select(f => f.Name));
        Assert.Equal(["nginx", dates[1], "text/plain", "caf\u00e9", "2"], second.Select(f => f.Value));
        Assert.Equal([true, false, true, true, true], first.Zip(second, (a, b) => ReferenceEquals(a.Value, b.Value)));
    }

    // A known name is one string (as ResponseFieldNames hands it out); another is made for each answer.
    private static string Name(string name) => ResponseFieldNames.Of(Encoding.ASCII.GetBytes(name)).Name;

    private static async Task<ResponseField[]> FieldsAsync(HttpMessageInvoker client, Http1Origin origin)
    {
        using var request = new OriginFormRequest(HttpMethod.Get) { Version = HttpVersion.Version11 };
        request.Aim(origin, "/x");
        using var response = await client.SendAsync(request, CancellationToken.None);
        Assert.Equal("ok", await response.Content.ReadAsStringAsync());
        return Assert.IsType<LeanResponse>(response).Fields.ToArray();
    }
}
