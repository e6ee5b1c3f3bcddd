using System.Net;
using System.Net.Sockets;
using Sidecar.Eureka;
using Sidecar.Health;

namespace Sidecar.Registration;

/// <summary>
/// Once, when the app is first healthy: is it reachable where Eureka sends callers? An app bound to
/// 127.0.0.1 passes the agent's loopback health probe while every caller, given <c>APP_IP:APP_PORT</c>, is
/// refused; Eureka says UP all the same. A refused TCP connection to that address is a warning at start
/// (the usual fix: bind the app to 0.0.0.0, or to APP_IP). A time-out says nothing (a firewall may drop
/// the agent's own connection and still let callers in), and nothing is checked when the probe itself
/// does not go to loopback, when the registered address is the probe's own, or when it is not an address
/// of this host (the agent and the app share a network namespace: a pod IP is one of its own; any other
/// address is not the agent's to connect to).
/// </summary>
internal sealed partial class AppAddressCheck(AppHealthMonitor monitor, AppHealthOptions health, LocalInstance instance, ILogger<AppAddressCheck> logger) : IHostedService
{
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(2);
    private int _checked;

    /// <summary>Completes when the check has run (tests).</summary>
    internal Task Checked => _done.Task;

    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!ShouldCheck(health.Url, instance.IpAddress, IsOwnAddress, out _))
        {
            _done.TrySetResult();
            return Task.CompletedTask;
        }

        monitor.StatusChanged += OnStatusChanged;
        if (monitor.Current.Status == InstanceStatus.Up)
        {
            Begin();
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        monitor.StatusChanged -= OnStatusChanged;
        return Task.CompletedTask;
    }

    /// <summary>True when the probe goes to loopback and the registered address is another one: then it is worth a connection.</summary>
    internal static bool ShouldCheck(Uri? probeUrl, string registeredIp, Func<IPAddress, bool> isOwnAddress, out IPAddress address)
    {
        address = IPAddress.None;
        if (probeUrl is null || !IPAddress.TryParse(probeUrl.IdnHost.Trim('[', ']'), out var probed) || !IPAddress.IsLoopback(probed) ||
            !IPAddress.TryParse(registeredIp, out var registered))
        {
            return false;
        }

        address = registered;
        return !registered.Equals(probed) && !registered.Equals(IPAddress.Any) && !registered.Equals(IPAddress.IPv6Any) && isOwnAddress(registered);
    }

    /// <summary>Loopback, or an address of one of this host's interfaces.</summary>
    internal static bool IsOwnAddress(IPAddress address)
    {
        if (IPAddress.IsLoopback(address))
        {
            return true;
        }

        try
        {
            foreach (var nic in System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces())
            {
                foreach (var unicast in nic.GetIPProperties().UnicastAddresses)
                {
                    if (unicast.Address.Equals(address))
                    {
                        return true;
                    }
                }
            }
        }
        catch (System.Net.NetworkInformation.NetworkInformationException)
        {
        }

        return false;
    }

    private void OnStatusChanged(object? sender, AppHealthChangedEventArgs e)
    {
        if (e.Current.Status == InstanceStatus.Up)
        {
            Begin();
        }
    }

    private void Begin()
    {
        if (Interlocked.Exchange(ref _checked, 1) == 0)
        {
            monitor.StatusChanged -= OnStatusChanged;
            _ = Task.Run(CheckAsync);
        }
    }

    private async Task CheckAsync()
    {
        try
        {
            ShouldCheck(health.Url, instance.IpAddress, _ => true, out var address);
            using var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            using var timeout = new CancellationTokenSource(ConnectTimeout);
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, instance.AppPort), timeout.Token).ConfigureAwait(false);
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionRefused)
            {
                LogRefused(logger, health.Url!.Authority, instance.IpAddress, instance.AppPort);
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException)
            {
                // Unreachable or filtered from here: not proof of anything for callers.
            }
        }
        finally
        {
            _done.TrySetResult();
        }
    }

    [LoggerMessage(EventId = 226, Level = LogLevel.Warning, Message = "The app answers its health probe on {Probe} but refuses connections on {Ip}:{Port}, the address registered in Eureka: callers will be refused. Bind the app to 0.0.0.0 (or to APP_IP), not 127.0.0.1")]
    private static partial void LogRefused(ILogger logger, string probe, string ip, int port);
}
