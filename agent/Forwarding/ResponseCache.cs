using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace Sidecar.Forwarding;

/// <summary>One stored answer: what the caller got (status, headers, body) and when it was stored.</summary>
internal sealed class CachedResponse
{
    public required string Key { get; init; }

    public required string Target { get; init; }

    public required int Status { get; init; }

    public required KeyValuePair<string, StringValues>[] Headers { get; set; }

    public required byte[] Body { get; init; }

    /// <summary>Timestamp (the cache's TimeProvider) of storing or of the last revalidation.</summary>
    public long StoredAt { get; set; }

    /// <summary>The <c>Age</c> the upstream gave when it was stored.</summary>
    public TimeSpan InitialAge { get; set; }

    public TimeSpan Freshness { get; set; }

    public bool AllowsAuthorized { get; init; }

    public long Size { get; init; }

    public string? ETag => Header(HeaderNames.ETag);

    public string? LastModified => Header(HeaderNames.LastModified);

    public string? Header(string name)
    {
        foreach (var (key, value) in Headers)
        {
            if (key.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return value.ToString();
            }
        }

        return null;
    }

    internal LinkedListNode<CachedResponse>? Node { get; set; }
}

/// <summary>
/// The agent's response cache (docs/resilience.md#response-cache): one store for every service with
/// <c>Cache=true</c>, bounded by <c>CacheMaxBytes</c> (bodies and headers), least recently used evicted
/// first. Keyed by service, path and query, and the values of the request headers the answer's <c>Vary</c>
/// names (the names are kept per URI, from its latest answer). GET answers only; HEAD is answered from them.
/// Written by hand: Polly has no cache strategy, and ASP.NET Core's output and response caching middlewares
/// cache the agent's own endpoints by their own rules, not a proxied answer under RFC 9111's shared-cache rules.
/// </summary>
internal sealed class ResponseCache(long maxBytes, TimeProvider time)
{
    private readonly Lock _lock = new();
    private readonly LinkedList<CachedResponse> _lru = new();
    private readonly Dictionary<string, CachedResponse> _entries = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (string[] Vary, HashSet<string> Keys)> _targets = new(StringComparer.Ordinal);
    private long _bytes;
    private long _evictions;
    private int _count;

    public long MaxBytes => maxBytes;

    /// <summary>The largest answer stored: an eighth of the cache, so one download cannot flush everything else.</summary>
    public long MaxEntryBytes => maxBytes / 8;

    public long Bytes => Volatile.Read(ref _bytes);

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _entries.Count;
            }
        }
    }

    public long Evictions => Volatile.Read(ref _evictions);

    public TimeProvider Time => time;

    /// <summary>The stored answer for this request, fresh or not; null when none.</summary>
    public CachedResponse? Find(string service, string target, IHeaderDictionary request)
    {
        if (Volatile.Read(ref _count) == 0)
        {
            // Nothing stored (answers without freshness never are): no key to build, no lock (docs/resilience.md#cost).
            return null;
        }

        var uri = service + " " + target;
        lock (_lock)
        {
            if (!_targets.TryGetValue(uri, out var known) || !_entries.TryGetValue(Key(uri, known.Vary, request), out var entry))
            {
                return null;
            }

            _lru.Remove(entry.Node!);
            _lru.AddFirst(entry.Node!);
            return entry;
        }
    }

    /// <summary>How old the answer is now (RFC 9111 4.2.3, simplified: its <c>Age</c> when stored plus the time since).</summary>
    public TimeSpan AgeOf(CachedResponse entry) => entry.InitialAge + time.GetElapsedTime(entry.StoredAt);

    public bool IsFresh(CachedResponse entry) => AgeOf(entry) < entry.Freshness;

    public void Store(string service, string target, IHeaderDictionary request, int status, IHeaderDictionary response, byte[] body, CacheVerdict verdict)
    {
        var uri = service + " " + target;
        var vary = VaryNames(response);
        var headers = response.Where(h => IsStored(h.Key)).ToArray();
        var size = body.Length + 256 + headers.Sum(h => h.Key.Length + h.Value.ToString().Length);
        if (size > MaxEntryBytes)
        {
            return;
        }

        var entry = new CachedResponse
        {
            Key = Key(uri, vary, request),
            Target = uri,
            Status = status,
            Headers = headers,
            Body = body,
            StoredAt = time.GetTimestamp(),
            InitialAge = CacheRules.Age(response),
            Freshness = verdict.Freshness,
            AllowsAuthorized = verdict.AllowsAuthorized,
            Size = size,
        };

        lock (_lock)
        {
            if (!_targets.TryGetValue(uri, out var known) || !known.Vary.SequenceEqual(vary, StringComparer.OrdinalIgnoreCase))
            {
                // The URI's Vary changed: its other variants were keyed by other headers.
                RemoveTarget(uri);
                known = (vary, new HashSet<string>(StringComparer.Ordinal));
                _targets[uri] = known;
            }

            if (_entries.TryGetValue(entry.Key, out var old))
            {
                Remove(old);
                _targets[uri] = known; // Remove drops an empty target
            }

            entry.Node = _lru.AddFirst(entry);
            _entries[entry.Key] = entry;
            Volatile.Write(ref _count, _entries.Count);
            known.Keys.Add(entry.Key);
            _bytes += entry.Size;
            while (_bytes > maxBytes && _lru.Last is { } last)
            {
                Remove(last.Value);
                _evictions++;
            }
        }
    }

    /// <summary>A <c>304</c> to a revalidation: the stored answer is fresh again, with the new headers merged in (RFC 9111 4.3.4).</summary>
    public void Refresh(CachedResponse entry, IHeaderDictionary notModified, TimeSpan freshness)
    {
        lock (_lock)
        {
            var merged = entry.Headers.ToDictionary(h => h.Key, h => h.Value, StringComparer.OrdinalIgnoreCase);
            foreach (var (name, value) in notModified)
            {
                if (IsStored(name))
                {
                    merged[name] = value;
                }
            }

            entry.Headers = [.. merged];
            entry.StoredAt = time.GetTimestamp();
            entry.InitialAge = CacheRules.Age(notModified);
            entry.Freshness = freshness;
        }
    }

    /// <summary>An unsafe method to the URI succeeded: every stored variant of it goes (RFC 9111 4.4).</summary>
    public void Invalidate(string service, string target)
    {
        lock (_lock)
        {
            RemoveTarget(service + " " + target);
        }
    }

    private void RemoveTarget(string uri)
    {
        if (_targets.TryGetValue(uri, out var known))
        {
            foreach (var key in known.Keys.ToList())
            {
                if (_entries.TryGetValue(key, out var entry))
                {
                    Remove(entry);
                }
            }

            _targets.Remove(uri);
        }
    }

    private void Remove(CachedResponse entry)
    {
        _entries.Remove(entry.Key);
        Volatile.Write(ref _count, _entries.Count);
        _lru.Remove(entry.Node!);
        _bytes -= entry.Size;
        if (_targets.TryGetValue(entry.Target, out var known))
        {
            known.Keys.Remove(entry.Key);
            if (known.Keys.Count == 0)
            {
                _targets.Remove(entry.Target);
            }
        }
    }

    // Age is computed at each hit; the framing headers Kestrel added when it sent the answer
    // (Transfer-Encoding: chunked...) are hop-by-hop and would break a replay.
    private static bool IsStored(string name) =>
        !name.Equals(HeaderNames.Age, StringComparison.OrdinalIgnoreCase) &&
        !name.Equals(HeaderNames.TransferEncoding, StringComparison.OrdinalIgnoreCase) &&
        !name.Equals(HeaderNames.Connection, StringComparison.OrdinalIgnoreCase) &&
        !name.Equals(HeaderNames.KeepAlive, StringComparison.OrdinalIgnoreCase) &&
        !name.Equals(HeaderNames.Trailer, StringComparison.OrdinalIgnoreCase) &&
        !name.Equals(HeaderNames.Upgrade, StringComparison.OrdinalIgnoreCase) &&
        !name.Equals(HeaderNames.ContentLength, StringComparison.OrdinalIgnoreCase);

    private static string[] VaryNames(IHeaderDictionary response)
    {
        var names = new List<string>();
        foreach (var value in response.Vary)
        {
            foreach (var name in (value ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                names.Add(name.ToLowerInvariant());
            }
        }

        names.Sort(StringComparer.Ordinal);
        return [.. names.Distinct(StringComparer.Ordinal)];
    }

    private static string Key(string uri, string[] vary, IHeaderDictionary request)
    {
        if (vary.Length == 0)
        {
            return uri;
        }

        var key = new System.Text.StringBuilder(uri);
        foreach (var name in vary)
        {
            key.Append('\n').Append(name).Append(':').Append(request[name].ToString());
        }

        return key.ToString();
    }
}
