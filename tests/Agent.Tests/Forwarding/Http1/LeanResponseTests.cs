using Sidecar.Forwarding.Http1;

namespace Sidecar.Tests.Forwarding.Http1;

/// <summary>
/// The lean answer's field array, made to the size of the head's lines: more fields than that are still all kept, in
/// order; and an answer whose fields the parser writes into the forwarding core's head: it keeps only the ones the
/// forwarder reads, and the head every field passed on, as it came.
/// </summary>
[Trait("Category", "Unit")]
public sealed class LeanResponseTests
{
    [Theory]
    [InlineData(0, 3)]
    [InlineData(1, 1)]
    [InlineData(2, 5)]
    [InlineData(8, 8)]
    [InlineData(12, 30)]
    public void EveryFieldIsKept_WhateverTheCapacity(int capacity, int fields)
    {
        using var response = new LeanResponse(capacity);
        for (var i = 0; i < fields; i++)
        {
            response.Add("X-F" + i, "v" + i, content: false, known: false);
        }

        Assert.Equal(fields, response.Fields.Length);
        for (var i = 0; i < fields; i++)
        {
            Assert.Equal("X-F" + i, response.Fields[i].Name);
            Assert.Equal("v" + i, response.Fields[i].Value);
        }

        Assert.False(response.HasRepeatedNames);
    }

    [Fact]
    public void AnAnswerWrittenIntoTheCoresHead_KeepsOnlyTheFieldsTheForwarderReads()
    {
        var bytes = System.Text.Encoding.Latin1.GetBytes(
            "HTTP/1.1 503 Busy\r\nX-A:  caf\u00e9 \r\nset-cookie: a=1\r\nConnection: keep-alive\r\nretry-after: 7\r\n" +
            "Connection: close, X-Gone\r\nX-Gone: 1\r\nSet-Cookie: b=2\r\nX-Empty:\r\nContent-Length: 0\r\n\r\n");
        var head = new AnswerHead();
        using var response = new LeanResponse(head);
        Assert.Null(ResponseHeadParser.Parse(bytes, false, response, out var parsed));
        bytes.AsSpan().Clear(); // the connection's buffer is reused: the head holds its own copy

        Assert.Same(head, response.Answer);
        Assert.Equal(["Retry-After", "Connection"], response.Fields.ToArray().Select(f => f.Name));
        Assert.Equal(["7", "close, X-Gone"], response.Fields.ToArray().Select(f => f.Value));
        Assert.False(parsed.KeepAlive);
        Assert.Equal(503, head.Status);
        Assert.Equal(0, head.ContentLength);
        Assert.False(head.Has("X-Gone"));
        Assert.False(head.Has("Connection"));
        Assert.True(head.Has("x-a"));

        var output = new System.Buffers.ArrayBufferWriter<byte>();
        head.Write(output, "GET", keepAlive: true, ended: true, "now");
        Assert.Equal(
            "HTTP/1.1 503 Service Unavailable\r\nX-A: caf\u00e9\r\nset-cookie: a=1\r\nretry-after: 7\r\nSet-Cookie: b=2\r\nX-Empty: \r\nContent-Length: 0\r\nDate: now\r\n\r\n",
            System.Text.Encoding.Latin1.GetString(output.WrittenSpan));
    }

    // A line already in the written form is copied whole, any other one written from its name and value: the same line.
    [Theory]
    [InlineData("X-A: v w")]
    [InlineData("X-A:v w")]
    [InlineData("X-A:  v w")]
    [InlineData("X-A: v w ")]
    [InlineData("X-A:\tv w\t")]
    [InlineData("X-A:\tv w")]
    [InlineData("X-A: \tv w")]
    public void AFieldsLine_IsWrittenNameColonSpaceValue_HoweverItsWhiteSpaceCame(string line)
    {
        var head = new AnswerHead();
        using var response = new LeanResponse(head);
        var bytes = System.Text.Encoding.Latin1.GetBytes($"HTTP/1.1 200 OK\r\n{line}\r\nX-B: b\r\n\r\n");
        Assert.Null(ResponseHeadParser.Parse(bytes, false, response, out _));
        bytes.AsSpan().Clear();
        var output = new System.Buffers.ArrayBufferWriter<byte>();
        head.Write(output, "GET", keepAlive: true, ended: true, "now");

        Assert.Equal("HTTP/1.1 200 OK\r\nX-A: v w\r\nX-B: b\r\nContent-Length: 0\r\nDate: now\r\n\r\n", System.Text.Encoding.Latin1.GetString(output.WrittenSpan));
    }

    [Theory]
    [InlineData(3)]
    [InlineData(40)]
    [InlineData(100)]
    public void TheCoresHead_TakesEveryField_WhateverTheirNumber(int fields)
    {
        var lines = string.Concat(Enumerable.Range(0, fields).Select(i => $"X-F{i}: v{i}\r\n"));
        var head = new AnswerHead();
        using var response = new LeanResponse(head);
        Assert.Null(ResponseHeadParser.Parse(System.Text.Encoding.Latin1.GetBytes($"HTTP/1.1 200 OK\r\n{lines}\r\n"), false, response, out _));
        var output = new System.Buffers.ArrayBufferWriter<byte>();
        head.Write(output, "GET", keepAlive: true, ended: true, "now");

        Assert.Empty(response.Fields.ToArray());
        Assert.Equal($"HTTP/1.1 200 OK\r\n{lines}Content-Length: 0\r\nDate: now\r\n\r\n", System.Text.Encoding.Latin1.GetString(output.WrittenSpan));
    }
}
