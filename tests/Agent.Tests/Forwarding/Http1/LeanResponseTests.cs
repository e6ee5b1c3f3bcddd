using Sidecar.Forwarding.Http1;

namespace Sidecar.Tests.Forwarding.Http1;

/// <summary>
/// The lean answer's field array, made to the size of the head's lines: more fields than that are still all kept, in
/// order; and an answer kept as bytes (the forwarding core's): its values are ranges of its own copy of the head.
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
    public void AnAnswerKeptAsBytes_ReadsItsValuesFromItsOwnCopyOfTheHead()
    {
        var head = System.Text.Encoding.Latin1.GetBytes("HTTP/1.1 200 OK\r\nX-A:  caf\u00e9 \r\nset-cookie: a=1\r\nSet-Cookie: b=2\r\nX-Empty:\r\n\r\n");
        using var response = new LeanResponse(4, head);
        Assert.Null(ResponseHeadParser.Parse(head, false, response, out _));
        head.AsSpan().Clear(); // the caller's buffer is reused: the answer holds its own copy

        Assert.True(response.IsRaw);
        Assert.Equal(["X-A", "Set-Cookie", "Set-Cookie", "X-Empty"], response.Fields.ToArray().Select(f => f.Name));
        Assert.All(response.Fields.ToArray(), f => Assert.Null(f.Value));
        Assert.Equal("caf\u00e9", response.ValueOf(0));
        Assert.Equal(4, response.RawValue(0).Length); // Latin-1: one byte per character, the white space around trimmed
        Assert.Equal(0xE9, response.RawValue(0)[3]);
        Assert.Equal("b=2", response.ValueOf(2));
        Assert.Equal("", response.ValueOf(3));
        Assert.True(response.HasRepeatedNames);

        response.Dispose();
        Assert.Equal(0, response.Fields.Length); // its buffer went back to the pool: nothing is read from it any more
    }

    [Theory]
    [InlineData(1, 3)]
    [InlineData(2, 40)]
    [InlineData(8, 100)]
    public void AnAnswerKeptAsBytes_KeepsEveryField_WhateverTheCapacity(int capacity, int fields)
    {
        var lines = string.Concat(Enumerable.Range(0, fields).Select(i => $"X-F{i}: v{i}\r\n"));
        var head = System.Text.Encoding.Latin1.GetBytes($"HTTP/1.1 200 OK\r\n{lines}\r\n");
        using var response = new LeanResponse(capacity, head);
        Assert.Null(ResponseHeadParser.Parse(head, false, response, out _));

        Assert.Equal(fields, response.Fields.Length);
        for (var i = 0; i < fields; i++)
        {
            Assert.Equal("X-F" + i, response.Fields[i].Name);
            Assert.Equal("v" + i, response.ValueOf(i));
        }
    }
}
