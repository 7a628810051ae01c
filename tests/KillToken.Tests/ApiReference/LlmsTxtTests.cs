using System.Text.RegularExpressions;
using KillToken.Api.Hosting;
using KillToken.Core.Gateway;
using KillToken.Tests.TestInfrastructure;

namespace KillToken.Tests.ApiReference;

/// <summary>llms.txt tells a coding assistant what to call: every route and error code it names must be real.</summary>
[TestClass]
public sealed partial class LlmsTxtTests
{
    [TestMethod]
    public void EveryRouteAndErrorCodeItNames_Exists()
    {
        var text = File.ReadAllText(Path.Combine(Repository.Root, "llms.txt"));
        var routes = typeof(Routes).GetFields().Where(f => f.IsLiteral).Select(f => (string)f.GetRawConstantValue()!)
            .Select(r => "/" + TemplateParameter().Replace(r, "{$1}")).ToHashSet(StringComparer.Ordinal);

        var named = ApiPath().Matches(text).Select(m => m.Groups[1].Value.TrimEnd('.', ',', ')')).ToHashSet(StringComparer.Ordinal);
        Assert.IsGreaterThan(8, named.Count);
        foreach (var path in named)
        {
            Assert.IsTrue(routes.Contains(path) || routes.Any(r => r.StartsWith(path + "/", StringComparison.Ordinal)), $"llms.txt names {path}, which is no route");
        }

        var codes = typeof(ErrorCodes).GetFields().Where(f => f.IsLiteral).Select(f => (string)f.GetRawConstantValue()!).ToHashSet(StringComparer.Ordinal);
        var errors = text[text.IndexOf("## Errors", StringComparison.Ordinal)..];
        errors = errors[..errors.IndexOf("\n## ", StringComparison.Ordinal)];
        var namedCodes = ErrorCode().Matches(errors).Select(m => m.Groups[1].Value).ToList();
        Assert.IsGreaterThan(8, namedCodes.Count);
        foreach (var code in namedCodes)
        {
            Assert.IsTrue(codes.Contains(code), $"llms.txt names the error code {code}, which the gateway never answers");
        }
    }

    [GeneratedRegex(@"\{([A-Za-z]+)[^}]*\}")]
    private static partial Regex TemplateParameter();

    /// <summary>A path in backticks or after a method: /v1/…, /api/…, /docs, /openapi/v1.json, /llms.txt.</summary>
    [GeneratedRegex(@"(?:GET|POST|PATCH|PUT|DELETE|\|)\s+`?(/(?:v1|api)/[A-Za-z0-9_./{}:-]+)")]
    private static partial Regex ApiPath();

    /// <summary>A code in backticks (the errors section names nothing else that way), e.g. `budget_exceeded`.</summary>
    [GeneratedRegex(@"`([a-z]+(?:_[a-z]+)*)`")]
    private static partial Regex ErrorCode();
}
