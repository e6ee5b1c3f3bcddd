using System.Net.Http.Headers;
using System.Text;

namespace Sidecar.Eureka;

/// <summary>
/// One Eureka server: its service URL without userinfo, and the HTTP Basic header the userinfo
/// stood for (docs/eureka.md#base-url-and-requests). <see cref="Display"/> never shows the password.
/// </summary>
internal sealed class EurekaEndpoint
{
    private EurekaEndpoint(Uri baseUri, AuthenticationHeaderValue? authorization)
    {
        BaseUri = baseUri;
        Authorization = authorization;
        Display = baseUri.AbsoluteUri;
    }

    /// <summary>The service URL, ending with <c>/</c>, without userinfo.</summary>
    public Uri BaseUri { get; }

    public AuthenticationHeaderValue? Authorization { get; }

    /// <summary>For logs and answers: the URL without credentials.</summary>
    public string Display { get; }

    public static EurekaEndpoint From(Uri serviceUrl)
    {
        AuthenticationHeaderValue? authorization = null;
        if (!string.IsNullOrEmpty(serviceUrl.UserInfo))
        {
            // userinfo is escaped in the URL: "user:p%40ss" means the password "p@ss".
            var userInfo = serviceUrl.UserInfo;
            var colon = userInfo.IndexOf(':', StringComparison.Ordinal);
            var user = Uri.UnescapeDataString(colon < 0 ? userInfo : userInfo[..colon]);
            var password = colon < 0 ? "" : Uri.UnescapeDataString(userInfo[(colon + 1)..]);
            authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(user + ":" + password)));
        }

        var baseUri = new UriBuilder(serviceUrl) { UserName = "", Password = "" }.Uri;
        return new EurekaEndpoint(baseUri, authorization);
    }

    public override string ToString() => Display;
}
