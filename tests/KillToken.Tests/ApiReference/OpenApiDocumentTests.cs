using System.Net;
using System.Text.Json.Nodes;
using KillToken.Tests.Functions;
using KillToken.Tests.TestInfrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.OpenApi;
using Microsoft.OpenApi.Reader;

namespace KillToken.Tests.ApiReference;

/// <summary>
/// The OpenAPI document as a client generator reads it: valid OpenAPI 3.1, every route and method the gateway serves
/// (the self-host's real endpoints; FunctionsRouteTableTests holds the Functions host's table to the same), the bodies,
/// the error body, the auth schemes; and the same bytes from both hosts.
/// </summary>
[TestClass]
public sealed class OpenApiDocumentTests
{
    [TestMethod]
    public async Task TheDocument_IsValidOpenApi31_AndDescribesEveryRouteTheGatewayServes()
    {
        await using var host = await GatewayHost.StartAsync();
        using var response = await host.Client.GetAsync("openapi/v1.json");
        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode);
        Assert.AreEqual("application/json", response.Content.Headers.ContentType?.MediaType);
        var json = await response.Content.ReadAsStringAsync();

        var read = OpenApiDocument.Parse(json, OpenApiConstants.Json, new OpenApiReaderSettings());
        Assert.IsNotNull(read.Document, "the document did not parse");
        Assert.AreEqual(OpenApiSpecVersion.OpenApi3_1, read.Diagnostic?.SpecificationVersion);
        Assert.IsEmpty(read.Diagnostic?.Errors ?? [], "reader errors:\n" + string.Join("\n", read.Diagnostic?.Errors.Select(e => $"{e.Pointer}: {e.Message}") ?? []));
        var ruleErrors = read.Document.Validate(ValidationRuleSet.GetDefaultRuleSet())?.ToList() ?? [];
        Assert.IsEmpty(ruleErrors, "validation errors:\n" + string.Join("\n", ruleErrors.Select(e => $"{e.Pointer}: {e.Message}")));

        var served = host.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .SelectMany(e => (e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? []).Select(m => $"{m} {PathOf(e.RoutePattern.RawText!)}"))
            .ToHashSet(StringComparer.Ordinal);
        var described = read.Document.Paths
            .SelectMany(p => (p.Value.Operations ?? []).Select(o => $"{o.Key.Method.ToUpperInvariant()} {p.Key}"))
            .ToHashSet(StringComparer.Ordinal);
        Assert.IsGreaterThan(60, served.Count, "the gateway's endpoints were not read");
        CollectionAssert.AreEquivalent(served.Order().ToList(), described.Order().ToList(),
            "served, not described: " + string.Join(", ", served.Except(described)) + "; described, not served: " + string.Join(", ", described.Except(served)));

        // Path parameters are declared, so a generated client can fill them.
        var getRequest = read.Document.Paths["/v1/requests/{requestId}"].Operations![HttpMethod.Get];
        Assert.IsTrue(getRequest.Parameters!.Any(p => p.Name == "requestId" && p.In == ParameterLocation.Path && p.Required));
        var listRequests = read.Document.Paths["/v1/requests"].Operations![HttpMethod.Get];
        CollectionAssert.IsSubsetOf(new[] { "provider", "model", "feature", "from", "to", "cursor", "limit" },
            listRequests.Parameters!.Where(p => p.In == ParameterLocation.Query).Select(p => p.Name).ToList());
    }

    [TestMethod]
    public async Task TheDocument_NamesTheContractsFields_ErrorBody_AndAuthSchemes()
    {
        await using var host = await GatewayHost.StartAsync();
        var document = JsonNode.Parse(await host.Client.GetStringAsync("openapi/v1.json"))!;
        var schemas = document["components"]!["schemas"]!;

        var chat = document["paths"]!["/v1/chat"]!["post"]!;
        Assert.AreEqual("#/components/schemas/ChatRequestBody", (string?)chat["requestBody"]!["content"]!["application/json"]!["schema"]!["$ref"]);
        var chatFields = schemas["ChatRequestBody"]!["properties"]!.AsObject().Select(p => p.Key).ToList();
        CollectionAssert.IsSubsetOf(new[] { "provider", "model", "messages", "optimizationMode", "metadata", "providerOptions", "cachePolicy", "idempotencyKey", "stream" }, chatFields);
        var metrics = schemas["ChatMetrics"]!["properties"]!.AsObject().Select(p => p.Key).ToList();
        CollectionAssert.IsSubsetOf(new[] { "requestId", "provider", "model", "finalModel", "wasFallback", "inputTokens", "outputTokens", "costUsd", "savedUsd", "cacheStatus", "idempotency", "latencyMs", "overheadMs", "feature" }, metrics);
        Assert.IsNotNull(chat["responses"]!["200"]!["content"]!["text/event-stream"], "a streamed chat is described");

        // Every authenticated operation documents the contract's error body for 401; the auth schemes are declared.
        var error = schemas["ErrorResponseBody"]!["properties"]!["error"]!["$ref"]!.GetValue<string>();
        CollectionAssert.IsSubsetOf(new[] { "code", "message", "requestId" }, schemas[error.Split('/')[^1]]!["properties"]!.AsObject().Select(p => p.Key).ToList());
        foreach (var (path, item) in document["paths"]!.AsObject())
        {
            foreach (var (method, operation) in item!.AsObject())
            {
                if (operation!["security"] is JsonArray { Count: > 0 })
                {
                    Assert.AreEqual("#/components/schemas/ErrorResponseBody", (string?)operation["responses"]!["401"]?["content"]?["application/json"]?["schema"]?["$ref"], $"{method} {path}");
                }
            }
        }

        var security = document["components"]!["securitySchemes"]!.AsObject();
        Assert.AreEqual("bearer", (string?)security["projectKey"]!["scheme"]);
        Assert.AreEqual("x-killtoken-key", (string?)security["projectKeyHeader"]!["name"]);
        Assert.AreEqual("bearer", (string?)security["session"]!["scheme"]);
        Assert.AreEqual("session", document["paths"]!["/api/workspaces"]!["get"]!["security"]![0]!.AsObject().Single().Key);
        Assert.AreEqual("projectKey", document["paths"]!["/v1/chat"]!["post"]!["security"]![0]!.AsObject().Single().Key);
        Assert.IsNull(document["paths"]!["/health"]!["get"]!["security"], "health needs no auth");
        Assert.AreEqual("#/components/schemas/ProjectWithKeyBody",
            (string?)document["paths"]!["/api/workspaces/{workspaceId}/projects"]!["post"]!["responses"]!["201"]!["content"]!["application/json"]!["schema"]!["$ref"]);
    }

    [TestMethod]
    public async Task BothHosts_ServeTheSameDocument()
    {
        string selfHost, functions;
        await using (var host = await HostUnderTest.StartAsync(HostKind.SelfHost, new Dictionary<string, string?>()))
        {
            selfHost = await host.Client.GetStringAsync("openapi/v1.json");
        }

        await using (var host = await HostUnderTest.StartAsync(HostKind.Functions, new Dictionary<string, string?>()))
        {
            functions = await host.Client.GetStringAsync("openapi/v1.json");
        }

        Assert.IsGreaterThan(10_000, selfHost.Length);
        Assert.AreEqual(selfHost, functions);
    }

    /// <summary>A route template as the document writes its path: constraints dropped, the root's empty token as "/".</summary>
    private static string PathOf(string template) =>
        template.StartsWith('{') ? "/" : "/" + System.Text.RegularExpressions.Regex.Replace(template.TrimStart('/'), @"\{([A-Za-z]+)[^}]*\}", "{$1}");
}
