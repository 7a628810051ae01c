using System.Text;
using System.Text.Json.Nodes;

namespace KillToken.Soak;

/// <summary>
/// Every trace of a workspace read straight from the Cosmos DB emulator's <c>traces</c> container: one query
/// (<c>SELECT c.id, c.status, c.errorCode, c.costUsd … WHERE c.type = 'trace'</c>) followed page by page through its
/// continuation, over the REST API the SDK uses (the npm emulator checks no keys). Independent of the gateway's own
/// trace list, whose newest-first keyset pages cost the emulator a full scan and sort each. The emulator's certificate
/// is its own self-signed one, accepted on loopback only. Shared by the soak bench and its CI test (linked source).
/// </summary>
internal static class SoakCosmosTraces
{
    public static async Task<List<SoakTrace>> ListAsync(Uri endpoint, string database, string workspaceId, CancellationToken cancellationToken)
    {
        using var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (request, _, _, errors) =>
                errors == System.Net.Security.SslPolicyErrors.None || request.RequestUri is { IsLoopback: true },
        };
        using var client = new HttpClient(handler) { Timeout = TimeSpan.FromMinutes(5) };
        var uri = new Uri(endpoint, $"dbs/{Uri.EscapeDataString(database)}/colls/traces/docs");
        var query = new JsonObject
        {
            ["query"] = "SELECT c.id, c.status, c.errorCode, c.costUsd FROM c WHERE c.type = @type AND c.workspaceId = @ws",
            ["parameters"] = new JsonArray(
                new JsonObject { ["name"] = "@type", ["value"] = "trace" },
                new JsonObject { ["name"] = "@ws", ["value"] = workspaceId }),
        }.ToJsonString();

        var traces = new List<SoakTrace>();
        string? continuation = null;
        do
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = new StringContent(query, Encoding.UTF8) };
            request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/query+json");
            request.Headers.Add("x-ms-documentdb-isquery", "true");
            request.Headers.Add("x-ms-documentdb-query-enablecrosspartition", "true");
            request.Headers.Add("x-ms-max-item-count", "1000");
            if (continuation is not null)
            {
                request.Headers.Add("x-ms-continuation", continuation);
            }

            using var response = await client.SendAsync(request, cancellationToken);
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                throw new InvalidOperationException($"The emulator answered the traces query {(int)response.StatusCode}: {text}");
            }

            foreach (var item in JsonNode.Parse(text)!["Documents"]!.AsArray())
            {
                traces.Add(new SoakTrace(
                    item!["id"]!.GetValue<string>(), item["status"]!.GetValue<int>(), item["errorCode"]?.ToString(),
                    item["costUsd"]?.GetValue<decimal>()));
            }

            continuation = response.Headers.TryGetValues("x-ms-continuation", out var values) ? values.FirstOrDefault() : null;
        }
        while (!string.IsNullOrEmpty(continuation));

        return traces;
    }
}
