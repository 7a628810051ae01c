using System.Net;
using System.Reflection;
using System.Text.RegularExpressions;
using KillToken.Api.Hosting;
using KillToken.Api.OpenApi;
using KillToken.Api.Security;
using KillToken.Core.Gateway;
using KillToken.Tests.Functions;
using KillToken.Tests.TestInfrastructure;

namespace KillToken.Tests.ApiReference;

/// <summary>
/// llms-full.txt is the whole integration guide a coding agent reads in one pass, so it must not drift from the code: it
/// names every operation of <see cref="ApiCatalog"/> (method and path) and no other, every <see cref="ErrorCodes"/> value
/// in its error table and no other code anywhere, exactly the <c>x-killtoken-*</c> headers the code uses, every
/// <c>/v1/chat</c> field and metrics field; and both hosts serve it, and llms.txt, byte for byte as the repository holds them.
/// </summary>
[TestClass]
public sealed partial class LlmsFullTxtTests
{
    private const string ErrorsHeading = "## 10. Errors";

    private static string Text => File.ReadAllText(Path.Combine(Repository.Root, "llms-full.txt"));

    [TestMethod]
    public void ItNamesEveryOperationOfTheCatalog_AndNoOther()
    {
        var catalog = ApiCatalog.Operations.Select(o => $"{o.Method} {PathOf(o.Route)}").ToHashSet(StringComparer.Ordinal);
        var named = MethodAndPath().Matches(Text).Select(m => $"{m.Groups["method"].Value} {TrimPath(m.Groups["path"].Value)}").ToHashSet(StringComparer.Ordinal);

        Assert.IsGreaterThan(60, catalog.Count, "the catalog was not read");
        var missing = catalog.Except(named).Order(StringComparer.Ordinal).ToList();
        var unknown = named.Except(catalog).Order(StringComparer.Ordinal).ToList();
        Assert.IsEmpty(missing, "llms-full.txt does not name: " + string.Join(", ", missing));
        Assert.IsEmpty(unknown, "llms-full.txt names operations the gateway does not have: " + string.Join(", ", unknown));
    }

    [TestMethod]
    public void EveryPathItNames_IsARouteOrTheBaseOfOne()
    {
        var templates = ApiCatalog.Operations.Select(o => PathOf(o.Route)).Distinct(StringComparer.Ordinal).ToList();
        var patterns = templates.Select(t => new Regex("^" + Regex.Replace(Regex.Escape(t), @"\\\{[A-Za-z]+}", "[^/]+") + "$")).ToList();

        var named = ApiPath().Matches(Text).Select(m => TrimPath(m.Groups[1].Value).TrimEnd('/')).ToHashSet(StringComparer.Ordinal);
        Assert.IsGreaterThan(40, named.Count, "the paths were not read");
        foreach (var path in named)
        {
            var isRoute = patterns.Any(p => p.IsMatch(path));
            var isBase = templates.Any(t => t.StartsWith(path + "/", StringComparison.Ordinal));
            Assert.IsTrue(isRoute || isBase, $"llms-full.txt names {path}, which is no route and the base of none");
        }
    }

    [TestMethod]
    public void ItsErrorTable_IsExactlyTheGatewaysErrorCodes_AndEveryCodeItMentionsIsOne()
    {
        var text = Text;
        var codes = typeof(ErrorCodes).GetFields().Where(f => f.IsLiteral).Select(f => (string)f.GetRawConstantValue()!).ToHashSet(StringComparer.Ordinal);
        var start = text.IndexOf(ErrorsHeading, StringComparison.Ordinal);
        Assert.IsGreaterThanOrEqualTo(0, start, $"llms-full.txt has no '{ErrorsHeading}' section");
        var section = text[start..];
        var end = section.IndexOf("\n## ", ErrorsHeading.Length, StringComparison.Ordinal);
        section = end < 0 ? section : section[..end];

        var table = ErrorRow().Matches(section).ToDictionary(m => m.Groups["code"].Value, m => m.Groups["status"].Value, StringComparer.Ordinal);
        var missing = codes.Except(table.Keys).Order(StringComparer.Ordinal).ToList();
        var unknown = table.Keys.Except(codes).Order(StringComparer.Ordinal).ToList();
        Assert.IsEmpty(missing, "the error table lacks: " + string.Join(", ", missing));
        Assert.IsEmpty(unknown, "the error table lists codes the gateway never answers: " + string.Join(", ", unknown));
        foreach (var (code, status) in table)
        {
            Assert.MatchesRegex(StatusInCell(), status, $"the error table gives {code} no HTTP status");
        }

        // Anywhere else, "`429 budget_exceeded`", "429 `budget_exceeded`" or "`client_closed_request` (499)": a real code,
        // with a status its row gives.
        var mentions = StatusThenCode().Matches(text).Select(m => (Code: m.Groups["code"].Value, Status: m.Groups["status"].Value))
            .Concat(CodeThenStatus().Matches(text).Select(m => (Code: m.Groups["code"].Value, Status: m.Groups["status"].Value)))
            .Concat(StatusAndCode().Matches(text).Select(m => (Code: m.Groups["code"].Value, Status: m.Groups["status"].Value)))
            .ToList();
        Assert.IsGreaterThan(20, mentions.Count, "the code mentions were not read");
        foreach (var (code, status) in mentions)
        {
            Assert.IsTrue(table.TryGetValue(code, out var cell), $"llms-full.txt mentions {status} `{code}`, which is no error code of the gateway");
            Assert.IsTrue(cell.Contains(status, StringComparison.Ordinal), $"llms-full.txt mentions {status} `{code}`, but its row in the error table says {cell}");
        }
    }

    [TestMethod]
    public void TheKillTokenHeadersItNames_AreExactlyTheOnesTheCodeUses()
    {
        var text = Text;
        var named = KillTokenHeader().Matches(text).Select(m => m.Value.ToLowerInvariant()).ToHashSet(StringComparer.Ordinal);
        var used = Directory.EnumerateFiles(Path.Combine(Repository.Root, "src"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .SelectMany(f => HeaderLiteral().Matches(File.ReadAllText(f)).Select(m => m.Groups[1].Value.ToLowerInvariant()))
            .ToHashSet(StringComparer.Ordinal);

        Assert.IsGreaterThan(5, used.Count, "the code's header names were not read");
        var undocumented = used.Except(named).Order(StringComparer.Ordinal).ToList();
        var invented = named.Except(used).Order(StringComparer.Ordinal).ToList();
        Assert.IsEmpty(undocumented, "the code uses headers llms-full.txt does not name: " + string.Join(", ", undocumented));
        Assert.IsEmpty(invented, "llms-full.txt names headers no code reads or writes: " + string.Join(", ", invented));

        // The other headers a client deals with: where a key may be sent, and what an answer carries.
        foreach (var header in ApiKeyAuthenticator.KeyHeaders.Concat(CorsOrigins.ResponseHeaders))
        {
            Assert.IsTrue(text.Contains($"`{header}", StringComparison.Ordinal), $"llms-full.txt does not name the header {header}");
        }
    }

    [TestMethod]
    public void ItNamesEveryChatField_AndEveryMetricsField()
    {
        var text = Text;
        foreach (var field in ChatRequestParser.ChatFields)
        {
            Assert.IsTrue(text.Contains($"`{field}`", StringComparison.Ordinal), $"llms-full.txt does not describe the /v1/chat field {field}");
        }

        var metrics = typeof(ChatMetrics).GetProperties(BindingFlags.Public | BindingFlags.Instance).Select(p => JsonName(p.Name)).ToList();
        Assert.IsGreaterThan(20, metrics.Count);
        foreach (var field in metrics)
        {
            Assert.IsTrue(text.Contains($"`{field}`", StringComparison.Ordinal), $"llms-full.txt does not describe the metrics field {field}");
        }
    }

    [TestMethod]
    public void TheShortIndex_PointsToTheFullGuide()
    {
        var index = File.ReadAllText(Path.Combine(Repository.Root, "llms.txt"));
        Assert.IsTrue(index.Contains("(/llms-full.txt)", StringComparison.Ordinal), "llms.txt does not link /llms-full.txt");
        Assert.IsTrue(Text.Contains("(/llms.txt)", StringComparison.Ordinal), "llms-full.txt does not link /llms.txt");
    }

    [TestMethod]
    [DataRow(HostKind.SelfHost)]
    [DataRow(HostKind.Functions)]
    public async Task BothFiles_AreServed_ByteForByte(HostKind kind)
    {
        await using var host = await HostUnderTest.StartAsync(kind, new Dictionary<string, string?>());
        foreach (var (route, file) in new[] { (Routes.LlmsTxt, "llms.txt"), (Routes.LlmsFullTxt, "llms-full.txt") })
        {
            using var response = await host.Client.GetAsync(route);
            Assert.AreEqual(HttpStatusCode.OK, response.StatusCode, route);
            Assert.AreEqual("text/markdown", response.Content.Headers.ContentType?.MediaType, route);
            Assert.AreEqual("utf-8", response.Content.Headers.ContentType?.CharSet, route);
            var expected = await File.ReadAllBytesAsync(Path.Combine(Repository.Root, file));
            var served = await response.Content.ReadAsByteArrayAsync();
            Assert.IsGreaterThan(1000, expected.Length, $"{file} is not the guide");
            CollectionAssert.AreEqual(expected, served, $"/{route} is not the repository's {file}");
        }

        // Not also under the reference page's asset route.
        using var asset = await host.Client.GetAsync("docs/llms-full.txt");
        Assert.AreEqual(HttpStatusCode.NotFound, asset.StatusCode);
    }

    /// <summary>A route template as a client writes the path: the site root for the dashboard's, <c>{name}</c> without constraints.</summary>
    private static string PathOf(string route) =>
        route.StartsWith('{') ? "/" : "/" + TemplateParameter().Replace(route, "{$1}");

    private static string TrimPath(string path) => path.TrimEnd('.', ',', ':', ')');

    private static string JsonName(string property) => char.ToLowerInvariant(property[0]) + property[1..];

    [GeneratedRegex(@"\{([A-Za-z]+)[^}]*\}")]
    private static partial Regex TemplateParameter();

    /// <summary>An operation as the guide writes it: <c>GET /v1/requests</c>, <c>POST /api/invites/{token}/accept</c>, <c>GET /</c>.</summary>
    [GeneratedRegex(@"\b(?<method>GET|POST|PUT|PATCH|DELETE) (?<path>/[A-Za-z0-9_.{}:/-]*)")]
    private static partial Regex MethodAndPath();

    /// <summary>A gateway path anywhere (not inside another host's URL): <c>/v1/…</c>, <c>/api/…</c>, <c>/proxy/…</c>.</summary>
    [GeneratedRegex(@"(?<![A-Za-z.])(/(?:v1|api|proxy)(?:/[A-Za-z0-9_.{}:-]*)*)")]
    private static partial Regex ApiPath();

    /// <summary>A row of the error table: <c>| `budget_exceeded` | 429 | …</c>.</summary>
    [GeneratedRegex(@"^\| `(?<code>[a-z]+(?:_[a-z]+)*)` \| (?<status>[^|]+) \|", RegexOptions.Multiline)]
    private static partial Regex ErrorRow();

    [GeneratedRegex(@"\b[45]\d\d\b|\b4xx\b")]
    private static partial Regex StatusInCell();

    [GeneratedRegex(@"\b(?<status>[1-5]\d\d) `(?<code>[a-z]+(?:_[a-z]+)*)`")]
    private static partial Regex StatusThenCode();

    [GeneratedRegex(@"`(?<code>[a-z]+(?:_[a-z]+)*)` \((?<status>[1-5]\d\d)\)")]
    private static partial Regex CodeThenStatus();

    [GeneratedRegex(@"`(?<status>[1-5]\d\d) (?<code>[a-z]+(?:_[a-z]+)*)`")]
    private static partial Regex StatusAndCode();

    [GeneratedRegex(@"x-killtoken-[a-z]+(?:-[a-z]+)*", RegexOptions.IgnoreCase)]
    private static partial Regex KillTokenHeader();

    [GeneratedRegex(@"""(x-killtoken-[a-z]+(?:-[a-z]+)*)""", RegexOptions.IgnoreCase)]
    private static partial Regex HeaderLiteral();
}
