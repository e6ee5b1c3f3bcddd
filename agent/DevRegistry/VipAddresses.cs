namespace Sidecar.DevRegistry;

/// <summary>
/// How <c>GET vips/{vip}</c> and <c>svips/{vip}</c> match (docs/eureka.md#server-rules-dev-registry-and-fake):
/// an instance's VIP address is a comma-separated list, matched item by item, trimmed, ignoring case. No I/O.
/// </summary>
internal static class VipAddresses
{
    /// <summary>True when <paramref name="list"/> (an instance's vipAddress or secureVipAddress) names <paramref name="vip"/>.</summary>
    public static bool Contains(string? list, string vip)
    {
        if (string.IsNullOrEmpty(list))
        {
            return false;
        }

        foreach (var item in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (string.Equals(item, vip, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}
