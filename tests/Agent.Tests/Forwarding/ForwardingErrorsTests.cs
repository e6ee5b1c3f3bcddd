using System.Net.Http;
using System.Net.Sockets;
using Sidecar.Forwarding;

namespace Sidecar.Tests.Forwarding;

[Trait("Category", "Unit")]
public sealed class ForwardingErrorsTests
{
    public static TheoryData<Exception, bool> Cases => new()
    {
        { new HttpRequestException(HttpRequestError.ConnectionError, "Connection refused", new SocketException((int)SocketError.ConnectionRefused)), true },
        { new HttpRequestException(HttpRequestError.NameResolutionError, "Name or service not known"), true },
        { new HttpRequestException(HttpRequestError.SecureConnectionError, "TLS failed"), true },
        // SocketsHttpHandler's connect time-out: a cancellation wrapping a TimeoutException.
        { new TaskCanceledException("The operation was canceled.", new TimeoutException("connect")), true },
        { new HttpRequestException(HttpRequestError.ResponseEnded, "The response ended prematurely."), false },
        { new HttpRequestException("Error while copying content to a stream.", new IOException("reset")), false },
        { new TaskCanceledException("The operation was canceled."), false },
        { new IOException("Broken pipe"), false },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void NeverLeft_IsTrueOnlyWhenNoByteCanHaveReachedTheInstance(Exception exception, bool neverLeft) =>
        Assert.Equal(neverLeft, ForwardingErrors.NeverLeft(exception));

    public static TheoryData<Exception, string> Descriptions => new()
    {
        { new TaskCanceledException("The operation was canceled.", new TimeoutException("connect")), "connect time-out" },
        { new HttpRequestException("An error occurred while sending the request.", new IOException("Unable to read data", new SocketException((int)SocketError.ConnectionReset))), new SocketException((int)SocketError.ConnectionReset).Message },
        { new HttpRequestException(HttpRequestError.ResponseEnded, "An error occurred while sending the request.", new HttpIOException(HttpRequestError.ResponseEnded, "The response ended prematurely.")),
            "An error occurred while sending the request: The response ended prematurely. (ResponseEnded)" },
        { new HttpRequestException(HttpRequestError.ConnectionError, "Connection refused (127.0.0.1:1)", new SocketException((int)SocketError.ConnectionRefused)),
            "Connection refused (127.0.0.1:1)" },
        { new HttpRequestException("Name or service not known"), "Name or service not known" },
    };

    [Theory]
    [MemberData(nameof(Descriptions))]
    public void Describe_GivesTheCauseThatHttpClientWraps(Exception exception, string expected) =>
        Assert.Equal(expected, ForwardingErrors.Describe(exception));
}
