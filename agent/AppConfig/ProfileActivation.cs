namespace Sidecar.AppConfig;

/// <summary>
/// Spring Boot's document activation in a config file: a document with
/// <c>spring.config.activate.on-profile</c> (or the legacy <c>spring.profiles</c>) counts only when the
/// active profiles match. The value is one expression, a comma-separated list or a YAML list of them, and
/// matches when any of them does; each is a profile expression as Spring's <c>Profiles.of</c> reads it:
/// names, <c>!</c>, <c>&amp;</c>, <c>|</c> and parentheses, where mixing <c>&amp;</c> and <c>|</c> without
/// parentheses is an error (<c>a &amp; b | c</c>). The activation keys themselves are never served.
/// </summary>
internal static class ProfileActivation
{
    private static readonly string[] Keys = ["spring.config.activate.on-profile", "spring.profiles"];

    /// <summary>Whether <paramref name="key"/> is an activation key (or an element of one), never served.</summary>
    public static bool IsActivationKey(string key)
    {
        foreach (var name in Keys)
        {
            if (key.StartsWith(name, StringComparison.Ordinal) &&
                (key.Length == name.Length || key[name.Length] == '['))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether the document applies to <paramref name="profiles"/>; removes its activation keys.</summary>
    /// <exception cref="FormatException">When an expression is malformed; the message quotes it (it names profiles, never a secret).</exception>
    public static bool Applies(Dictionary<string, string> document, IReadOnlyList<string> profiles)
    {
        var expressions = new List<string>();
        foreach (var key in document.Keys.Where(IsActivationKey).Order(StringComparer.Ordinal).ToList())
        {
            // "dev,eu" and a YAML list [dev, eu] both mean: any of them (Spring binds the value as String[]).
            expressions.AddRange(document[key].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            document.Remove(key);
        }

        if (expressions.Count == 0)
        {
            return true;
        }

        var any = false;
        foreach (var expression in expressions)
        {
            any |= Matches(expression, profiles);
        }

        return any;
    }

    /// <summary>Evaluates one profile expression (<c>dev &amp; eu</c>, <c>!prod</c>, <c>(a | b) &amp; c</c>).</summary>
    /// <exception cref="FormatException">When the expression is malformed.</exception>
    public static bool Matches(string expression, IReadOnlyList<string> profiles)
    {
        var tokens = Tokenize(expression);
        var position = 0;
        var result = ParseSequence(tokens, ref position, expression, nested: false, profiles);
        if (position != tokens.Count)
        {
            throw Malformed(expression);
        }

        return result;
    }

    // A sequence of operands joined by one kind of operator: "a & b & c" or "a | b", never both.
    private static bool ParseSequence(List<string> tokens, ref int position, string expression, bool nested, IReadOnlyList<string> profiles)
    {
        var values = new List<bool>();
        char? op = null;
        var expectOperand = true;
        while (position < tokens.Count)
        {
            var token = tokens[position];
            if (token == ")")
            {
                if (!nested)
                {
                    throw Malformed(expression);
                }

                break;
            }

            if (token is "&" or "|")
            {
                if (expectOperand || (op is { } current && current != token[0]))
                {
                    throw Malformed(expression);
                }

                op = token[0];
                expectOperand = true;
                position++;
                continue;
            }

            if (!expectOperand)
            {
                throw Malformed(expression); // two operands without an operator between them
            }

            values.Add(ParseOperand(tokens, ref position, expression, profiles));
            expectOperand = false;
        }

        if (values.Count == 0 || expectOperand)
        {
            throw Malformed(expression);
        }

        return op == '&' ? values.TrueForAll(v => v) : values.Contains(true);
    }

    private static bool ParseOperand(List<string> tokens, ref int position, string expression, IReadOnlyList<string> profiles)
    {
        if (position >= tokens.Count)
        {
            throw Malformed(expression);
        }

        var token = tokens[position++];
        switch (token)
        {
            case "!":
                return !ParseOperand(tokens, ref position, expression, profiles);
            case "(":
                var value = ParseSequence(tokens, ref position, expression, nested: true, profiles);
                if (position >= tokens.Count || tokens[position] != ")")
                {
                    throw Malformed(expression);
                }

                position++;
                return value;
            case "&" or "|" or ")":
                throw Malformed(expression);
            default:
                return profiles.Contains(token, StringComparer.Ordinal);
        }
    }

    // Splits on ( ) & | ! as Spring's StringTokenizer does; names between them are trimmed.
    private static List<string> Tokenize(string expression)
    {
        var tokens = new List<string>();
        var start = 0;
        for (var i = 0; i <= expression.Length; i++)
        {
            if (i < expression.Length && expression[i] is not ('(' or ')' or '&' or '|' or '!'))
            {
                continue;
            }

            var name = expression[start..i].Trim();
            if (name.Length > 0)
            {
                tokens.Add(name);
            }

            if (i < expression.Length)
            {
                tokens.Add(expression[i].ToString());
            }

            start = i + 1;
        }

        return tokens;
    }

    private static FormatException Malformed(string expression) =>
        new($"malformed profile expression '{expression}' (use !, & and | with parentheses: '(a | b) & c'; a & b | c needs them)");
}
