// Kestrel alone (docs/performance.md#kestrel-alone): Kestrel answering GET /1k with 1 KiB from memory, set up as the
// agent's API listener is (sockets transport, requests run inline on the socket thread, socket completions inline,
// no logging). Not a proxy: it shows what Kestrel's side of every forwarded call costs before any forwarding.
// Usage: kestrel LISTEN_PORT (0 picks one; the first line names it).
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

if (Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") is null)
{
    // Read when the socket engine starts: before the first socket.
    Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
}

if (args.Length != 1 || !int.TryParse(args[0], out var port))
{
    Console.Error.WriteLine("usage: kestrel LISTEN_PORT");
    return 2;
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
    kestrel.Listen(System.Net.IPAddress.Loopback, port);
});
var app = builder.Build();
var body = new byte[1024];
Array.Fill(body, (byte)'x');
app.Run(context =>
{
    context.Response.ContentLength = body.Length;
    context.Response.ContentType = "text/plain";
    return context.Response.Body.WriteAsync(body).AsTask();
});
await app.StartAsync();
var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
Console.WriteLine($"kestrel listening on {address.Replace("http://", "", StringComparison.Ordinal)}");
await app.WaitForShutdownAsync();
return 0;
