using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace KillToken.Api.OpenApi;

/// <summary>The document's title, its auth schemes, and the error body every operation shares.</summary>
internal sealed class KillTokenDocumentTransformer : IOpenApiDocumentTransformer
{
    public const string ProjectKeyBearer = "projectKey";
    public const string ProjectKeyHeader = "projectKeyHeader";
    public const string Session = "session";
    /// <summary>The headers the native SDKs send their key in, accepted on the wrapper routes (and everywhere a key is).</summary>
    public static readonly (string Scheme, string Header, string Sdk)[] SdkKeyHeaders =
    [
        ("anthropicKeyHeader", "x-api-key", "the Anthropic SDK"),
        ("azureOpenAIKeyHeader", "api-key", "the Azure OpenAI SDK"),
        ("geminiKeyHeader", "x-goog-api-key", "the Gemini SDK"),
    ];

    public Task TransformAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        document.Info = new OpenApiInfo
        {
            Title = "KillToken",
            Version = "v1",
            Description = "An LLM gateway: per-project USD budgets with a cheaper fallback near the limit, prompt waste measurement, "
                + "safe optimizations, a repeat-safe response cache, exactly-once idempotency, strict BYOK provider keys, and cost, savings "
                + "and ROI reports. Gateway routes take a project key; the management API (/api/…) takes a dashboard session. Every error "
                + "is { \"error\": { \"code\", \"message\", \"requestId\" } } (the wrapper routes answer in the shape of the API they imitate).",
        };
        document.Servers = [];
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        var schemes = document.Components.SecuritySchemes;
        schemes[ProjectKeyBearer] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http, Scheme = "bearer", BearerFormat = "kt_…",
            Description = "The project key: Authorization: Bearer kt_…",
        };
        schemes[ProjectKeyHeader] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.ApiKey, In = ParameterLocation.Header, Name = "x-killtoken-key", Description = "The project key in its own header.",
        };
        foreach (var (scheme, header, sdk) in SdkKeyHeaders)
        {
            schemes[scheme] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.ApiKey, In = ParameterLocation.Header, Name = header, Description = $"The project key where {sdk} sends its API key.",
            };
        }

        schemes[Session] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http, Scheme = "bearer", BearerFormat = "JWT",
            Description = "A dashboard session: the token of POST /api/auth/login or /api/auth/signup.",
        };
        return Task.CompletedTask;
    }
}

/// <summary>Per operation: its auth requirement, query parameters, and what each error status means.</summary>
internal sealed class KillTokenOperationTransformer : IOpenApiOperationTransformer
{
    public Task TransformAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var described = context.Description.ActionDescriptor.EndpointMetadata.OfType<ApiOperation>().FirstOrDefault();
        if (described is null)
        {
            return Task.CompletedTask;
        }

        operation.Security = Requirements(described, context.Document);
        // The description-only endpoints bind no parameters, so the route's own are declared here.
        foreach (var name in RouteParameters(described.Route))
        {
            operation.Parameters ??= [];
            operation.Parameters.Add(new OpenApiParameter
            {
                Name = name, In = ParameterLocation.Path, Required = true, Schema = new OpenApiSchema { Type = JsonSchemaType.String },
            });
        }

        foreach (var name in described.Query)
        {
            operation.Parameters ??= [];
            operation.Parameters.Add(new OpenApiParameter
            {
                Name = name, In = ParameterLocation.Query, Required = false, Schema = new OpenApiSchema { Type = JsonSchemaType.String },
            });
        }

        if (operation.Responses is { } responses)
        {
            foreach (var (status, response) in responses)
            {
                if (response is not OpenApiResponse concrete)
                {
                    continue;
                }

                if (ErrorMeanings.TryGetValue(status, out var meaning))
                {
                    concrete.Description = meaning;
                }

                if (concrete.Content?.TryGetValue("text/event-stream", out var events) == true)
                {
                    events.Schema = new OpenApiSchema
                    {
                        Type = JsonSchemaType.String,
                        Description = "Server-sent events: the provider's own events, then a killtoken.metrics event with the metrics object.",
                    };
                }
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>The names of a route template's parameters (<c>{model}</c>, <c>{file}</c>); the root's always-empty token is not one.</summary>
    public static IEnumerable<string> RouteParameters(string route) =>
        route.StartsWith('{')
            ? []
            : System.Text.RegularExpressions.Regex.Matches(route, @"\{([A-Za-z]+)[^}]*\}").Select(m => m.Groups[1].Value);

    /// <summary>The statuses an operation can answer with the error body: those of its auth and input, and its own.</summary>
    public static IEnumerable<int> ErrorStatuses(ApiOperation operation)
    {
        var statuses = new SortedSet<int>(operation.Errors) { 400, 503 };
        if (operation.Auth != ApiAuth.None)
        {
            statuses.Add(401);
            statuses.Add(403);
        }

        if (operation.Auth == ApiAuth.ProjectKey)
        {
            // The project's request rate (KILLTOKEN_PROJECT_RATE_LIMIT_PER_MINUTE), taken with the key on every such route.
            statuses.Add(429);
        }

        if (operation.Request is not null)
        {
            statuses.Add(413);
            statuses.Add(415);
        }

        return statuses;
    }

    private static readonly Dictionary<string, string> ErrorMeanings = new()
    {
        ["400"] = "Bad input: validation_failed, invalid_json, invalid_messages, invalid_cache_policy, … (the message says which field).",
        ["401"] = "invalid_api_key (project key missing, unknown, revoked or deactivated) or unauthenticated (no or expired session).",
        ["403"] = "forbidden: the key lacks the scope, or the session's role is not enough.",
        ["404"] = "not_found (also for another workspace's ids).",
        ["409"] = "A conflict: the state does not allow it (e.g. last_owner, invite_expired, a duplicate).",
        ["413"] = "request_too_large: the body is over KILLTOKEN_MAX_BODY_BYTES.",
        ["415"] = "unsupported_media_type: send application/json.",
        ["429"] = "rate_limited (the project's request rate, KILLTOKEN_PROJECT_RATE_LIMIT_PER_MINUTE), budget_exceeded or a throttled sign-in (too_many_attempts); wait for Retry-After.",
        ["502"] = "provider_error: the provider failed or could not be reached (the reservation is released).",
        ["503"] = "A store or the vault is unavailable; retry after Retry-After.",
        ["504"] = "provider_timeout.",
    };

    private static List<OpenApiSecurityRequirement>? Requirements(ApiOperation operation, OpenApiDocument? document) => operation.Auth switch
    {
        ApiAuth.ProjectKey =>
        [
            Requirement(KillTokenDocumentTransformer.ProjectKeyBearer, document),
            Requirement(KillTokenDocumentTransformer.ProjectKeyHeader, document),
            .. KillTokenDocumentTransformer.SdkKeyHeaders.Select(h => Requirement(h.Scheme, document)),
        ],
        ApiAuth.Session => [Requirement(KillTokenDocumentTransformer.Session, document)],
        _ => null,
    };

    private static OpenApiSecurityRequirement Requirement(string scheme, OpenApiDocument? document) =>
        new() { [new OpenApiSecuritySchemeReference(scheme, document)] = [] };
}
