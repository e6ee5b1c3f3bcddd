namespace Sidecar.Platform;

/// <summary>Text from outside (a request path, a setting's value) made safe to put in one log or error line.</summary>
internal static class LogText
{
    /// <summary>
    /// Control characters shown escaped (<c>\u000a</c>): a decoded <c>%0a</c> in a path or a newline in an
    /// environment variable would otherwise start a forged line. Text without any is returned as is.
    /// </summary>
    public static string Printable(string text)
    {
        var i = 0;
        while (i < text.Length && !char.IsControl(text[i]))
        {
            i++;
        }

        if (i == text.Length)
        {
            return text;
        }

        var builder = new System.Text.StringBuilder(text.Length + 8);
        foreach (var c in text)
        {
            if (char.IsControl(c))
            {
                builder.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture));
            }
            else
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }
}
