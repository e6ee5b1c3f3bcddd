// Kestrel alone, and two forwarders on Kestrel, set up as the agent's API listener is (sockets transport, requests run
// inline on the socket thread, socket completions inline, no logging). Benchmark references, NOT proxies to use.
//   kestrel PORT                     Kestrel answering GET /1k with 1 KiB from memory (docs/performance.md#kestrel-alone):
//                                    what Kestrel's side of every forwarded call costs before any forwarding.
//   kestrel PORT --proxy IP:PORT     kestrel-proxy (ProxyMode.cs): Kestrel's whole HTTP server, a request delegate that
//                                    forwards GET over raw sockets; the least a forwarder ON Kestrel's HTTP layer costs.
//   kestrel PORT --conn IP:PORT      kestrel-conn (ConnMode.cs): Kestrel's transport and pipes only, a connection
//                                    middleware relaying heads; no HTTP parser, HttpContext or middleware.
//   kestrel PORT --core IP:PORT      kestrel-core (CoreMode.cs): kestrel-conn's place with a model of the agent's default
//                                    work per call (/v1/invoke/bench-upstream/...), written tight, below HttpContext.
// The forwarding modes are docs/performance.md#forwarders-on-kestrel and #a-forwarding-core-below-kestrels-http-layer. Port 0 picks one; the first line names it.
using System.Net;
using KestrelAlone;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

if (Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") is null)
{
    // Read when the socket engine starts: before the first socket.
    Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
}

IPEndPoint? upstream = null;
if (args.Length is not (1 or 3) || !int.TryParse(args[0], out var port)
    || (args.Length == 3 && (args[1] is not ("--proxy" or "--conn" or "--core") || !IPEndPoint.TryParse(args[2], out upstream))))
{
    Console.Error.WriteLine("usage: kestrel LISTEN_PORT [--proxy UPSTREAM_IP:PORT | --conn UPSTREAM_IP:PORT | --core UPSTREAM_IP:PORT]");
    return 2;
}

var mode = args.Length == 3 ? args[1][2..] : "alone";
if (upstream is not null && Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT") is null)
{
    // One socket engine, as the agent sets by default (agent/Platform/InlineIo.cs): a call's client and upstream
    // sockets then wake the same thread.
    Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT", "1");
}

var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
builder.WebHost.UseSockets(sockets =>
{
    sockets.UnsafePreferInlineScheduling = true;
    sockets.WaitForDataBeforeAllocatingBuffer = false;
});
builder.WebHost.ConfigureKestrel(kestrel =>
{
    kestrel.AddServerHeader = false;
    kestrel.Listen(IPAddress.Loopback, port, listen =>
    {
        if (mode == "conn")
        {
            // Never calls next: Kestrel's HTTP layer, which Listen puts after this middleware, never runs.
            listen.Use(_ => connection => ConnMode.ServeAsync(connection, upstream!));
        }
        else if (mode == "core")
        {
            var core = new CoreMode(upstream!);
            listen.Use(_ => core.ServeAsync);
        }
    });
});
var app = builder.Build();
if (mode == "proxy")
{
    var proxy = new ProxyMode(upstream!);
    app.Run(proxy.ForwardAsync);
}
else
{
    var body = new byte[1024];
    Array.Fill(body, (byte)'x');
    app.Run(context =>
    {
        context.Response.ContentLength = body.Length;
        context.Response.ContentType = "text/plain";
        return context.Response.Body.WriteAsync(body).AsTask();
    });
}

await app.StartAsync();
var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
Console.WriteLine($"kestrel listening on {address.Replace("http://", "", StringComparison.Ordinal)}"
                  + (upstream is null ? "" : $", {mode} mode forwarding to {upstream}"));
await app.WaitForShutdownAsync();
return 0;
