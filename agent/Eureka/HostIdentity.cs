using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace Sidecar.Eureka;

/// <summary>
/// The host name and IP this machine is registered under when <c>APP_HOST</c>/<c>APP_IP</c> are not
/// set: the OS host name, and the first non-loopback IPv4 of an interface that is up (the pod IP
/// in Kubernetes), as Spring Cloud's InetUtils picks it.
/// </summary>
internal static class HostIdentity
{
    public static string DetectHostName()
    {
        try
        {
            var name = Dns.GetHostName();
            return string.IsNullOrWhiteSpace(name) ? "localhost" : name;
        }
        catch (SocketException)
        {
            return "localhost";
        }
    }

    /// <summary>The first non-loopback IPv4, or 127.0.0.1 when the machine has none.</summary>
    public static IPAddress DetectIPv4()
    {
        try
        {
            var interfaces = new List<InterfaceAddresses>();
            foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
            {
                var addresses = new List<IPAddress>();
                foreach (var unicast in nic.GetIPProperties().UnicastAddresses)
                {
                    addresses.Add(unicast.Address);
                }

                interfaces.Add(new InterfaceAddresses(
                    nic.OperationalStatus is OperationalStatus.Up or OperationalStatus.Unknown,
                    nic.NetworkInterfaceType == NetworkInterfaceType.Loopback,
                    addresses));
            }

            return FirstNonLoopbackIPv4(interfaces) ?? IPAddress.Loopback;
        }
        catch (NetworkInformationException)
        {
            return IPAddress.Loopback;
        }
    }

    /// <summary>
    /// The first IPv4 of an up, non-loopback interface, in the OS's order; a link-local address
    /// (169.254/16, no DHCP answer) only when there is nothing else.
    /// </summary>
    internal static IPAddress? FirstNonLoopbackIPv4(IEnumerable<InterfaceAddresses> interfaces)
    {
        IPAddress? linkLocal = null;
        foreach (var nic in interfaces)
        {
            if (!nic.Up || nic.Loopback)
            {
                continue;
            }

            foreach (var address in nic.Addresses)
            {
                if (address.AddressFamily != AddressFamily.InterNetwork || IPAddress.IsLoopback(address))
                {
                    continue;
                }

                var bytes = address.GetAddressBytes();
                if (bytes[0] == 169 && bytes[1] == 254)
                {
                    linkLocal ??= address;
                    continue;
                }

                return address;
            }
        }

        return linkLocal;
    }
}

/// <summary>One network interface as detection sees it.</summary>
internal sealed record InterfaceAddresses(bool Up, bool Loopback, IReadOnlyList<IPAddress> Addresses);
