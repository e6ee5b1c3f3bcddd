using Sidecar.Forwarding.Http1;

namespace Sidecar.Tests.Forwarding.Http1;

/// <summary>The lean answer's field array, made to the size of the head's lines: more fields than that are still all kept, in order.</summary>
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
}
