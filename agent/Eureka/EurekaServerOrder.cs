using System.Text;

namespace Sidecar.Eureka;

/// <summary>
/// The order an agent tries its Eureka servers in, as Netflix's client resolves it
/// (<c>EndpointUtils.getServiceUrlsFromConfig</c>, then <c>ZoneAffinityClusterResolver</c>): the servers
/// of this instance's zone first, then those of the other zones; each group shuffled with a seed of
/// this instance's IP address (<c>ResolverUtils.randomize</c>), so every agent keeps its own order and
/// the agents of a fleet spread over the servers instead of all crowding the first one. A zone without
/// a list of its own uses the default list, as Spring's <c>EurekaClientConfigBean</c> does.
/// </summary>
internal static class EurekaServerOrder
{
    /// <param name="options">The service URLs and zones.</param>
    /// <param name="seed">This instance's IP address (stable for the instance, different across a fleet).</param>
    public static IReadOnlyList<Uri> Resolve(EurekaOptions options, string seed)
    {
        if (options.AvailabilityZones.Count == 0)
        {
            return Shuffle(options.Urls, seed);
        }

        // Netflix: this instance's zone is the first of availabilityZones (a MyOwn data center has no other
        // way to say it); EUREKA_ZONE names it when it is in the list. Then round the list from there.
        var zones = options.AvailabilityZones;
        var own = 0;
        for (var i = 0; i < zones.Count; i++)
        {
            if (string.Equals(zones[i], options.Zone, StringComparison.OrdinalIgnoreCase))
            {
                own = i;
                break;
            }
        }

        var ownUrls = UrlsOf(options, zones[own]);
        var others = new List<Uri>();
        for (var step = 1; step < zones.Count; step++)
        {
            foreach (var url in UrlsOf(options, zones[(own + step) % zones.Count]))
            {
                if (!ownUrls.Contains(url) && !others.Contains(url))
                {
                    others.Add(url);
                }
            }
        }

        return [.. Shuffle(ownUrls, seed), .. Shuffle(others, seed)];
    }

    /// <summary>A uniform shuffle (Fisher-Yates) drawn from a generator seeded with <paramref name="seed"/>: the same seed, the same order.</summary>
    /// <remarks>
    /// Netflix seeds <c>java.util.Random</c> with the IP's <c>String.hashCode()</c>, whose first draws for
    /// similar seeds are correlated (with three servers a third of hosts start on the first, a sixth on
    /// the third); a well-mixed seed spreads evenly (docs/eureka.md#which-server).
    /// </remarks>
    internal static IReadOnlyList<T> Shuffle<T>(IReadOnlyList<T> items, string seed)
    {
        var result = items.ToArray();
        var state = Fnv1a(seed);
        for (var i = result.Length - 1; i > 0; i--)
        {
            var j = (int)(SplitMix64(ref state) % (ulong)(i + 1));
            (result[i], result[j]) = (result[j], result[i]);
        }

        return result;
    }

    private static IReadOnlyList<Uri> UrlsOf(EurekaOptions options, string zone) =>
        options.ZoneUrls.TryGetValue(zone, out var urls) ? urls : options.Urls;

    private static ulong Fnv1a(string text)
    {
        var hash = 14695981039346656037UL;
        foreach (var b in Encoding.UTF8.GetBytes(text))
        {
            hash = (hash ^ b) * 1099511628211UL;
        }

        return hash;
    }

    private static ulong SplitMix64(ref ulong state)
    {
        var z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
