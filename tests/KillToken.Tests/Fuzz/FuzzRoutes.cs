using System.Reflection;
using System.Text.Json.Nodes;
using KillToken.Api.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace KillToken.Tests.Fuzz;

/// <summary>The credential a route wants.</summary>
internal enum RouteAuth
{
    None,
    Session,
    Key,
}

/// <summary>The error body a route answers with: the contract's, or the native one of the API a wrapper imitates.</summary>
internal enum ErrorShape
{
    Contract,
    OpenAI,
    Anthropic,
    Gemini,
}

/// <summary>What fills a valid body: the tenant it is sent for and a token unique to the case.</summary>
internal sealed record FuzzContext(FuzzTenant Tenant, string Unique);

/// <summary>One endpoint of the running host (method + route pattern) and what the fuzzer knows about it.</summary>
internal sealed record RouteSpec(string Method, string Pattern, IReadOnlyList<string> Parameters)
{
    public RouteAuth Auth { get; init; }
    public ErrorShape Shape { get; init; }

    /// <summary>The handler reads a JSON body (bodies sent to other routes must simply be ignored).</summary>
    public bool ReadsBody { get; init; }

    /// <summary>A valid body, which the corruptions and the field mutations start from.</summary>
    public Func<FuzzContext, JsonObject>? ValidBody { get; init; }

    /// <summary>A valid query string (without '?'), e.g. the digest's workspaceId.</summary>
    public Func<FuzzContext, string>? ValidQuery { get; init; }

    /// <summary>Reads the from/to filters: bad dates are a 400.</summary>
    public bool ReadsDates { get; init; }

    /// <summary>Reads limit/cursor: bad values are a 400.</summary>
    public bool Paginates { get; init; }

    public bool Reads(QueryFilter filter) => filter switch
    {
        QueryFilter.Dates => ReadsDates,
        QueryFilter.Paging => Paginates,
        _ => false,
    };

    /// <summary>An accepted request costs real time (a password hash, 210k PBKDF2 rounds): CI sends it fewer valid-body cases.</summary>
    public bool Costly { get; init; }

    /// <summary>Described in <see cref="FuzzRoutes"/> (not just derived from its path).</summary>
    public bool Catalogued { get; init; }

    public bool IsWrite => Method is not ("GET" or "HEAD");

    public string Name => $"{Method} /{Pattern}";

    public override string ToString() => Name;
}

/// <summary>
/// The endpoints to fuzz, read from the running host's endpoint data source (so a route mapped later is fuzzed with
/// no change here), and the hand-written knowledge of each: valid bodies and queries. A route nobody described yet is
/// still fuzzed with what its path implies; <see cref="RouteFuzzTests.EveryRouteInTheRouteTable_IsServedAndFuzzed"/>
/// fails until it is described.
/// </summary>
internal static class FuzzRoutes
{
    /// <summary>Parameters the fuzzer can fill with a real id of the tenant.</summary>
    public static readonly IReadOnlySet<string> KnownParameters = new HashSet<string>(StringComparer.Ordinal)
    {
        "workspaceId", "projectId", "credentialId", "requestId", "model", "userId", "inviteId", "token", "home", "file", "project",
    };

    /// <summary>Parameters whose value belongs to one workspace: another workspace's value must be refused.</summary>
    public static readonly IReadOnlySet<string> TenantOwnedParameters = new HashSet<string>(StringComparer.Ordinal)
    {
        "workspaceId", "projectId", "credentialId", "requestId", "inviteId",
    };

    private static readonly JsonArray AllScopes = ["chat", "analytics:read", "credentials:write"];

    private static readonly Dictionary<string, Func<RouteSpec, RouteSpec>> Catalog = new(StringComparer.Ordinal)
    {
        [Key("GET", Routes.Health)] = r => r,
        [Key("GET", Routes.Ready)] = r => r,

        [Key("POST", Routes.Chat)] = r => r with { ValidBody = ChatBody },
        [Key("GET", Routes.Requests)] = r => r with { ReadsDates = true, Paginates = true },
        [Key("GET", Routes.RequestById)] = r => r,
        [Key("GET", Routes.Summary)] = r => r with { ReadsDates = true },
        [Key("GET", Routes.RoiReport)] = r => r with { ReadsDates = true },
        [Key("GET", Routes.ExportRequestsCsv)] = r => r with { ReadsDates = true },
        [Key("GET", Routes.ExportAnalyticsJson)] = r => r with { ReadsDates = true },

        [Key("POST", Routes.OpenAIChatCompletions)] = r => r with { ValidBody = OpenAIBody },
        [Key("GET", Routes.OpenAIModels)] = r => r,
        [Key("POST", Routes.AnthropicMessages)] = r => r with { ValidBody = AnthropicBody },
        [Key("POST", Routes.AnthropicV1Messages)] = r => r with { ValidBody = AnthropicBody },
        [Key("POST", Routes.GeminiGenerateContent)] = r => r with { ValidBody = GeminiBody },
        [Key("POST", Routes.GeminiStreamGenerateContent)] = r => r with { ValidBody = GeminiBody },
        [Key("POST", Routes.ProxyOpenAIChatCompletions)] = r => r with { ValidBody = OpenAIBody },
        [Key("GET", Routes.ProxyOpenAIModels)] = r => r,
        [Key("POST", Routes.ProxyAnthropicMessages)] = r => r with { ValidBody = AnthropicBody },
        [Key("POST", Routes.ProxyGeminiGenerateContent)] = r => r with { ValidBody = GeminiBody },
        [Key("POST", Routes.ProxyGeminiStreamGenerateContent)] = r => r with { ValidBody = GeminiBody },
        [Key("POST", Routes.ProxyGeminiGenerateContentPath)] = r => r with { ValidBody = GeminiBody },

        [Key("GET", Routes.Credentials)] = r => r,
        [Key("POST", Routes.Credentials)] = r => r with { ValidBody = CredentialBody },
        [Key("GET", Routes.CredentialById)] = r => r,
        [Key("PATCH", Routes.CredentialById)] = r => r with { ValidBody = CredentialPatchBody },
        [Key("DELETE", Routes.CredentialById)] = r => r with { ReadsBody = false },
        [Key("POST", Routes.CredentialTest)] = r => r with { ReadsBody = false },

        [Key("POST", Routes.SignUp)] = r => r with { Costly = true, ValidBody = c => new JsonObject { ["email"] = $"fuzz-{c.Unique}@example.com", ["password"] = "correct horse battery " + c.Unique, ["name"] = "Fuzz " + c.Unique } },
        [Key("POST", Routes.Login)] = r => r with { Costly = true, ValidBody = c => new JsonObject { ["email"] = c.Tenant.Email, ["password"] = c.Tenant.Password } },
        [Key("GET", Routes.Me)] = r => r,
        [Key("GET", Routes.Workspaces)] = r => r,
        [Key("POST", Routes.Workspaces)] = r => r with { ValidBody = c => new JsonObject { ["name"] = "fuzz " + c.Unique } },
        [Key("GET", Routes.WorkspaceById)] = r => r with { ReadsBody = false },
        [Key("PATCH", Routes.WorkspaceById)] = r => r with { ValidBody = c => new JsonObject { ["name"] = "fuzz " + c.Unique } },
        // The body carries the typed confirmation: every fuzz tenant's workspace is named "fuzz workspace" (and has a spare).
        [Key("DELETE", Routes.WorkspaceById)] = r => r with { ReadsBody = true, ValidBody = c => new JsonObject { ["confirmName"] = "fuzz workspace" } },
        [Key("GET", Routes.WorkspaceProjects)] = r => r,
        [Key("POST", Routes.WorkspaceProjects)] = r => r with
        {
            ValidBody = c => new JsonObject
            {
                ["name"] = "fuzz " + c.Unique, ["dailyBudgetUsd"] = 5, ["monthlyBudgetUsd"] = 100.5, ["fallbackModel"] = "gpt-4o-mini",
                ["fallbackProvider"] = "openai", ["alertEmail"] = $"ops-{c.Unique}@example.com", ["scopes"] = new JsonArray("chat", "analytics:read"),
            },
        },
        [Key("GET", Routes.ProjectById)] = r => r,
        [Key("PATCH", Routes.ProjectById)] = r => r with
        {
            ValidBody = c => new JsonObject
            {
                ["name"] = "fuzz " + c.Unique, ["dailyBudgetUsd"] = null, ["monthlyBudgetUsd"] = null, ["fallbackModel"] = null,
                ["fallbackProvider"] = null, ["alertEmail"] = null, ["scopes"] = AllScopes.DeepClone(),
            },
        },
        [Key("POST", Routes.ProjectRegenerateKey)] = r => r with { ReadsBody = false },
        [Key("POST", Routes.ProjectDeactivate)] = r => r with { ReadsBody = false },
        [Key("POST", Routes.ProjectActivate)] = r => r with { ReadsBody = false },
        [Key("GET", Routes.WorkspaceCredentials)] = r => r,
        [Key("POST", Routes.WorkspaceCredentials)] = r => r with { ValidBody = CredentialBody },
        [Key("PATCH", Routes.WorkspaceCredentialById)] = r => r with { ValidBody = CredentialPatchBody },
        [Key("DELETE", Routes.WorkspaceCredentialById)] = r => r with { ReadsBody = false },
        [Key("POST", Routes.WorkspaceCredentialTest)] = r => r with { ReadsBody = false },
        [Key("GET", Routes.WorkspaceRequests)] = r => r with { ReadsDates = true, Paginates = true },
        [Key("GET", Routes.WorkspacePricing)] = r => r,
        [Key("PUT", Routes.WorkspacePricing)] = r => r with
        {
            ValidBody = _ => new JsonObject
            {
                ["models"] = new JsonArray(new JsonObject { ["provider"] = "openai", ["model"] = "gpt-4o-mini", ["input"] = 0.15, ["output"] = 0.6, ["cachedInput"] = 0.075 }),
            },
        },
        [Key("POST", Routes.MonthlyDigestTest)] = r => r with { ReadsBody = false, ValidQuery = c => "workspaceId=" + c.Tenant.WorkspaceId },
        [Key("GET", Routes.WorkspaceMembers)] = r => r,
        // The tenant's own membership: keeping its role is the one change its last owner may make.
        [Key("PATCH", Routes.WorkspaceMemberById)] = r => r with { ValidBody = _ => new JsonObject { ["role"] = "owner" } },
        [Key("DELETE", Routes.WorkspaceMemberById)] = r => r with { ReadsBody = false },
        [Key("GET", Routes.WorkspaceInvites)] = r => r,
        [Key("POST", Routes.WorkspaceInvites)] = r => r with { ValidBody = c => new JsonObject { ["email"] = $"invite-{c.Unique}@example.com", ["role"] = "admin" } },
        [Key("POST", Routes.WorkspaceInviteResend)] = r => r with { ReadsBody = false },
        [Key("DELETE", Routes.WorkspaceInviteById)] = r => r with { ReadsBody = false },
        [Key("GET", Routes.InviteByToken)] = r => r with { Auth = RouteAuth.None },
        [Key("POST", Routes.InviteAccept)] = r => r with { ReadsBody = false },
        [Key("GET", Routes.WorkspaceAudit)] = r => r with { Paginates = true },
        [Key("GET", Routes.Dashboard)] = r => r,
        [Key("GET", Routes.InvitePage)] = r => r,
        [Key("GET", Routes.DashboardAsset)] = r => r,
        [Key("GET", Routes.DashboardProject)] = r => r,
        [Key("GET", Routes.OpenApiDocument)] = r => r,
        [Key("GET", Routes.ApiReference)] = r => r,
        [Key("GET", Routes.ApiReferenceAsset)] = r => r,
        [Key("GET", Routes.LlmsTxt)] = r => r,
        [Key("GET", Routes.LlmsFullTxt)] = r => r,
        [Key("GET", Routes.AnalyticsOverview)] = Analytics,
        [Key("GET", Routes.AnalyticsTrends)] = Analytics,
        [Key("GET", Routes.AnalyticsProviders)] = Analytics,
        [Key("GET", Routes.AnalyticsModels)] = Analytics,
        [Key("GET", Routes.AnalyticsProjects)] = Analytics,
        [Key("GET", Routes.AnalyticsFeatures)] = Analytics,
        [Key("GET", Routes.AnalyticsExportCsv)] = Analytics,
        [Key("GET", Routes.AnalyticsSummary)] = Analytics,
        [Key("GET", Routes.AnalyticsRoi)] = Analytics,
    };

    /// <summary>The route table as declared: every constant of <see cref="Routes"/>.</summary>
    public static IReadOnlyDictionary<string, string> Table() =>
        typeof(Routes).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral && f.FieldType == typeof(string))
            .ToDictionary(f => f.Name, f => (string)f.GetRawConstantValue()!, StringComparer.Ordinal);

    /// <summary>Every endpoint the running host serves, described.</summary>
    public static List<RouteSpec> FromHost(IServiceProvider services)
    {
        var specs = new List<RouteSpec>();
        foreach (var endpoint in services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>())
        {
            var pattern = (endpoint.RoutePattern.RawText ?? string.Empty).TrimStart('/');
            var parameters = endpoint.RoutePattern.Parameters.Select(p => p.Name).ToList();
            var methods = endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["GET"];
            foreach (var method in methods)
            {
                specs.Add(Describe(method, pattern, parameters));
            }
        }

        return [.. specs.OrderBy(s => s.Pattern, StringComparer.Ordinal).ThenBy(s => s.Method, StringComparer.Ordinal)];
    }

    public static RouteSpec Describe(string method, string pattern, IReadOnlyList<string> parameters)
    {
        var spec = new RouteSpec(method, pattern, parameters)
        {
            Auth = pattern.StartsWith("api/auth/", StringComparison.Ordinal) ? RouteAuth.None
                : pattern.StartsWith("api/", StringComparison.Ordinal) ? RouteAuth.Session
                : pattern.StartsWith("v1/", StringComparison.Ordinal) || pattern.StartsWith("proxy/", StringComparison.Ordinal) ? RouteAuth.Key
                : RouteAuth.None,
            Shape = ShapeOf(pattern),
            ReadsBody = method is "POST" or "PUT" or "PATCH",
        };
        return Catalog.TryGetValue(Key(method, pattern), out var describe) ? describe(spec) with { Catalogued = true } : spec;
    }

    public static ErrorShape ShapeOf(string pattern)
    {
        bool Under(string api) => pattern.StartsWith($"v1/{api}/", StringComparison.Ordinal) || pattern.StartsWith($"proxy/{api}/", StringComparison.Ordinal);
        return Under("openai") ? ErrorShape.OpenAI : Under("anthropic") ? ErrorShape.Anthropic : Under("gemini") ? ErrorShape.Gemini : ErrorShape.Contract;
    }

    /// <summary>A body for routes nobody described: an object with one string, enough for the corruptions to work on.</summary>
    public static JsonObject FallbackBody(FuzzContext c) => new() { ["name"] = "fuzz " + c.Unique };

    private static string Key(string method, string pattern) => method + " " + pattern;

    /// <summary>Seed 002's analytics: the workspace in the query, and the range filters.</summary>
    private static RouteSpec Analytics(RouteSpec r) => r with { ReadsDates = true, ValidQuery = c => "workspaceId=" + c.Tenant.WorkspaceId };

    private static JsonObject ChatBody(FuzzContext c) => new()
    {
        ["provider"] = "openai",
        ["model"] = "gpt-4o-mini",
        ["messages"] = new JsonArray(
            new JsonObject { ["role"] = "system", ["content"] = "Be brief." },
            new JsonObject { ["role"] = "user", ["content"] = "Say hi to Zo\u00eb" }),
        ["optimizationMode"] = "measure_only",
        ["metadata"] = new JsonObject { ["feature"] = "fuzz" },
        ["cachePolicy"] = new JsonObject { ["exactCache"] = "bypass" },
        ["idempotencyKey"] = "fuzz-" + c.Unique,
        ["providerOptions"] = new JsonObject { ["max_tokens"] = 16, ["temperature"] = 0.2 },
        ["stream"] = false,
    };

    private static JsonObject OpenAIBody(FuzzContext c) => new()
    {
        ["model"] = "gpt-4o-mini",
        ["messages"] = new JsonArray(
            new JsonObject { ["role"] = "system", ["content"] = "Be brief." },
            new JsonObject { ["role"] = "user", ["content"] = "Say hi to Zo\u00eb" }),
        ["max_tokens"] = 16,
        ["temperature"] = 0.2,
        ["stream"] = false,
        ["metadata"] = new JsonObject { ["feature"] = "fuzz" },
        ["user"] = "fuzz-" + c.Unique,
    };

    private static JsonObject AnthropicBody(FuzzContext c) => new()
    {
        ["model"] = "claude-3-5-haiku-latest",
        ["max_tokens"] = 16,
        ["system"] = "Be brief.",
        ["messages"] = new JsonArray(
            new JsonObject { ["role"] = "user", ["content"] = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = "Say hi to Zo\u00eb" }) }),
        ["temperature"] = 0.2,
        ["stream"] = false,
        ["metadata"] = new JsonObject { ["user_id"] = "fuzz-" + c.Unique },
    };

    private static JsonObject GeminiBody(FuzzContext c) => new()
    {
        ["contents"] = new JsonArray(new JsonObject
        {
            ["role"] = "user",
            ["parts"] = new JsonArray(new JsonObject { ["text"] = "Say hi to Zo\u00eb " + c.Unique }),
        }),
        ["systemInstruction"] = new JsonObject { ["parts"] = new JsonArray(new JsonObject { ["text"] = "Be brief." }) },
        ["generationConfig"] = new JsonObject { ["maxOutputTokens"] = 16, ["temperature"] = 0.2 },
    };

    private static JsonObject CredentialBody(FuzzContext c) => new()
    {
        ["provider"] = "azure_openai",
        ["label"] = "fuzz " + c.Unique,
        ["apiKey"] = $"azk-fuzz-{c.Unique}-0123456789abcdef",
        ["config"] = new JsonObject
        {
            ["endpoint"] = $"https://fuzz-{c.Unique}.openai.azure.com",
            ["deployment"] = "gpt-4o-mini",
            ["apiVersion"] = "2024-10-21",
        },
    };

    private static JsonObject CredentialPatchBody(FuzzContext c) => new() { ["label"] = "fuzz " + c.Unique, ["status"] = "active" };
}
