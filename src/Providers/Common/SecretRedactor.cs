using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace KillToken.Providers.Common;

/// <summary>
/// Removes a credential's secrets from what a provider sends back in an error, in the forms a provider echoes them:
/// as sent, JSON-escaped, percent-encoded (<c>%2B</c> or <c>%2b</c>, with <c>%20</c> or <c>+</c> for a space, any mix
/// of encoded and plain characters) and base64 (standard or URL-safe, padded or not, percent-encoded or not), also
/// when the secret is only part of what was encoded — the echo of a <c>Bearer</c> or <c>Basic</c> header value,
/// <c>base64("Bearer " + key)</c> or <c>base64(user + ":" + key)</c>, does not contain <c>base64(key)</c>. So every
/// run of base64 characters is decoded (at each of the four alignments) and the whole run is redacted when the bytes
/// hold a secret. Linear in the text's length per secret; it runs on provider error bodies only.
/// </summary>
internal sealed class SecretRedactor
{
    public const string Mark = "[redacted]";

    /// <summary>Shorter values are not secrets worth the false positives (and the old rule kept them too).</summary>
    private const int MinimumLength = 4;

    private readonly string[] _secrets;
    private readonly byte[][] _utf8;
    private readonly int _shortest;
    private readonly bool _anySpace;

    public SecretRedactor(IEnumerable<string> secrets)
    {
        _secrets = [.. secrets.Where(s => s.Length >= MinimumLength).Distinct(StringComparer.Ordinal).OrderByDescending(s => s.Length)];
        _utf8 = [.. _secrets.Select(Encoding.UTF8.GetBytes)];
        _shortest = _utf8.Length == 0 ? 0 : _utf8.Min(s => s.Length);
        _anySpace = _secrets.Any(s => s.Contains(' ', StringComparison.Ordinal));
    }

    /// <summary>The text with every secret, in every form above, replaced by <see cref="Mark"/>.</summary>
    public string Redact(string text)
    {
        if (_secrets.Length == 0 || text.Length == 0)
        {
            return text;
        }

        foreach (var secret in _secrets)
        {
            text = text.Replace(secret, Mark, StringComparison.Ordinal);
            text = text.Replace(JsonEncodedText.Encode(secret).ToString(), Mark, StringComparison.Ordinal);
        }

        if (text.Contains('%', StringComparison.Ordinal))
        {
            text = RedactPercentEncoded(text, plusIsSpace: false);
        }

        if (_anySpace && text.Contains('+', StringComparison.Ordinal))
        {
            text = RedactPercentEncoded(text, plusIsSpace: true);
        }

        return RedactBase64(text);
    }

    /// <summary>
    /// A copy of a JSON document with every string in it (member names too) redacted. Working on the strings, not on
    /// the serialized text, sees them unescaped: a serializer writes '+' as <c>\u002B</c>, which would hide a base64 run.
    /// </summary>
    public JsonNode? Redact(JsonNode? node)
    {
        switch (node)
        {
            case null:
                return null;
            case JsonObject source:
                var copy = new JsonObject();
                foreach (var (name, value) in source)
                {
                    var key = Redact(name);
                    for (var n = 2; copy.ContainsKey(key); n++)
                    {
                        key = $"{Redact(name)}#{n}"; // two names that redact alike stay two members
                    }

                    copy[key] = Redact(value);
                }

                return copy;
            case JsonArray items:
                return new JsonArray([.. items.Select(Redact)]);
            case JsonValue value when value.GetValueKind() == JsonValueKind.String:
                var text = value.GetValue<string>();
                var redacted = Redact(text);
                return redacted == text ? value.DeepClone() : JsonValue.Create(redacted);
            default:
                return node.DeepClone();
        }
    }

    /// <summary>Decodes <c>%XX</c> (and, when asked, '+' as a space) keeping where each byte came from; redacts the source of every secret found.</summary>
    private string RedactPercentEncoded(string text, bool plusIsSpace)
    {
        var bytes = new List<byte>(text.Length);
        var from = new List<int>(text.Length);
        var to = new List<int>(text.Length);
        Span<byte> utf8 = stackalloc byte[4];
        for (var i = 0; i < text.Length;)
        {
            if (text[i] == '%' && i + 2 < text.Length && char.IsAsciiHexDigit(text[i + 1]) && char.IsAsciiHexDigit(text[i + 2]))
            {
                Add((byte)((HexValue(text[i + 1]) << 4) | HexValue(text[i + 2])), i, i + 3);
                i += 3;
            }
            else if (plusIsSpace && text[i] == '+')
            {
                Add((byte)' ', i, i + 1);
                i++;
            }
            else if (char.IsAscii(text[i]))
            {
                Add((byte)text[i], i, i + 1);
                i++;
            }
            else
            {
                var width = char.IsSurrogatePair(text, i) ? 2 : 1;
                var count = Encoding.UTF8.GetBytes(text.AsSpan(i, width), utf8);
                for (var b = 0; b < count; b++)
                {
                    Add(utf8[b], i, i + width);
                }

                i += width;
            }
        }

        var ranges = new List<(int Start, int End)>();
        var decoded = CollectionsMarshal.AsSpan(bytes);
        foreach (var secret in _utf8)
        {
            for (var at = 0; at <= decoded.Length - secret.Length;)
            {
                var found = decoded[at..].IndexOf(secret);
                if (found < 0)
                {
                    break;
                }

                var start = at + found;
                ranges.Add((from[start], to[start + secret.Length - 1]));
                at = start + secret.Length;
            }
        }

        return Replace(text, ranges);

        void Add(byte value, int start, int end)
        {
            bytes.Add(value);
            from.Add(start);
            to.Add(end);
        }
    }

    /// <summary>Finds every run of base64 characters (either alphabet, '+' and '/' also as <c>%2B</c>, <c>%2F</c>) and redacts those that decode to a secret.</summary>
    private string RedactBase64(string text)
    {
        var ranges = new List<(int Start, int End)>();
        var sextets = new List<byte>();
        byte[]? decoded = null;
        for (var i = 0; i < text.Length;)
        {
            var start = i;
            sextets.Clear();
            while (i < text.Length && Sextet(text, i, out var value, out var width))
            {
                sextets.Add(value);
                i += width;
            }

            if (sextets.Count == 0)
            {
                i++;
                continue;
            }

            // Padding belongs to the run (it is redacted with it) but ends it: "key=" before a value is not padding of the value.
            var end = i;
            while (end < text.Length && (text[end] == '=' || IsEncoded(text, end, "3D")))
            {
                end += text[end] == '=' ? 1 : 3;
            }

            if (sextets.Count * 6 / 8 >= _shortest && HoldsSecret(CollectionsMarshal.AsSpan(sextets), ref decoded))
            {
                ranges.Add((start, end));
            }

            i = end;
        }

        return Replace(text, ranges);
    }

    /// <summary>Decodes the run at each of the four alignments (the encoded value may start anywhere in it) and looks for a secret.</summary>
    private bool HoldsSecret(ReadOnlySpan<byte> sextets, ref byte[]? decoded)
    {
        if (decoded is null || decoded.Length < (sextets.Length * 3 / 4) + 3)
        {
            decoded = new byte[Math.Max(256, (sextets.Length * 3 / 4) + 3)];
        }

        for (var offset = 0; offset < 4 && offset < sextets.Length; offset++)
        {
            var run = sextets[offset..];
            var length = 0;
            var bits = 0;
            var buffer = 0;
            foreach (var sextet in run)
            {
                buffer = (buffer << 6) | sextet;
                bits += 6;
                if (bits >= 8)
                {
                    bits -= 8;
                    decoded[length++] = (byte)(buffer >> bits);
                    buffer &= (1 << bits) - 1;
                }
            }

            var bytes = decoded.AsSpan(0, length);
            foreach (var secret in _utf8)
            {
                if (bytes.IndexOf(secret) >= 0)
                {
                    return true;
                }
            }
        }

        return false;
    }

    private static bool Sextet(string text, int i, out byte value, out int width)
    {
        width = 1;
        var c = text[i];
        value = c switch
        {
            >= 'A' and <= 'Z' => (byte)(c - 'A'),
            >= 'a' and <= 'z' => (byte)(c - 'a' + 26),
            >= '0' and <= '9' => (byte)(c - '0' + 52),
            '+' or '-' => 62,
            '/' or '_' => 63,
            _ => 255,
        };
        if (value != 255)
        {
            return true;
        }

        width = 3;
        if (IsEncoded(text, i, "2B"))
        {
            value = 62;
            return true;
        }

        if (IsEncoded(text, i, "2F"))
        {
            value = 63;
            return true;
        }

        return false;
    }

    private static bool IsEncoded(string text, int i, string hex) =>
        i + 2 < text.Length && text[i] == '%' && text.AsSpan(i + 1, 2).Equals(hex, StringComparison.OrdinalIgnoreCase);

    private static int HexValue(char c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;

    /// <summary>The text with each range (merged where they overlap) replaced by one <see cref="Mark"/>.</summary>
    private static string Replace(string text, List<(int Start, int End)> ranges)
    {
        if (ranges.Count == 0)
        {
            return text;
        }

        ranges.Sort();
        var result = new StringBuilder(text.Length);
        var position = 0;
        var index = 0;
        while (index < ranges.Count)
        {
            var (start, end) = ranges[index++];
            while (index < ranges.Count && ranges[index].Start <= end)
            {
                end = Math.Max(end, ranges[index++].End);
            }

            result.Append(text, position, start - position).Append(Mark);
            position = end;
        }

        return result.Append(text, position, text.Length - position).ToString();
    }
}
