using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using static KillToken.Tests.Fuzz.JsonSurgery;

namespace KillToken.Tests.Fuzz;

/// <summary>What a correct gateway may answer to one input on a route that reads it.</summary>
internal enum Expect
{
    /// <summary>Anything but a 5xx: the input may well be acceptable.</summary>
    Anything = 0,

    /// <summary>A 4xx: the input is wrong for the route.</summary>
    ClientError = 1,

    /// <summary>400 <c>invalid_json</c> (the native 400 on wrapper routes): the body is not parseable JSON text.</summary>
    InvalidJson = 2,
}

/// <summary>A request body as sent: bytes, Content-Type (null: no header), and a Content-Length to declare instead of the real one.</summary>
internal sealed record Payload(byte[]? Bytes, string? ContentType, string Description)
{
    public const string Json = "application/json";

    /// <summary>Declared instead of the real length (sent over a raw socket, which then half-closes).</summary>
    public long? DeclaredLength { get; init; }

    /// <summary>Sent with chunked transfer encoding (no Content-Length).</summary>
    public bool Chunked { get; init; }

    public string? ContentEncoding { get; init; }
}

/// <summary>A corruption of a route's valid body.</summary>
internal sealed record BodyInput(string Name, Expect Expect, Func<JsonObject, Random, Payload> Make);

/// <summary>One field of the valid body replaced by a value of another JSON type, or removed.</summary>
internal sealed record FieldMutation(JsonPath Path, string Kind)
{
    public static readonly string[] Kinds = ["string", "number", "null", "array", "object", "bool", "missing"];

    public static string KindOf(JsonNode? node) => JsonSurgery.Kind(node) switch
    {
        JsonValueKind.String => "string",
        JsonValueKind.Number => "number",
        JsonValueKind.Null => "null",
        JsonValueKind.Array => "array",
        JsonValueKind.Object => "object",
        _ => "bool",
    };

    /// <summary>The other kinds a field of the template can be turned into.</summary>
    public static IEnumerable<FieldMutation> For(JsonObject template, JsonPath path) =>
        Kinds.Where(k => k != KindOf(Get(template, path))).Select(k => new FieldMutation(path, k));

    public Payload Apply(JsonObject template, Random rng)
    {
        JsonNode? value = Kind switch
        {
            "string" => JsonValue.Create(rng.Next(2) == 0 ? "fuzz" : ""),
            "number" => JsonValue.Create(rng.Next(2) == 0 ? 7 : -1),
            "array" => rng.Next(2) == 0 ? new JsonArray() : new JsonArray("fuzz", 1),
            "object" => rng.Next(2) == 0 ? new JsonObject() : new JsonObject { ["fuzz"] = 1 },
            "bool" => JsonValue.Create(rng.Next(2) == 0),
            _ => null,
        };
        var body = With(template, Path, value, remove: Kind == "missing");
        var shown = Kind == "missing" ? "removed" : $"= {value?.ToJsonString() ?? "null"}";
        return new Payload(Bytes(body), Payload.Json, $"{Path} {shown} (was {KindOf(Get(template, Path))})");
    }
}

/// <summary>
/// A Content-Type / framing variant of the route's valid body. <see cref="MayDropConnection"/>: the framing itself is
/// broken (the body ends before its Content-Length, or bytes follow it), so the server may close the connection instead
/// of answering — but it must not hang, and must store nothing.
/// </summary>
internal sealed record ContentInput(string Name, Expect Expect, Func<byte[], Payload> Make, bool MayDropConnection = false);

/// <summary>Which of the trace filters a query value is for.</summary>
internal enum QueryFilter
{
    Other,
    /// <summary>from / to: read by the trace list and the reports.</summary>
    Dates,
    /// <summary>limit / cursor: read by the trace lists.</summary>
    Paging,
}

/// <summary>A query string (already percent-encoded), and what a route that reads that filter must answer to it.</summary>
internal sealed record QueryInput(string Name, string Query, Expect WhereRead = Expect.Anything, QueryFilter Filter = QueryFilter.Other);

/// <summary>Who the request claims to be.</summary>
internal enum AuthKind
{
    /// <summary>What the route needs: a session, a project key, or nothing.</summary>
    Right,
    /// <summary>The project key in one of the other headers native SDKs use (valid on key routes).</summary>
    KeyInOtherHeader,
    /// <summary>No credentials at all.</summary>
    None,
    /// <summary>Credentials that are not valid for anything.</summary>
    Garbage,
    /// <summary>A valid credential of the other kind (a key on a session route and the reverse).</summary>
    WrongKind,
    /// <summary>The other tenant's valid credential of the right kind.</summary>
    OtherTenant,
    /// <summary>Ambiguous (two Authorization headers): any answer but a 5xx.</summary>
    Ambiguous,
}

/// <summary>Authentication headers; built when the case runs, from the tenants' current keys and tokens.</summary>
internal sealed record AuthInput(string Name, AuthKind Kind, Func<AuthMaterial, Random, List<KeyValuePair<string, string>>> Headers);

/// <summary>The live credentials an <see cref="AuthInput"/> is built from.</summary>
internal sealed record AuthMaterial(RouteSpec Route, string Session, string ApiKey, string OtherSession, string OtherApiKey)
{
    public string Right => Route.Auth == RouteAuth.Session ? Session : ApiKey;
    public string Wrong => Route.Auth == RouteAuth.Session ? ApiKey : Session;
}

/// <summary>One header added to a request that is otherwise right.</summary>
internal sealed record HeaderInput(string Name, string Value, string Description);

/// <summary>What fills a path parameter.</summary>
internal enum IdKind
{
    Real,
    Foreign,
    Garbage,
}

internal sealed record IdInput(IdKind Kind, string? Raw = null)
{
    public static readonly IdInput Real = new(IdKind.Real);
    public static readonly IdInput Foreign = new(IdKind.Foreign);

    public override string ToString() => Kind switch
    {
        IdKind.Real => "the tenant's own id",
        IdKind.Foreign => "another workspace's id",
        _ => Raw!.Length > 60 ? $"garbage '{Raw[..40]}…' ({Raw.Length} chars)" : $"garbage '{Raw}'",
    };
}

/// <summary>The corpora: every malformed input the suite knows, each tied to what a correct gateway answers.</summary>
internal static class FuzzInputs
{
    private static readonly (string Name, byte[] Bytes)[] BadUtf8 =
    [
        ("lone continuation byte 0x80", [0x80]),
        ("0xC3 0x28 (lead byte, no continuation)", [0xC3, 0x28]),
        ("overlong '/' 0xC0 0xAF", [0xC0, 0xAF]),
        ("overlong 3-byte 0xE0 0x80 0xAF", [0xE0, 0x80, 0xAF]),
        ("0xFF", [0xFF]),
        ("UTF-8-encoded surrogate 0xED 0xA0 0x80", [0xED, 0xA0, 0x80]),
        ("above U+10FFFF 0xF4 0x90 0x80 0x80", [0xF4, 0x90, 0x80, 0x80]),
        ("truncated sequence 0xE2 0x82", [0xE2, 0x82]),
    ];

    private static readonly string[] HugeNumbers =
    [
        "1e400", "-1e400", "-0", "123456789012345678901234567890", "1e-400", "9223372036854775808", "-9223372036854775809",
        "79228162514264337593543950336", "0.0000000000000000000000000000000000000000001", "1E+2147483648",
    ];

    public static readonly IReadOnlyList<BodyInput> Bodies = BuildBodies();

    public static readonly IReadOnlyList<ContentInput> Contents =
    [
        new("Content-Type text/plain", Expect.ClientError, b => new Payload(b, "text/plain; charset=utf-8", "the valid body as text/plain")),
        new("Content-Type multipart/form-data", Expect.ClientError, b => new Payload(
            [.. "--fuzzboundary\r\nContent-Disposition: form-data; name=\"json\"\r\nContent-Type: application/json\r\n\r\n"u8, .. b, .. "\r\n--fuzzboundary--\r\n"u8],
            "multipart/form-data; boundary=fuzzboundary", "the valid body as a multipart part")),
        new("Content-Type application/x-www-form-urlencoded", Expect.ClientError, _ => new Payload("email=a%40x.com&password=x"u8.ToArray(), "application/x-www-form-urlencoded", "a form body")),
        new("Content-Type application/octet-stream", Expect.ClientError, b => new Payload(b, "application/octet-stream", "the valid body as octet-stream")),
        new("Content-Type application/xml", Expect.ClientError, b => new Payload(b, "application/xml", "the valid body as application/xml")),
        new("Content-Type application/jsonx", Expect.ClientError, b => new Payload(b, "application/jsonx", "the valid body as application/jsonx")),
        new("no Content-Type", Expect.Anything, b => new Payload(b, null, "the valid body without a Content-Type")),
        new("empty Content-Type", Expect.Anything, b => new Payload(b, "", "the valid body with 'Content-Type:' empty")),
        new("garbage Content-Type", Expect.Anything, b => new Payload(b, ";;;=\u00e9; charset", "the valid body with Content-Type ';;;=é; charset'")),
        new("application/json; charset=latin1", Expect.Anything, b => new Payload(b, "application/json; charset=latin1", "the valid body declared latin1")),
        new("APPLICATION/JSON upper case", Expect.Anything, b => new Payload(b, "APPLICATION/JSON", "the valid body as APPLICATION/JSON")),
        new("application/problem+json", Expect.Anything, b => new Payload(b, "application/problem+json", "the valid body as application/problem+json")),
        new("UTF-16 body with charset=utf-16", Expect.Anything, b => new Payload(
            [0xFF, 0xFE, .. Encoding.Unicode.GetBytes(Encoding.UTF8.GetString(b))], "application/json; charset=utf-16", "the valid body in UTF-16LE with its BOM")),
        new("Content-Length larger than the body", Expect.ClientError, b => new Payload(b, Payload.Json, $"Content-Length {b.Length + 64} for {b.Length} bytes, then the client stops sending") { DeclaredLength = b.Length + 64 }, MayDropConnection: true),
        new("Content-Length smaller than the body", Expect.ClientError, b => new Payload(b, Payload.Json, $"Content-Length {b.Length / 2} for {b.Length} bytes") { DeclaredLength = b.Length / 2 }, MayDropConnection: true),
        new("chunked transfer encoding", Expect.Anything, b => new Payload(b, Payload.Json, "the valid body, chunked") { Chunked = true }),
        new("Content-Encoding gzip on a plain body", Expect.Anything, b => new Payload(b, Payload.Json, "the valid body labelled gzip") { ContentEncoding = "gzip" }),
    ];

    public static readonly IReadOnlyList<QueryInput> Queries =
    [
        new("to=9999-12-31", "to=9999-12-31", Expect.Anything, QueryFilter.Dates),
        new("from=0001-01-01&to=9999-12-31", "from=0001-01-01&to=9999-12-31", Expect.Anything, QueryFilter.Dates),
        new("from=9999-12-31T23:59:59.9999999Z", "from=9999-12-31T23:59:59.9999999Z", Expect.Anything, QueryFilter.Dates),
        new("to=0001-01-01T00:00:00+14:00", "to=0001-01-01T00:00:00%2B14:00", Expect.Anything, QueryFilter.Dates),
        new("from=9999-12-31T23:59:59-14:00", "from=9999-12-31T23:59:59-14:00", Expect.Anything, QueryFilter.Dates),
        new("from=-1", "from=-1", Expect.Anything, QueryFilter.Dates),
        new("from=2024-13-45", "from=2024-13-45", Expect.ClientError, QueryFilter.Dates),
        new("from=2024-02-30", "from=2024-02-30", Expect.ClientError, QueryFilter.Dates),
        new("from=0000-01-01", "from=0000-01-01", Expect.ClientError, QueryFilter.Dates),
        new("to=10000-01-01", "to=10000-01-01", Expect.ClientError, QueryFilter.Dates),
        new("from after to", "from=2025-01-01&to=2024-01-01", Expect.Anything, QueryFilter.Dates),
        new("from=99999999999999999999", "from=99999999999999999999", Expect.ClientError, QueryFilter.Dates),
        new("to=1e400", "to=1e400", Expect.ClientError, QueryFilter.Dates),
        new("from=%00", "from=%00", Expect.ClientError, QueryFilter.Dates),
        new("from=1/2/3", "from=1/2/3", Expect.Anything, QueryFilter.Dates),
        new("limit=-1", "limit=-1", Expect.ClientError, QueryFilter.Paging),
        new("limit=0", "limit=0", Expect.ClientError, QueryFilter.Paging),
        new("limit=99999999999", "limit=99999999999", Expect.ClientError, QueryFilter.Paging),
        new("limit=abc", "limit=abc", Expect.ClientError, QueryFilter.Paging),
        new("limit=1.5", "limit=1.5", Expect.ClientError, QueryFilter.Paging),
        new("limit=%FF", "limit=%FF", Expect.ClientError, QueryFilter.Paging),
        new("limit=+5", "limit=%2B5", Expect.Anything, QueryFilter.Paging),
        new("limit=Arabic-Indic five", "limit=%D9%A5", Expect.ClientError, QueryFilter.Paging),
        new("cursor=garbage", "cursor=garbage", Expect.ClientError, QueryFilter.Paging),
        new("cursor=base64 garbage", "cursor=" + Uri.EscapeDataString(Convert.ToBase64String(Encoding.UTF8.GetBytes("{\"t\":\"x\",\"id\":1e400,\"ws\":null}"))), Expect.ClientError, QueryFilter.Paging),
        new("cursor=base64 bytes", "cursor=" + Uri.EscapeDataString(Convert.ToBase64String([0xFF, 0xFE, 0x00, 0x80, 0xC3, 0x28])), Expect.ClientError, QueryFilter.Paging),
        new("cursor=%FF%FE", "cursor=%FF%FE", Expect.ClientError, QueryFilter.Paging),
        new("cursor=5000 characters", "cursor=" + new string('A', 5000), Expect.ClientError, QueryFilter.Paging),
        new("from=a&from=b", "from=a&from=b", Expect.ClientError, QueryFilter.Dates),
        new("from=2024-01-01&from=2024-02-01", "from=2024-01-01&from=2024-02-01", Expect.Anything, QueryFilter.Dates),
        new("limit=1&limit=2", "limit=1&limit=2", Expect.Anything, QueryFilter.Paging),
        new("from=%C3%28", "from=%C3%28", Expect.ClientError, QueryFilter.Dates),
        new("provider=%FF", "provider=%FF"),
        new("model=%C0%AF", "model=%C0%AF"),
        new("mode=%ED%A0%80", "mode=%ED%A0%80"),
        new("feature=6000 characters", "feature=" + new string('f', 6000)),
        new("cacheStatus=%E2%80%AE", "cacheStatus=%E2%80%AE"),
        new("project=' OR 1=1--", "project=%27%20OR%201%3D1--"),
        new("workspaceId=%FF", "workspaceId=%FF"),
        new("workspaceId=a&workspaceId=b", "workspaceId=a&workspaceId=b"),
        new("key %FF=1", "%FF=1"),
        new("=&=&", "=&=&"),
        new("a bare name", "from"),
        new("&&&", "&&&"),
        new("%00=%00", "%00=%00"),
    ];

    public static readonly IReadOnlyList<AuthInput> Auths =
    [
        new("the route's own credential", AuthKind.Right, (m, _) => Bearer(m.Right)),
        new("no Authorization header", AuthKind.None, (_, _) => []),
        new("'Authorization: Bearer' without a token", AuthKind.Garbage, (_, _) => [new("Authorization", "Bearer")]),
        new("'Authorization: Bearer' and spaces", AuthKind.Garbage, (_, _) => [new("Authorization", "Bearer    ")]),
        new("Bearer kt_ + junk", AuthKind.Garbage, (_, r) => Bearer("kt_" + Junk(r, 24))),
        new("Bearer kt_live_ + 40 unknown base62", AuthKind.Garbage, (_, r) => Bearer("kt_live_" + Base62(r, 40))),
        new("Bearer + 10 kB of junk", AuthKind.Garbage, (_, r) => Bearer(Junk(r, 10_240))),
        new("Bearer kt_live_ + 10 kB", AuthKind.Garbage, (_, r) => Bearer("kt_live_" + Base62(r, 10_240))),
        new("Basic user:password", AuthKind.Garbage, (_, _) => [new("Authorization", "Basic " + Convert.ToBase64String("fuzz@example.com:password"u8))]),
        new("the session token with its signature changed", AuthKind.Garbage, (m, _) => Bearer(Tamper(m.Session))),
        new("an unsigned (alg none) session token", AuthKind.Garbage, (m, _) => Bearer(Unsigned(m.Session))),
        new("the project key with one more character", AuthKind.Garbage, (m, _) => Bearer(m.ApiKey + "x")),
        new("a key with non-ASCII characters", AuthKind.Garbage, (_, _) => Bearer("kt_live_\u00e9\u00e8\u00ea\u00eb\u00e9\u00e8\u00ea\u00eb\u00e9\u00e8\u00ea\u00eb\u00e9\u00e8\u00ea\u00eb\u00e9\u00e8\u00ea\u00eb\u00e9\u00e8\u00ea\u00eb\u00e9\u00e8\u00ea\u00eb\u00e9\u00e8\u00ea\u00eb\u00e9\u00e8\u00ea\u00eb")),
        new("scheme 'Token' instead of 'Bearer'", AuthKind.Garbage, (m, _) => [new("Authorization", "Token " + m.Right)]),
        new("the other kind of credential", AuthKind.WrongKind, (m, _) => Bearer(m.Wrong)),
        new("the other tenant's credential", AuthKind.OtherTenant, (m, _) => Bearer(m.Route.Auth == RouteAuth.Session ? m.OtherSession : m.OtherApiKey)),
        new("the project key in x-api-key", AuthKind.KeyInOtherHeader, (m, _) => [new("x-api-key", m.ApiKey)]),
        new("the project key in x-goog-api-key", AuthKind.KeyInOtherHeader, (m, _) => [new("x-goog-api-key", m.ApiKey)]),
        new("the project key in api-key", AuthKind.KeyInOtherHeader, (m, _) => [new("api-key", m.ApiKey)]),
        new("the project key in x-killtoken-key", AuthKind.KeyInOtherHeader, (m, _) => [new("x-killtoken-key", m.ApiKey)]),
        new("10 kB of junk in x-api-key", AuthKind.Garbage, (_, r) => [new("x-api-key", "kt_live_" + Base62(r, 10_240))]),
        new("non-ASCII in x-goog-api-key", AuthKind.Garbage, (_, _) => [new("x-goog-api-key", "kt_live_\U0001F4A9\U0001F4A9\U0001F4A9\U0001F4A9\U0001F4A9\U0001F4A9\U0001F4A9\U0001F4A9\U0001F4A9\U0001F4A9\U0001F4A9\U0001F4A9\U0001F4A9\U0001F4A9\U0001F4A9\U0001F4A9")]),
        new("junk in api-key and x-killtoken-key", AuthKind.Garbage, (_, r) => [new("api-key", "kt_live_" + Base62(r, 41)), new("x-killtoken-key", Junk(r, 64))]),
        new("two Authorization headers (right, then junk)", AuthKind.Ambiguous, (m, r) => [new("Authorization", "Bearer " + m.Right), new("Authorization", "Bearer " + Junk(r, 30))]),
    ];

    /// <summary>The gateway's own headers: each sent with each of these values, on top of the right credential.</summary>
    public static readonly string[] GatewayHeaders =
        ["x-killtoken-feature", "x-killtoken-idempotency-key", "x-killtoken-cache", "x-killtoken-provider", "x-killtoken-optimization-mode", "anthropic-beta"];

    public static readonly IReadOnlyList<(string Value, string Description)> HeaderValues =
    [
        ("!@#$%^&*()_+{}|:\"<>?`~[]\\;',./", "ASCII punctuation"),
        (new string('x', 10_240), "10 kB"),
        ("caf\u00e9 \u00fcber na\u00efve", "Latin-1 letters"),
        ("\U0001F4A9\U0001F525 \u4e2d\u6587", "emoji and CJK"),
        ("\u202Eevil\u202C\u200B\uFEFF", "bidi override, zero-width space, BOM"),
        ("   ", "only spaces"),
        ("", "empty"),
        ("a, b, c", "a comma list"),
        ("-1", "-1"),
        ("null", "'null'"),
        ("${jndi:ldap://127.0.0.1/a}", "a JNDI lookup string"),
        ("\u0001\u0007\u001f", "control characters"),
    ];

    public static IEnumerable<HeaderInput> AllGatewayHeaderInputs() =>
        from header in GatewayHeaders
        from value in HeaderValues
        select new HeaderInput(header, value.Value, $"{header}: {value.Description}");

    /// <summary>Garbage for a path parameter, already percent-encoded where it has to be.</summary>
    public static readonly IReadOnlyList<string> GarbageIds =
    [
        "x", "0", "-1", "null", "undefined", "%20", "%09", "%FF", "%C3%28", "%C0%AF", "%ED%A0%80", "%F0%9F%92%A9", "%E2%80%AE",
        "a%2Fb", "%2E%2E%2Fapi", "a..b", "%25", "%27%20OR%201%3D1--", "%7B%7D", "%22%5Cud800%22", "%5Cu0000", "a:b", "*", "~", "%3F",
        "prj_aaaaaaaaaaaaaaaaaaaa", "ws_aaaaaaaaaaaaaaaaaaaa", "cred_aaaaaaaaaaaaaaaaaaaa", "req_aaaaaaaaaaaaaaaaaaaa", "usr_aaaaaaaaaaaaaaaaaaaa",
        new string('a', 3000), string.Concat(Enumerable.Repeat("%C3%A9", 300)),
    ];

    private static List<BodyInput> BuildBodies()
    {
        var list = new List<BodyInput>
        {
            new("truncated JSON", Expect.InvalidJson, (t, r) =>
            {
                var bytes = Bytes(t);
                var cut = r.Next(1, bytes.Length - 1);
                return J(bytes[..cut], $"the valid body cut after {cut} of {bytes.Length} bytes");
            }),
            new("a lone '{'", Expect.InvalidJson, (_, _) => J("{"u8.ToArray(), "'{'")),
            new("unterminated string", Expect.InvalidJson, (t, r) =>
            {
                var bytes = Bytes(t);
                var text = Encoding.UTF8.GetString(bytes);
                var at = text.LastIndexOf('"');
                return J(Encoding.UTF8.GetBytes(text[..at] + "abc"), "the last string never closed");
            }),
            new("duplicate top-level key, another value", Expect.InvalidJson, (t, r) => Duplicate(t, JsonPath.Root, r, same: false)),
            new("duplicate top-level key, same value", Expect.InvalidJson, (t, r) => Duplicate(t, JsonPath.Root, r, same: true)),
            new("duplicate key in a nested object", Expect.InvalidJson, (t, r) =>
            {
                var nested = NestedObjectPaths(t);
                return Duplicate(t, nested.Count == 0 ? JsonPath.Root : Pick(r, nested), r, same: false);
            }),
        };

        foreach (var (name, bad) in BadUtf8)
        {
            list.Add(new($"invalid UTF-8 in a value: {name}", Expect.InvalidJson, (t, r) =>
            {
                var path = Pick(r, StringPaths(t));
                return J(WithRawString(t, path, [.. "ab"u8, .. bad, .. "cd"u8]), $"{path} = \"ab{Hex(bad)}cd\"");
            }));
        }

        foreach (var (name, bad) in BadUtf8.Where((_, i) => i is 0 or 1 or 2 or 4))
        {
            list.Add(new($"invalid UTF-8 in a key: {name}", Expect.InvalidJson, (t, r) =>
            {
                var at = Pick(r, ObjectPaths(t));
                return J(WithRawMember(t, at, [(byte)'"', .. bad, (byte)'"', .. ":1"u8]), $"key \"{Hex(bad)}\" in {at}");
            }));
        }

        list.Add(new("invalid UTF-8: a value ending in a truncated sequence", Expect.InvalidJson, (t, r) =>
        {
            var path = Pick(r, StringPaths(t));
            return J(WithRawString(t, path, [.. "ab"u8, 0xE2, 0x82]), $"{path} = \"ab<E2 82>\"");
        }));

        foreach (var (escaped, what) in new[]
        {
            ("\\udfff", "a lone low surrogate \\udfff"),
            ("hi\\ud800", "a value ending in a lone high surrogate \\ud800"),
            ("\\ud800\\ud800", "two high surrogates"),
            ("\\udc00\\ud800", "a reversed surrogate pair"),
            ("a\\ud83dz", "a high surrogate followed by a letter"),
        })
        {
            list.Add(new($"escaped lone surrogate: {what}", Expect.InvalidJson, (t, r) =>
            {
                var path = Pick(r, StringPaths(t));
                return J(WithRawString(t, path, Encoding.ASCII.GetBytes(escaped)), $"{path} = \"{escaped}\"");
            }));
        }

        list.Add(new("escaped lone surrogate in a key", Expect.InvalidJson, (t, r) =>
        {
            var at = Pick(r, ObjectPaths(t));
            return J(WithRawMember(t, at, "\"\\ud800\":1"u8.ToArray()), $"key \"\\ud800\" in {at}");
        }));

        list.Add(new("arrays nested 10,000 deep in a field", Expect.ClientError, (t, r) =>
        {
            var path = Pick(r, Paths(t));
            return J(WithRawValue(t, path, Encoding.ASCII.GetBytes(new string('[', 10_000) + new string(']', 10_000))), $"{path} = [[[…]]] 10,000 deep");
        }));
        list.Add(new("objects nested 10,000 deep in a field", Expect.ClientError, (t, r) =>
        {
            var path = Pick(r, Paths(t));
            var raw = string.Concat(Enumerable.Repeat("{\"a\":", 10_000)) + "1" + new string('}', 10_000);
            return J(WithRawValue(t, path, Encoding.ASCII.GetBytes(raw)), $"{path} = {{\"a\":{{\"a\":…}}}} 10,000 deep");
        }));
        list.Add(new("the whole body nested 10,000 deep", Expect.ClientError, (_, _) =>
            J(Encoding.ASCII.GetBytes(new string('[', 10_000) + new string(']', 10_000)), "[[[…]]] 10,000 deep")));

        foreach (var number in HugeNumbers)
        {
            list.Add(new($"number {number}", Expect.Anything, (t, r) =>
            {
                var numbers = NumberPaths(t);
                var path = numbers.Count > 0 && r.Next(4) > 0 ? Pick(r, numbers) : Pick(r, Paths(t));
                return J(WithRawValue(t, path, Encoding.ASCII.GetBytes(number)), $"{path} = {number}");
            }));
        }

        list.Add(NotJsonNumber("NaN or Infinity literal", ["NaN", "Infinity", "-Infinity"]));
        list.Add(NotJsonNumber("hex, octal-looking or signed number", ["0x10", "010", "+1", "-", "--1"]));
        list.Add(NotJsonNumber("number with a dangling dot or exponent", [".5", "1.", "1e", "1e+", "1.e3"]));

        list.Add(new("empty body", Expect.InvalidJson, (_, _) => J([], "0 bytes")));
        list.Add(new("whitespace-only body", Expect.InvalidJson, (_, _) => J(" \r\n\t "u8.ToArray(), "whitespace")));
        list.Add(new("body is JSON null", Expect.ClientError, (_, _) => J("null"u8.ToArray(), "null")));
        list.Add(new("body is not an object", Expect.ClientError, (_, r) =>
        {
            var text = Pick(r, ["[]", "[{}]", "\"x\"", "0", "true", "false", "\"\"", "-1e400"]);
            return J(Encoding.ASCII.GetBytes(text), text);
        }));
        list.Add(new("empty object", Expect.Anything, (_, _) => J("{}"u8.ToArray(), "{}")));
        list.Add(new("UTF-8 BOM before the body", Expect.Anything, (t, _) => J([0xEF, 0xBB, 0xBF, .. Bytes(t)], "EF BB BF + the valid body")));
        list.Add(new("two UTF-8 BOMs before the body", Expect.ClientError, (t, _) => J([0xEF, 0xBB, 0xBF, 0xEF, 0xBB, 0xBF, .. Bytes(t)], "EF BB BF EF BB BF + the valid body")));
        list.Add(new("raw NUL inside a string", Expect.InvalidJson, (t, r) =>
        {
            var path = Pick(r, StringPaths(t));
            return J(WithRawString(t, path, [.. "a"u8, 0x00, .. "b"u8]), $"{path} = \"a<NUL>b\"");
        }));
        list.Add(new("raw NUL between tokens", Expect.InvalidJson, (t, r) =>
            J(WithRawMember(t, Pick(r, ObjectPaths(t)), [0x00, .. "\"nul\":1"u8]), "<NUL> before a member")));
        list.Add(new("NUL after the body", Expect.InvalidJson, (t, _) => J([.. Bytes(t), 0x00], "the valid body + <NUL>")));
        list.Add(new("escaped \\u0000 in a value", Expect.Anything, (t, r) =>
        {
            var path = Pick(r, StringPaths(t));
            return J(WithRawString(t, path, "a\\u0000b"u8.ToArray()), $"{path} = \"a\\u0000b\"");
        }));
        list.Add(new("100k-character string", Expect.Anything, (t, r) => Long(t, r, new string('a', 100_000), "100,000 × 'a'")));
        list.Add(new("100k non-ASCII characters", Expect.Anything, (t, r) => Long(t, r, new string('\u00e9', 100_000), "100,000 × 'é'")));
        list.Add(new("100k emoji", Expect.Anything, (t, r) => Long(t, r, string.Concat(Enumerable.Repeat("\U0001F4A9", 100_000)), "100,000 × U+1F4A9")));
        list.Add(new("100k-character key", Expect.Anything, (t, r) =>
        {
            var at = Pick(r, ObjectPaths(t));
            return J(WithRawMember(t, at, Encoding.ASCII.GetBytes(Quote(new string('k', 100_000)) + ":1")), $"a 100,000-character key in {at}");
        }));
        list.Add(new("20,000-element array", Expect.Anything, (t, r) =>
        {
            var path = Pick(r, Paths(t));
            var raw = "[" + string.Join(',', Enumerable.Repeat("1", 20_000)) + "]";
            return J(WithRawValue(t, path, Encoding.ASCII.GetBytes(raw)), $"{path} = [1,1,…] 20,000 elements");
        }));
        list.Add(new("trailing garbage", Expect.InvalidJson, (t, _) => J([.. Bytes(t), .. "x"u8], "the valid body + 'x'")));
        list.Add(new("two objects back to back", Expect.InvalidJson, (t, _) => J([.. Bytes(t), .. Bytes(t)], "the valid body twice")));
        list.Add(new("a comment", Expect.InvalidJson, (t, _) => J([.. "/* c */"u8, .. Bytes(t)], "/* c */ + the valid body")));
        list.Add(new("a trailing comma", Expect.InvalidJson, (t, _) =>
        {
            var bytes = Bytes(t);
            return J([.. bytes.AsSpan(0, bytes.Length - 1), .. ",}"u8], "the valid body with ',' before its '}'");
        }));
        list.Add(new("single-quoted strings", Expect.InvalidJson, (t, _) =>
            J(Encoding.UTF8.GetBytes(Text(t).Replace('"', '\'')), "the valid body with ' for \"")));
        list.Add(new("unquoted keys", Expect.InvalidJson, (t, _) =>
        {
            var first = t.First().Key;
            return J(Encoding.UTF8.GetBytes(Text(t).Replace(Quote(first) + ":", first + ":", StringComparison.Ordinal)), $"key {first} unquoted");
        }));
        list.Add(new("raw control character in a string", Expect.InvalidJson, (t, r) =>
        {
            var path = Pick(r, StringPaths(t));
            var c = (byte)Pick(r, [0x01, 0x0A, 0x0D, 0x09, 0x1F, 0x08]);
            return J(WithRawString(t, path, [.. "a"u8, c, .. "b"u8]), $"{path} = \"a<0x{c:X2}>b\"");
        }));
        list.Add(new("invalid escape", Expect.InvalidJson, (t, r) =>
        {
            var path = Pick(r, StringPaths(t));
            var escape = Pick(r, ["\\x41", "\\u12", "\\u12G4", "\\", "\\a", "\\U0001F4A9"]);
            return J(WithRawString(t, path, Encoding.ASCII.GetBytes("a" + escape)), $"{path} = \"a{escape}\"");
        }));
        return list;
    }

    private static BodyInput NotJsonNumber(string name, string[] literals) => new(name, Expect.InvalidJson, (t, r) =>
    {
        var literal = Pick(r, literals);
        var numbers = NumberPaths(t);
        var path = numbers.Count > 0 ? Pick(r, numbers) : Pick(r, Paths(t));
        return J(WithRawValue(t, path, Encoding.ASCII.GetBytes(literal)), $"{path} = {literal}");
    });

    private static Payload Long(JsonObject t, Random r, string value, string what)
    {
        var path = Pick(r, StringPaths(t));
        return J(WithRawValue(t, path, Encoding.UTF8.GetBytes(Quote(value))), $"{path} = {what}");
    }

    private static Payload Duplicate(JsonObject template, JsonPath at, Random r, bool same)
    {
        var target = Get(template, at) as JsonObject ?? template;
        var (key, value) = target.Count == 0 ? new KeyValuePair<string, JsonNode?>("fuzz", JsonValue.Create("a")) : target.ElementAt(r.Next(target.Count));
        var other = same ? (value is null ? "null" : Text(value)) : OtherValue(value);
        var member = Quote(key) + ":" + other;
        return J(WithRawMember(template, at, Encoding.UTF8.GetBytes(member)), $"\"{key}\" twice in {at} (second: {Clip(other)})");
    }

    private static string OtherValue(JsonNode? value) => JsonSurgery.Kind(value) switch
    {
        JsonValueKind.String when value!.GetValue<string>().Contains('@', StringComparison.Ordinal) => Quote("other-" + value.GetValue<string>()),
        JsonValueKind.String => Quote(value!.GetValue<string>() + "-other"),
        JsonValueKind.Number => (decimal.Parse(value!.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture) + 1).ToString(CultureInfo.InvariantCulture),
        JsonValueKind.True => "false",
        JsonValueKind.False => "true",
        JsonValueKind.Array => "[]",
        JsonValueKind.Object => "{}",
        _ => "\"x\"",
    };

    private static Payload J(byte[] bytes, string description) => new(bytes, Payload.Json, description);

    private static string Hex(byte[] bytes) => "<" + string.Join(' ', bytes.Select(b => b.ToString("X2", CultureInfo.InvariantCulture))) + ">";

    private static string Clip(string text) => text.Length > 40 ? text[..40] + "…" : text;

    private static List<KeyValuePair<string, string>> Bearer(string token) => [new("Authorization", "Bearer " + token)];

    private static string Junk(Random r, int length)
    {
        const string chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~+/=!$%&*()";
        return string.Create(length, r, (span, rng) =>
        {
            for (var i = 0; i < span.Length; i++)
            {
                span[i] = chars[rng.Next(chars.Length)];
            }
        });
    }

    private static string Base62(Random r, int length)
    {
        const string chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        return string.Create(length, r, (span, rng) =>
        {
            for (var i = 0; i < span.Length; i++)
            {
                span[i] = chars[rng.Next(chars.Length)];
            }
        });
    }

    /// <summary>The token with one signature character changed.</summary>
    private static string Tamper(string token)
    {
        var last = token[^2];
        return token[..^2] + (last == 'A' ? 'B' : 'A') + token[^1];
    }

    /// <summary>The token's claims under <c>{"alg":"none"}</c> and no signature.</summary>
    private static string Unsigned(string token)
    {
        var parts = token.Split('.');
        var header = Convert.ToBase64String("{\"alg\":\"none\",\"typ\":\"JWT\"}"u8).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        return parts.Length >= 2 ? $"{header}.{parts[1]}." : header + "..";
    }
}
