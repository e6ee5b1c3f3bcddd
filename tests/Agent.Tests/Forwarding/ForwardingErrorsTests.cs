using System.Net.Http;
using System.Net.Sockets;
using Sidecar.Forwarding;

namespace Sidecar.Tests.Forwarding;

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
}
