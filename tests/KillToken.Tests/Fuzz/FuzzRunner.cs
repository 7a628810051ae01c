using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace KillToken.Tests.Fuzz;

/// <summary>
/// One fuzz case: a route and, for each dimension, either the right thing (null) or one hostile input. The bytes are
/// built when the case runs (from the tenant's live ids and the case's own seeded generator), so a case replays from the
/// run's seed, its family and its number alone.
/// </summary>
internal sealed record FuzzCase(string Family, int Index, RouteSpec Route)
{
    public IReadOnlyDictionary<string, IdInput>? Ids { get; init; }
    public AuthInput? Auth { get; init; }
    public BodyInput? Body { get; init; }
    public FieldMutation? Field { get; init; }
    public ContentInput? Content { get; init; }
    public QueryInput? Query { get; init; }
    public HeaderInput? Header { get; init; }

    public bool UsesForeignIds => Ids?.Values.Any(i => i.Kind == IdKind.Foreign) == true;

    public bool TouchesNeighbour => UsesForeignIds || Auth?.Kind == AuthKind.OtherTenant;

    /// <summary>The auth is not good enough for the route (null: does not matter / cannot tell).</summary>
    public bool? AuthInvalid => Route.Auth == RouteAuth.None ? null : (Auth?.Kind ?? AuthKind.Right) switch
    {
        AuthKind.Right or AuthKind.OtherTenant => false,
        AuthKind.KeyInOtherHeader => Route.Auth != RouteAuth.Key,
        AuthKind.Ambiguous => null,
        _ => true,
    };

    /// <summary>The request carries the neighbour's credential: the neighbour's ids are its own, the tenant's are foreign.</summary>
    public bool ActsAsNeighbour => Auth?.Kind == AuthKind.OtherTenant;

    /// <summary>A workspace-owned path parameter that is not the caller's: garbage, or the other tenant's real id.</summary>
    public bool BadTenantOwnedId => TenantOwnedIds.Any(id => id.Kind == IdKind.Garbage || CrossTenant(id));

    /// <summary>A workspace-owned path parameter that is another workspace's real id.</summary>
    public bool CrossTenantId => TenantOwnedIds.Any(CrossTenant);

    private IEnumerable<IdInput> TenantOwnedIds => Route.Parameters.Where(FuzzRoutes.TenantOwnedParameters.Contains).Select(Id);

    private bool CrossTenant(IdInput id) => id.Kind == (ActsAsNeighbour ? IdKind.Real : IdKind.Foreign);

    public IdInput Id(string parameter) => Ids is not null && Ids.TryGetValue(parameter, out var id) ? id : IdInput.Real;

    /// <summary>The least a correct gateway must do with this case.</summary>
    public Expect Expect
    {
        get
        {
            var expect = Expect.Anything;
            if (Route.ReadsBody && Body is not null)
            {
                expect = Body.Expect;
            }

            if (Route.ReadsBody && Content is not null)
            {
                expect = Max(expect, Content.Expect);
            }

            if (Query is not null && Route.Reads(Query.Filter))
            {
                expect = Max(expect, Query.WhereRead);
            }

            if (BadTenantOwnedId || AuthInvalid == true)
            {
                expect = Max(expect, Expect.ClientError);
            }

            // invalid_json is owed only when nothing but the body is wrong: a bad key or id is refused first.
            var onlyTheBody = (Auth is null || Auth.Kind == AuthKind.Right) && Query is null && Header is null && Content is null
                && (Ids is null || Ids.Values.All(i => i.Kind == IdKind.Real));
            return expect == Expect.InvalidJson && !onlyTheBody ? Expect.ClientError : expect;
        }
    }

    private static Expect Max(Expect a, Expect b) => (Expect)Math.Max((int)a, (int)b);
}

/// <summary>Runs cases against a <see cref="FuzzWorld"/> and checks every answer against the contract.</summary>
internal static partial class FuzzRunner
{
    public static async Task RunAsync(FuzzWorld world, string test, IEnumerable<FuzzCase> sweep, Func<int, Random, FuzzCase?>? random = null, int iterationsFactor = 1)
    {
        var report = new FuzzReport(test);
        foreach (var fuzzCase in sweep)
        {
            await RunCaseAsync(world, fuzzCase, report);
        }

        if (random is not null)
        {
            var phase = Stopwatch.StartNew();
            for (var i = 0; i < FuzzSettings.Iterations * iterationsFactor && phase.Elapsed < FuzzSettings.RandomPhase; i++)
            {
                if (random(i, FuzzSettings.CaseRandom(test + "/pick", i)) is { } fuzzCase)
                {
                    await RunCaseAsync(world, fuzzCase, report);
                }
            }
        }

        report.Finish(world);
    }

    public static async Task RunCaseAsync(FuzzWorld world, FuzzCase fuzzCase, FuzzReport report)
    {
        var (request, input) = Prepare(world, fuzzCase);
        var upstreamBefore = world.UpstreamCalls;
        var clock = Stopwatch.StartNew();
        var answer = await world.SendAsync(request);
        report.Count(fuzzCase, input, clock.Elapsed);

        void Fail(string problem) => report.Add(new FuzzFailure(problem, fuzzCase, input, answer) { Cause = answer.Status >= 500 ? Cause(world, answer.Body) : null });

        var status = answer.Status;
        var expect = fuzzCase.Expect;
        if (status == 0)
        {
            if (fuzzCase.Content?.MayDropConnection != true || answer.Failure?.StartsWith("no answer within", StringComparison.Ordinal) == true)
            {
                Fail(answer.Failure ?? "no answer");
            }
        }
        else if (status >= 500)
        {
            Fail("a client's mistake answered with a server error (5xx)");
        }
        else if (status < 400 && expect >= Expect.ClientError)
        {
            Fail(fuzzCase.AuthInvalid == true ? "served without a valid credential"
                : fuzzCase.CrossTenantId ? "another workspace's data was reachable"
                : "bad input accepted instead of refused with a 4xx");
        }
        else if (status is >= 400 and < 500)
        {
            if (ShapeProblem(fuzzCase.Route.Shape, status, answer.Body) is { } shape)
            {
                Fail(shape);
            }

            if (expect == Expect.InvalidJson && (status != 400 || (fuzzCase.Route.Shape == ErrorShape.Contract && Code(answer.Body) != "invalid_json")))
            {
                Fail(fuzzCase.Route.Shape == ErrorShape.Contract
                    ? "an unparseable body not refused with 400 invalid_json"
                    : "an unparseable body not refused with a 400 in the native error shape");
            }
        }

        if (status is 0 or >= 400 && world.UpstreamCalls != upstreamBefore)
        {
            Fail("the provider was called for a refused request");
        }

        await CheckStorageAsync(world, fuzzCase, request, answer, Fail);
    }

    /// <summary>
    /// A refused write must leave the caller's workspace as it was; a write with another workspace's ids or credential must
    /// leave the other workspace as it was whatever the answer; a refused sign-up creates no user.
    /// </summary>
    private static async Task CheckStorageAsync(FuzzWorld world, FuzzCase fuzzCase, Prepared request, Answer answer, Action<string> fail)
    {
        var refused = answer.Status is 0 or >= 400;
        if (fuzzCase.Route.IsWrite)
        {
            var self = fuzzCase.ActsAsNeighbour;
            if (refused)
            {
                var (before, after) = await CompareAsync(world, self);
                if (after != before)
                {
                    fail("a refused request changed stored data: " + FuzzWorld.Difference(before, after));
                    await SettleAsync(world, self, stream: false);
                }
            }
            else
            {
                await SettleAsync(world, self, stream: answer.ContentType == "text/event-stream");
            }

            if (fuzzCase.TouchesNeighbour)
            {
                var (before, after) = await CompareAsync(world, !self);
                if (after != before)
                {
                    fail("another workspace's stored data changed: " + FuzzWorld.Difference(before, after));
                    await SettleAsync(world, !self, stream: false);
                }
            }
        }

        if (refused && fuzzCase.Route.Pattern == KillToken.Api.Hosting.Routes.SignUp && request.Body?.Bytes is { } bytes)
        {
            foreach (var email in EmailPattern().Matches(Encoding.Latin1.GetString(bytes)).Select(m => m.Value).Distinct())
            {
                if (await world.UserExistsAsync(email))
                {
                    fail($"a refused sign-up created the user {email}");
                }
            }
        }
    }

    private static async Task<(string Before, string After)> CompareAsync(FuzzWorld world, bool neighbour) => neighbour
        ? (world.NeighbourBaseline, await world.SnapshotAsync(world.Neighbour))
        : (world.TenantBaseline, await world.SnapshotAsync(world.Tenant));

    private static Task SettleAsync(FuzzWorld world, bool neighbour, bool stream) =>
        neighbour ? world.SettleNeighbourAsync(stream) : world.SettleTenantAsync(stream);

    /// <summary>Builds the request of a case: path with ids, query, headers, body.</summary>
    public static (Prepared Request, string Input) Prepare(FuzzWorld world, FuzzCase c)
    {
        var rng = FuzzSettings.CaseRandom(c.Family, c.Index);
        var unique = $"{FuzzSettings.Seed:x}-{c.Family}-{c.Index.ToString(CultureInfo.InvariantCulture)}".ToLowerInvariant();
        var context = new FuzzContext(world.Tenant, unique);
        var parts = new List<string>();

        var path = c.Route.Pattern;
        foreach (var parameter in c.Route.Parameters)
        {
            var id = c.Id(parameter);
            var value = id.Kind switch
            {
                IdKind.Real => world.RealId(parameter, c.Route),
                IdKind.Foreign => world.ForeignId(parameter, c.Route),
                _ => id.Raw!,
            };
            // {name}, or with a constraint and optional mark ({home:maxlength(0)?}).
            path = Regex.Replace(path, "\\{" + Regex.Escape(parameter) + "(:[^}]*)?\\??\\}", value.Replace("$", "$$", StringComparison.Ordinal));
            if (id.Kind != IdKind.Real)
            {
                parts.Add($"{{{parameter}}} = {id}");
            }
        }

        var query = string.Join('&', new[] { c.Route.ValidQuery?.Invoke(context), c.Query?.Query }.Where(q => !string.IsNullOrEmpty(q)));
        if (c.Query is not null)
        {
            parts.Add("query " + (c.Query.Query.Length > 80 ? c.Query.Name : "?" + c.Query.Query));
        }

        var headers = new List<KeyValuePair<string, string>>();
        if (c.Route.Auth != RouteAuth.None || c.Auth is not null)
        {
            var auth = c.Auth ?? FuzzInputs.Auths[0];
            headers.AddRange(auth.Headers(world.Material(c.Route), rng));
            if (c.Auth is not null)
            {
                parts.Add("auth: " + auth.Name);
            }
        }

        if (c.Header is not null)
        {
            headers.Add(new(c.Header.Name, c.Header.Value));
            parts.Add("header " + c.Header.Description);
        }

        var template = c.Route.ValidBody?.Invoke(context) ?? FuzzRoutes.FallbackBody(context);
        Payload? body = null;
        if (c.Body is not null)
        {
            body = c.Body.Make(template, rng);
            parts.Add($"body: {c.Body.Name}: {body.Description}");
        }
        else if (c.Field is not null)
        {
            body = c.Field.Apply(template, rng);
            parts.Add("field " + body.Description);
        }
        else if (c.Route.ReadsBody || c.Content is not null)
        {
            body = new Payload(JsonSurgery.Bytes(template), Payload.Json, "the valid body");
        }

        if (c.Content is not null)
        {
            body = c.Content.Make(body!.Bytes ?? []);
            parts.Add("content: " + body.Description);
        }

        var target = path + (query.Length > 0 ? "?" + query : string.Empty);
        return (new Prepared(c.Route.Method, target, headers, body), parts.Count == 0 ? "(all valid)" : string.Join(" | ", parts));
    }

    /// <summary>Why a 4xx body is not the error shape the route owes, or null.</summary>
    public static string? ShapeProblem(ErrorShape shape, int status, string body)
    {
        JsonNode? root;
        try
        {
            root = body.Length == 0 ? null : JsonNode.Parse(body);
        }
        catch (JsonException)
        {
            root = null;
        }

        if (root is not JsonObject)
        {
            return $"a {status} whose body is not a JSON object ({Name(shape)} error shape expected)";
        }

        static bool Text(JsonNode? node) => node is JsonValue v && v.GetValueKind() == JsonValueKind.String && !string.IsNullOrWhiteSpace(v.GetValue<string>());
        static bool TextOrNull(JsonObject obj, string key) => obj.TryGetPropertyValue(key, out var v) && (v is null || v.GetValueKind() == JsonValueKind.String);

        switch (shape)
        {
            case ErrorShape.Contract:
                return root["error"] is JsonObject e && Text(e["code"]) && Text(e["message"]) && Text(e["requestId"])
                    ? null
                    : $"a {status} not in the contract's error shape {{error:{{code,message,requestId}}}}";
            case ErrorShape.OpenAI:
                return root["error"] is JsonObject o && Text(o["message"]) && Text(o["type"]) && TextOrNull(o, "param") && TextOrNull(o, "code")
                    ? null
                    : $"a {status} not in OpenAI's error shape {{error:{{message,type,param,code}}}}";
            case ErrorShape.Anthropic:
                return root["type"]?.ToString() == "error" && root["error"] is JsonObject a && Text(a["type"]) && Text(a["message"])
                    ? null
                    : $"a {status} not in Anthropic's error shape {{type:\"error\",error:{{type,message}}}}";
            default:
                return root["error"] is JsonObject g && g["code"] is JsonValue code && code.GetValueKind() == JsonValueKind.Number
                    && code.GetValue<int>() == status && Text(g["message"]) && Text(g["status"])
                    ? null
                    : $"a {status} not in Gemini's error shape {{error:{{code:{status},message,status}}}}";
        }
    }

    public static string? Code(string body)
    {
        try
        {
            return JsonNode.Parse(body)?["error"]?["code"] is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The exception the host logged for a 5xx (type and first KillToken frame), to point a fixer at the code.</summary>
    public static string? Cause(FuzzWorld world, string body)
    {
        var requestId = RequestIdPattern().Match(body) is { Success: true } id ? id.Value : null;
        var line = requestId is null ? null : world.Host.Logs.Lines.LastOrDefault(l => l.Contains(requestId, StringComparison.Ordinal) && l.Contains("Unhandled", StringComparison.Ordinal));
        if (line is null)
        {
            return null;
        }

        var type = Regex.Match(line, @"Unhandled (\S+) in request").Groups[1].Value;
        var frame = Regex.Match(line, @"at (KillToken\.[^\s(]+)").Groups[1].Value;
        return frame.Length == 0 ? type : $"{type} at {frame}";
    }

    private static string Name(ErrorShape shape) => shape switch
    {
        ErrorShape.Contract => "the contract's",
        ErrorShape.OpenAI => "OpenAI's",
        ErrorShape.Anthropic => "Anthropic's",
        _ => "Gemini's",
    };

    [GeneratedRegex(@"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)+")]
    private static partial Regex EmailPattern();

    [GeneratedRegex("req_[a-z0-9]{20}")]
    private static partial Regex RequestIdPattern();
}

internal sealed record FuzzFailure(string Problem, FuzzCase Case, string Input, Answer Answer)
{
    /// <summary>What the host logged as the reason for a 5xx.</summary>
    public string? Cause { get; init; }

    /// <summary>The kind of input, without the case's particulars: failures of one kind on many routes are one bug.</summary>
    public string Kind => Case switch
    {
        { Body: { } body } => "body: " + body.Name,
        { Field: { } mutation } => $"a field turned into {(mutation.Kind == "missing" ? "nothing (removed)" : mutation.Kind)}",
        { Content: { } content } => content.Name,
        { Query: { } query } => "query " + query.Name,
        { Header: { } header } => header.Name + " with junk",
        { Auth: { } auth } => "auth: " + auth.Name,
        _ when Case.Ids?.Values.Any(i => i.Kind == IdKind.Foreign) == true => "another workspace's id",
        _ when Case.Ids?.Values.Any(i => i.Kind == IdKind.Garbage) == true => "a garbage id",
        _ => "valid input",
    };

    public string Line => $"{Case.Route.Name} | {Input} → {(Answer.Status == 0 ? "no answer" : Answer.Status.ToString(CultureInfo.InvariantCulture))} {OneLine(Answer.Excerpt)}{(Cause is null ? "" : " — logged: " + Cause)}  [case {Case.Family}#{Case.Index}]";

    private static string OneLine(string text) => text.Replace('\n', ' ').Replace('\r', ' ');
}

/// <summary>Collects a test's failures and fails it once, at the end, with all of them grouped by what a user would notice.</summary>
internal sealed class FuzzReport(string test)
{
    private readonly List<FuzzFailure> _failures = [];
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly HashSet<string> _routes = new(StringComparer.Ordinal);
    private int _cases;

    public IReadOnlyList<FuzzFailure> Failures => _failures;

    public IReadOnlySet<string> Routes => _routes;

    private readonly List<(TimeSpan Took, string What)> _slowest = [];

    public void Count(FuzzCase fuzzCase, string input, TimeSpan took)
    {
        _cases++;
        _routes.Add(fuzzCase.Route.Name);
        _slowest.Add((took, $"{fuzzCase.Route.Name} | {input}"));
        if (_slowest.Count > 20)
        {
            _slowest.Sort((a, b) => b.Took.CompareTo(a.Took));
            _slowest.RemoveRange(5, _slowest.Count - 5);
        }
    }

    public void Add(FuzzFailure failure) => _failures.Add(failure);

    public void Finish(FuzzWorld world)
    {
        var summary = $"{test}: {_cases} cases on {_routes.Count} endpoints in {_clock.Elapsed.TotalSeconds:F1} s, {_failures.Count} failures " +
            $"(seed {FuzzSettings.Seed}, {world.Repairs} tenant repairs after allowed writes)";
        Console.WriteLine(summary);
        foreach (var (took, what) in _slowest.OrderByDescending(s => s.Took).Take(5))
        {
            Console.WriteLine($"  slowest: {took.TotalMilliseconds:F0} ms {(what.Length > 200 ? what[..200] : what)}");
        }

        foreach (var failure in _failures)
        {
            Console.WriteLine($"  {failure.Problem} :: {failure.Line}");
        }

        if (FuzzSettings.ReportPath is { } file)
        {
            File.AppendAllLines(file, _failures.Select(f => string.Join('\t', test, f.Problem, f.Case.Route.Name, f.Input,
                f.Answer.Status.ToString(CultureInfo.InvariantCulture), f.Answer.Excerpt.Replace('\t', ' ').Replace('\n', ' '), f.Cause ?? "")));
        }

        if (_failures.Count == 0)
        {
            return;
        }

        var message = new StringBuilder()
            .AppendLine(summary)
            .AppendLine("Replay: " + FuzzSettings.Replay(test));
        foreach (var group in _failures.GroupBy(f => f.Problem).OrderByDescending(g => g.Count()))
        {
            message.AppendLine().AppendLine($"{group.Key} — {group.Count()} cases on {group.Select(f => f.Case.Route.Name).Distinct().Count()} endpoints:");
            var kinds = group.GroupBy(f => f.Kind).OrderByDescending(k => k.Count()).ToList();
            foreach (var kind in kinds.Take(25))
            {
                var routes = kind.Select(f => f.Case.Route.Name).Distinct().ToList();
                message.AppendLine($"  • {kind.Key} — on {routes.Count} endpoint(s): {string.Join(", ", routes.Take(6))}{(routes.Count > 6 ? ", …" : "")}")
                    .AppendLine($"      e.g. {kind.First().Line}");
            }

            if (kinds.Count > 25)
            {
                message.AppendLine($"  … and {kinds.Count - 25} more kinds of input (all cases are in the test output)");
            }
        }

        Assert.Fail(message.ToString());
    }
}
