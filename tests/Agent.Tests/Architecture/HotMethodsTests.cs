using System.Reflection;
using System.Text;
using Sidecar.Forwarding.Http1;
using Sidecar.Tests.Support;

namespace Sidecar.Tests.Architecture;

/// <summary>
/// agent/hot-methods.txt, the methods the NativeAOT compiler places side by side (docs/performance.md#the-hot-methods-side-by-side-2026-12-05-ninth-session),
/// names only methods the agent has: the compiler skips a name it does not know, so a method renamed, or an async method's
/// state machine renumbered by a change to its class, would silently leave the packed code.
/// </summary>
public sealed class HotMethodsTests
{
    private const BindingFlags Declared = BindingFlags.DeclaredOnly | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static;

    [Fact]
    public void TheList_NamesOnlyMethodsTheAgentHas_EachOnce()
    {
        var lines = File.ReadAllLines(Repository.PathOf("agent", "hot-methods.txt"));
        var own = lines.Where(l => l.StartsWith("agent_", StringComparison.Ordinal)).ToList();

        Assert.True(own.Count >= 100, $"agent/hot-methods.txt names {own.Count} of the agent's methods: run python3 bench/hot-methods.py");
        Assert.DoesNotContain(lines, string.IsNullOrWhiteSpace);
        Assert.Equal(lines.Length, lines.Distinct(StringComparer.Ordinal).Count());

        var known = KnownMethods();
        var stale = own.Where(l => !known.Contains(Method(l, known))).ToList();
        Assert.True(stale.Count == 0,
            $"agent/hot-methods.txt names methods the agent no longer has ({stale.Count}); run python3 bench/hot-methods.py: {string.Join(", ", stale.Take(5))}");
    }

    [Theory]
    [InlineData("agent_Sidecar_Forwarding_Http1_CoreConnection__TryTake", true)]
    [InlineData("agent_Sidecar_Forwarding_Http1_AnswerHead__Write_0", true)]
    [InlineData("agent_Sidecar_Forwarding_ProxyHeaders__CopyRequestHeaders_0<agent_Sidecar_Forwarding_Http1_HeadLines>", true)]
    [InlineData("agent_Sidecar_Forwarding_Http1_CoreConnection_CoreForwardCall__Take", true)]
    [InlineData("agent_Sidecar_Forwarding_Http1_CoreConnection__TryTakeNothing", false)]
    [InlineData("agent_Sidecar_Forwarding_Http1_LeanHttp1Handler__SendLeanAsync_d__999__MoveNext", false)]
    public void ANameIsKnown_OnlyWhenItsTypeAndMethodAre(string name, bool expected)
    {
        var known = KnownMethods();

        Assert.Equal(expected, known.Contains(Method(name, known)));
    }

    // Each method of the agent's assembly as the compiler names its symbol: the assembly, the type's full name and the
    // method's name, every character that is not a letter, a digit or '_' made '_', type and method joined by "__".
    private static HashSet<string> KnownMethods()
    {
        var known = new HashSet<string>(StringComparer.Ordinal);
        foreach (var type in typeof(ForwardingCore).Assembly.GetTypes())
        {
            var prefix = "agent_" + Mangle(type.FullName!) + "__";
            foreach (var method in type.GetMethods(Declared).Cast<MethodBase>().Concat(type.GetConstructors(Declared)))
            {
                known.Add(prefix + Mangle(method.Name));
            }
        }

        return known;
    }

    // A listed name's method: its generic arguments (<...>) dropped, and an overload's number (_0, _1...) when the name
    // without it is the method's.
    private static string Method(string name, HashSet<string> known)
    {
        var plain = new StringBuilder();
        var depth = 0;
        foreach (var c in name)
        {
            depth += c == '<' ? 1 : 0;
            if (depth == 0)
            {
                plain.Append(c);
            }

            depth -= c == '>' ? 1 : 0;
        }

        var method = plain.ToString();
        var overload = method.LastIndexOf('_');
        return known.Contains(method) || overload < 0 || !method[(overload + 1)..].All(char.IsAsciiDigit) ? method : method[..overload];
    }

    private static string Mangle(string name) =>
        string.Concat(name.Select(c => char.IsAsciiLetterOrDigit(c) || c == '_' ? c : '_'));
}
