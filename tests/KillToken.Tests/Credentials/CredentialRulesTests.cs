using System.Text.Json.Nodes;
using KillToken.Tests.TestInfrastructure;

namespace KillToken.Tests.Credentials;

/// <summary>
/// BYOK credential rules through the dashboard route (§1, §7, §8): the secret shape per provider, the config fields,
/// the endpoint guard, the response shape (never the secret), rotation, disabling, deleting and the test call.
/// The server runs with KILLTOKEN_ALLOW_PRIVATE_ENDPOINTS off (the default).
/// </summary>
[TestClass]
public sealed class CredentialRulesTests
{
    private const string Pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n";
    private static readonly string[] ViewFields = ["id", "provider", "label", "status", "keyPreview", "config", "createdAt", "updatedAt"];

    private static FakeUpstream _openai = null!;
    private static GatewayHost _host = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _openai = await FakeUpstream.StartAsync(FakeUpstream.Json(Fixtures.OpenAIChatCompletion()));
        _host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["KILLTOKEN_OPENAI_BASE_URL"] = new Uri(_openai.BaseAddress, "v1").ToString(),
        });
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _host.DisposeAsync();
        await _openai.DisposeAsync();
    }

    public static IEnumerable<object[]> Valid =>
    [
        ["openai", new JsonObject { ["provider"] = "openai", ["label"] = "prod", ["apiKey"] = "sk-valid-openai-0123456789abcdef" }],
        ["anthropic", new JsonObject { ["provider"] = "anthropic", ["apiKey"] = "sk-ant-valid-0123456789abcdef" }],
        ["aws_bedrock", new JsonObject
        {
            ["provider"] = "aws_bedrock",
            ["secrets"] = new JsonObject { ["accessKeyId"] = "AKIAIOSFODNN7EXAMPLE", ["secretAccessKey"] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" },
            ["config"] = new JsonObject { ["region"] = "us-east-1" },
        }],
        ["aws_bedrock with sessionToken", new JsonObject
        {
            ["provider"] = "aws_bedrock",
            ["secrets"] = new JsonObject { ["accessKeyId"] = "AKIAIOSFODNN7EXAMPLE", ["secretAccessKey"] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ["sessionToken"] = "FwoGZXIvYXdzEXAMPLE" },
            ["config"] = new JsonObject { ["region"] = "eu-west-1" },
        }],
        ["google_vertex", new JsonObject
        {
            ["provider"] = "google_vertex",
            ["secrets"] = new JsonObject { ["clientEmail"] = "svc@my-project.iam.gserviceaccount.com", ["privateKey"] = Pem, ["privateKeyId"] = "0123456789abcdef0123456789abcdef" },
            ["config"] = new JsonObject { ["projectId"] = "my-project", ["location"] = "us-central1", ["defaultModel"] = "gemini-2.0-flash" },
        }],
        ["azure_openai", new JsonObject
        {
            ["provider"] = "azure_openai",
            ["apiKey"] = "azure-valid-key-0123456789abcdef",
            ["config"] = new JsonObject { ["endpoint"] = "https://my-resource.openai.azure.com", ["deployment"] = "gpt-4o", ["apiVersion"] = "2024-10-21" },
        }],
        ["openai_compatible", new JsonObject
        {
            ["provider"] = "openai_compatible",
            ["apiKey"] = "compat-valid-key-0123456789abcdef",
            ["config"] = new JsonObject { ["baseUrl"] = "https://models.example.com/v1", ["defaultModel"] = "llama-3.1-8b" },
        }],
    ];

    public static IEnumerable<object[]> Invalid =>
    [
        ["openai without apiKey", 400, "invalid_api_key", new JsonObject { ["provider"] = "openai" }],
        ["openai with empty apiKey", 400, "invalid_api_key", new JsonObject { ["provider"] = "openai", ["apiKey"] = "  " }],
        ["openai apiKey as number", 400, "invalid_api_key", new JsonObject { ["provider"] = "openai", ["apiKey"] = 12345 }],
        ["openai with apiKey and secrets", 400, "invalid_provider_secrets", new JsonObject { ["provider"] = "openai", ["apiKey"] = "sk-abcdef0123456789", ["secrets"] = new JsonObject { ["x"] = "y" } }],
        ["openai with secrets only", 400, "invalid_provider_secrets", new JsonObject { ["provider"] = "openai", ["secrets"] = new JsonObject { ["apiKey"] = "sk-abcdef0123456789" } }],
        ["openai with config it does not take", 400, "invalid_provider_config", new JsonObject { ["provider"] = "openai", ["apiKey"] = "sk-abcdef0123456789", ["config"] = new JsonObject { ["baseUrl"] = "https://evil.example.com/v1" } }],
        ["aws_bedrock with apiKey", 400, "invalid_provider_secrets", new JsonObject { ["provider"] = "aws_bedrock", ["apiKey"] = "AKIAIOSFODNN7EXAMPLE", ["config"] = new JsonObject { ["region"] = "us-east-1" } }],
        ["aws_bedrock without secrets", 400, "invalid_provider_secrets", new JsonObject { ["provider"] = "aws_bedrock", ["config"] = new JsonObject { ["region"] = "us-east-1" } }],
        ["aws_bedrock without secretAccessKey", 400, "invalid_provider_secrets", new JsonObject
        {
            ["provider"] = "aws_bedrock", ["secrets"] = new JsonObject { ["accessKeyId"] = "AKIAIOSFODNN7EXAMPLE" }, ["config"] = new JsonObject { ["region"] = "us-east-1" },
        }],
        ["aws_bedrock with an unknown secret field", 400, "invalid_provider_secrets", new JsonObject
        {
            ["provider"] = "aws_bedrock",
            ["secrets"] = new JsonObject { ["accessKeyId"] = "AKIAIOSFODNN7EXAMPLE", ["secretAccessKey"] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ["password"] = "hunter2" },
            ["config"] = new JsonObject { ["region"] = "us-east-1" },
        }],
        ["aws_bedrock without region", 400, "invalid_provider_config", new JsonObject
        {
            ["provider"] = "aws_bedrock", ["secrets"] = new JsonObject { ["accessKeyId"] = "AKIAIOSFODNN7EXAMPLE", ["secretAccessKey"] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" },
        }],
        ["google_vertex with a privateKey that is not PEM", 400, "invalid_provider_secrets", new JsonObject
        {
            ["provider"] = "google_vertex",
            ["secrets"] = new JsonObject { ["clientEmail"] = "svc@my-project.iam.gserviceaccount.com", ["privateKey"] = "not a key" },
            ["config"] = new JsonObject { ["projectId"] = "my-project", ["location"] = "us-central1", ["defaultModel"] = "gemini-2.0-flash" },
        }],
        ["google_vertex without clientEmail", 400, "invalid_provider_secrets", new JsonObject
        {
            ["provider"] = "google_vertex",
            ["secrets"] = new JsonObject { ["privateKey"] = Pem },
            ["config"] = new JsonObject { ["projectId"] = "my-project", ["location"] = "us-central1", ["defaultModel"] = "gemini-2.0-flash" },
        }],
        ["google_vertex with apiKey", 400, "invalid_provider_secrets", new JsonObject
        {
            ["provider"] = "google_vertex", ["apiKey"] = "AIzaSyEXAMPLE0123456789",
            ["config"] = new JsonObject { ["projectId"] = "my-project", ["location"] = "us-central1", ["defaultModel"] = "gemini-2.0-flash" },
        }],
        ["google_vertex without defaultModel", 400, "invalid_provider_config", new JsonObject
        {
            ["provider"] = "google_vertex",
            ["secrets"] = new JsonObject { ["clientEmail"] = "svc@my-project.iam.gserviceaccount.com", ["privateKey"] = Pem },
            ["config"] = new JsonObject { ["projectId"] = "my-project", ["location"] = "us-central1" },
        }],
        ["google_vertex with a loopback endpointUrl", 400, "invalid_provider_config", new JsonObject
        {
            ["provider"] = "google_vertex",
            ["secrets"] = new JsonObject { ["clientEmail"] = "svc@my-project.iam.gserviceaccount.com", ["privateKey"] = Pem },
            ["config"] = new JsonObject { ["projectId"] = "my-project", ["location"] = "us-central1", ["defaultModel"] = "gemini-2.0-flash", ["endpointUrl"] = "https://127.0.0.1:8443" },
        }],
        ["azure_openai without deployment", 400, "invalid_provider_config", new JsonObject
        {
            ["provider"] = "azure_openai", ["apiKey"] = "azure-valid-key-0123456789abcdef", ["config"] = new JsonObject { ["endpoint"] = "https://my-resource.openai.azure.com" },
        }],
        ["azure_openai without endpoint", 400, "invalid_provider_config", new JsonObject
        {
            ["provider"] = "azure_openai", ["apiKey"] = "azure-valid-key-0123456789abcdef", ["config"] = new JsonObject { ["deployment"] = "gpt-4o" },
        }],
        ["azure_openai without apiKey", 400, "invalid_api_key", new JsonObject
        {
            ["provider"] = "azure_openai", ["config"] = new JsonObject { ["endpoint"] = "https://my-resource.openai.azure.com", ["deployment"] = "gpt-4o" },
        }],
        ["openai_compatible without baseUrl", 400, "invalid_provider_config", new JsonObject { ["provider"] = "openai_compatible", ["apiKey"] = "compat-valid-key-0123456789abcdef" }],
        ["config is not an object", 400, "invalid_provider_config", new JsonObject { ["provider"] = "openai_compatible", ["apiKey"] = "compat-valid-key-0123456789abcdef", ["config"] = "https://models.example.com" }],
        ["unknown provider", 422, "provider_not_supported", new JsonObject { ["provider"] = "acme-ai", ["apiKey"] = "sk-abcdef0123456789" }],
        ["provider in another case", 422, "provider_not_supported", new JsonObject { ["provider"] = "OpenAI", ["apiKey"] = "sk-abcdef0123456789" }],
    ];

    [TestMethod]
    [DynamicData(nameof(Valid))]
    public async Task ValidCredential_Created_ResponseHasExactlyTheViewFieldsAndNoSecret(string scenario, JsonObject body)
    {
        var (token, workspaceId) = await _host.SignUpAsync();
        var user = new Tenant(_host, token, workspaceId, "", "");

        var created = await GatewayHost.ReadJsonAsync(await user.SendAsync(HttpMethod.Post, $"api/workspaces/{workspaceId}/provider-credentials", body.ToJsonString(), session: true), 201);

        CollectionAssert.AreEquivalent(ViewFields, created.Select(p => p.Key).ToArray(), $"{scenario}: {created.ToJsonString()}");
        Assert.AreEqual(body["provider"]!.GetValue<string>(), created["provider"]!.GetValue<string>());
        Assert.AreEqual("active", created["status"]!.GetValue<string>());
        var expectedConfig = body["config"] as JsonObject ?? [];
        Assert.IsTrue(JsonNode.DeepEquals(expectedConfig, created["config"]), $"{scenario}: config comes back as sent (non-secret)");
        AssertNoSecretOf(body, created.ToJsonString(), scenario);

        var listed = await GatewayHost.ReadJsonAsync(await user.SendAsync(HttpMethod.Get, $"api/workspaces/{workspaceId}/provider-credentials", session: true), 200);
        Assert.AreEqual(1, listed["data"]!.AsArray().Count);
        Assert.IsTrue(JsonNode.DeepEquals(created, listed["data"]![0]), "the list shows the same view");
        AssertNoSecretOf(body, listed.ToJsonString(), scenario);
    }

    [TestMethod]
    [DynamicData(nameof(Invalid))]
    public async Task InvalidCredential_RefusedWithItsCode_NothingStored(string scenario, int status, string code, JsonObject body)
    {
        var (token, workspaceId) = await _host.SignUpAsync();
        var user = new Tenant(_host, token, workspaceId, "", "");

        var response = await user.SendAsync(HttpMethod.Post, $"api/workspaces/{workspaceId}/provider-credentials", body.ToJsonString(), session: true);

        var error = await GatewayHost.ReadJsonAsync(response, status);
        Assert.AreEqual(code, error["error"]?["code"]?.GetValue<string>(), $"{scenario}: {error.ToJsonString()}");
        Assert.IsFalse(string.IsNullOrWhiteSpace(error["error"]?["requestId"]?.GetValue<string>()));
        AssertNoSecretOf(body, error.ToJsonString(), scenario);
        var listed = await GatewayHost.ReadJsonAsync(await user.SendAsync(HttpMethod.Get, $"api/workspaces/{workspaceId}/provider-credentials", session: true), 200);
        Assert.AreEqual(0, listed["data"]!.AsArray().Count, $"{scenario}: nothing half-written");
    }

    [TestMethod]
    [DataRow("azure_openai", "endpoint", "http://my-resource.openai.azure.com", DisplayName = "azure_openai over http")]
    [DataRow("azure_openai", "endpoint", "https://127.0.0.1", DisplayName = "azure_openai on loopback")]
    [DataRow("azure_openai", "endpoint", "https://localhost:8443", DisplayName = "azure_openai on localhost")]
    [DataRow("openai_compatible", "baseUrl", "http://models.example.com/v1", DisplayName = "openai_compatible over http")]
    [DataRow("openai_compatible", "baseUrl", "https://127.0.0.1:11434/v1", DisplayName = "openai_compatible on loopback")]
    [DataRow("openai_compatible", "baseUrl", "https://10.1.2.3/v1", DisplayName = "openai_compatible on 10.x")]
    [DataRow("openai_compatible", "baseUrl", "https://192.168.1.20/v1", DisplayName = "openai_compatible on 192.168.x")]
    [DataRow("openai_compatible", "baseUrl", "https://172.16.0.5/v1", DisplayName = "openai_compatible on 172.16.x")]
    [DataRow("openai_compatible", "baseUrl", "https://169.254.169.254/latest", DisplayName = "openai_compatible on the metadata address")]
    [DataRow("openai_compatible", "baseUrl", "https://[::1]/v1", DisplayName = "openai_compatible on IPv6 loopback")]
    [DataRow("openai_compatible", "baseUrl", "ftp://models.example.com/v1", DisplayName = "openai_compatible with ftp")]
    [DataRow("openai_compatible", "baseUrl", "models.example.com/v1", DisplayName = "openai_compatible relative url")]
    [DataRow("openai_compatible", "baseUrl", "https://user:pass@models.example.com/v1", DisplayName = "openai_compatible with user info")]
    public async Task PrivateOrInsecureEndpoint_InvalidProviderConfig(string provider, string field, string url)
    {
        var (token, workspaceId) = await _host.SignUpAsync();
        var user = new Tenant(_host, token, workspaceId, "", "");
        var config = new JsonObject { [field] = url };
        if (provider == "azure_openai")
        {
            config["deployment"] = "gpt-4o";
        }

        var body = new JsonObject { ["provider"] = provider, ["apiKey"] = "endpoint-guard-key-0123456789", ["config"] = config };
        var response = await user.SendAsync(HttpMethod.Post, $"api/workspaces/{workspaceId}/provider-credentials", body.ToJsonString(), session: true);

        var error = await GatewayHost.ReadJsonAsync(response, 400);
        Assert.AreEqual("invalid_provider_config", error["error"]!["code"]!.GetValue<string>(), error.ToJsonString());
    }

    [TestMethod]
    public async Task PatchConfig_ToPrivateEndpoint_Refused_OldConfigKept()
    {
        var (token, workspaceId) = await _host.SignUpAsync();
        var user = new Tenant(_host, token, workspaceId, "", "");
        var created = await GatewayHost.ReadJsonAsync(await user.SendAsync(HttpMethod.Post, $"api/workspaces/{workspaceId}/provider-credentials",
            new { provider = "openai_compatible", apiKey = "compat-valid-key-0123456789abcdef", config = new { baseUrl = "https://models.example.com/v1" } }, session: true), 201);
        var id = created["id"]!.GetValue<string>();

        var patched = await user.SendAsync(HttpMethod.Patch, $"api/workspaces/{workspaceId}/provider-credentials/{id}",
            new { config = new { baseUrl = "https://169.254.169.254/v1" } }, session: true);

        Assert.AreEqual("invalid_provider_config", (await GatewayHost.ReadJsonAsync(patched, 400))["error"]!["code"]!.GetValue<string>());
        var listed = await GatewayHost.ReadJsonAsync(await user.SendAsync(HttpMethod.Get, $"api/workspaces/{workspaceId}/provider-credentials", session: true), 200);
        Assert.AreEqual("https://models.example.com/v1", listed["data"]![0]!["config"]!["baseUrl"]!.GetValue<string>());
    }

    [TestMethod]
    public async Task PatchApiKey_RotatesPreviewAndUpstreamKey_WithoutChangingId()
    {
        var tenant = await _host.CreateTenantAsync("openai", "sk-before-rotation-AAAA1111");
        var path = $"api/workspaces/{tenant.WorkspaceId}/provider-credentials";
        var original = (await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, path, session: true), 200))["data"]![0]!.AsObject();
        var id = original["id"]!.GetValue<string>();

        var rotated = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Patch, $"{path}/{id}", new { apiKey = "sk-after-rotation-BBBB2222" }, session: true), 200);

        Assert.AreEqual(id, rotated["id"]!.GetValue<string>());
        Assert.AreNotEqual(original["keyPreview"]!.GetValue<string>(), rotated["keyPreview"]!.GetValue<string>());
        Assert.IsTrue(rotated["keyPreview"]!.GetValue<string>().EndsWith("2222", StringComparison.Ordinal), rotated["keyPreview"]!.GetValue<string>());
        Assert.IsFalse(rotated.ToJsonString().Contains("sk-after-rotation-BBBB2222", StringComparison.Ordinal));
        CollectionAssert.AreEquivalent(ViewFields, rotated.Select(p => p.Key).ToArray());

        var before = _openai.Count;
        await GatewayHost.ReadJsonAsync(await ChatAsync(tenant), 200);
        Assert.AreEqual("Bearer sk-after-rotation-BBBB2222", _openai.Requests[before].Header("authorization"), "the very next call uses the new key");
    }

    [TestMethod]
    public async Task PatchStatusDisabled_ChatNeedsCredential_ReEnable_Works()
    {
        var tenant = await _host.CreateTenantAsync("openai", "sk-disable-me-0123456789");
        var path = $"api/workspaces/{tenant.WorkspaceId}/provider-credentials";
        var id = (await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, path, session: true), 200))["data"]![0]!["id"]!.GetValue<string>();

        var disabled = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Patch, $"{path}/{id}", new { status = "disabled" }, session: true), 200);
        Assert.AreEqual("disabled", disabled["status"]!.GetValue<string>());
        var before = _openai.Count;
        var refused = await GatewayHost.ReadJsonAsync(await ChatAsync(tenant), 400);
        Assert.AreEqual("provider_credential_required", refused["error"]!["code"]!.GetValue<string>());
        Assert.AreEqual(before, _openai.Count);

        var bad = await tenant.SendAsync(HttpMethod.Patch, $"{path}/{id}", new { status = "paused" }, session: true);
        Assert.AreEqual(400, (int)bad.StatusCode);

        await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Patch, $"{path}/{id}", new { status = "active" }, session: true), 200);
        await GatewayHost.ReadJsonAsync(await ChatAsync(tenant), 200);
        Assert.AreEqual("Bearer sk-disable-me-0123456789", _openai.Requests[^1].Header("authorization"));
    }

    [TestMethod]
    public async Task PatchProvider_Refused()
    {
        var tenant = await _host.CreateTenantAsync("openai", "sk-provider-fixed-0123456789");
        var path = $"api/workspaces/{tenant.WorkspaceId}/provider-credentials";
        var id = (await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, path, session: true), 200))["data"]![0]!["id"]!.GetValue<string>();

        var response = await tenant.SendAsync(HttpMethod.Patch, $"{path}/{id}", new { provider = "anthropic" }, session: true);

        Assert.AreEqual(400, (int)response.StatusCode);
        var listed = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, path, session: true), 200);
        Assert.AreEqual("openai", listed["data"]![0]!["provider"]!.GetValue<string>());
    }

    [TestMethod]
    public async Task Delete_204_Then404_AndChatNeedsACredential()
    {
        var tenant = await _host.CreateTenantAsync("openai", "sk-delete-me-0123456789");
        var path = $"api/workspaces/{tenant.WorkspaceId}/provider-credentials";
        var id = (await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, path, session: true), 200))["data"]![0]!["id"]!.GetValue<string>();

        var deleted = await tenant.SendAsync(HttpMethod.Delete, $"{path}/{id}", session: true);

        Assert.AreEqual(204, (int)deleted.StatusCode);
        Assert.AreEqual(404, (int)(await tenant.SendAsync(HttpMethod.Delete, $"{path}/{id}", session: true)).StatusCode);
        Assert.AreEqual(404, (int)(await tenant.SendAsync(HttpMethod.Patch, $"{path}/{id}", new { label = "x" }, session: true)).StatusCode);
        Assert.AreEqual(404, (int)(await tenant.SendAsync(HttpMethod.Post, $"{path}/{id}/test", session: true)).StatusCode);
        Assert.AreEqual(404, (int)(await tenant.SendAsync(HttpMethod.Get, $"v1/provider-credentials/{id}")).StatusCode);
        var listed = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, path, session: true), 200);
        Assert.AreEqual(0, listed["data"]!.AsArray().Count);
        var refused = await GatewayHost.ReadJsonAsync(await ChatAsync(tenant), 400);
        Assert.AreEqual("provider_credential_required", refused["error"]!["code"]!.GetValue<string>());
    }

    [TestMethod]
    public async Task Test_UpstreamAccepts_OkWithLatencyAndStatus()
    {
        var tenant = await _host.CreateTenantAsync("openai", "sk-test-route-0123456789");
        var id = await FirstCredentialIdAsync(tenant);
        _openai.Handler = FakeUpstream.Json(new JsonObject { ["object"] = "list", ["data"] = new JsonArray(new JsonObject { ["id"] = "gpt-4o-mini", ["object"] = "model" }) });
        var before = _openai.Count;

        var result = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Post, $"api/workspaces/{tenant.WorkspaceId}/provider-credentials/{id}/test", session: true), 200);

        Assert.IsTrue(result["ok"]!.GetValue<bool>(), result.ToJsonString());
        Assert.AreEqual(200, result["providerStatus"]!.GetValue<int>());
        Assert.IsTrue(result["latencyMs"]!.GetValue<double>() >= 0);
        Assert.IsFalse(string.IsNullOrWhiteSpace(result["message"]!.GetValue<string>()));
        Assert.AreEqual(before + 1, _openai.Count, "one cheap call");
        var upstream = _openai.Requests[before];
        Assert.AreEqual("GET", upstream.Method);
        Assert.AreEqual("/v1/models", upstream.Path);
        Assert.AreEqual("Bearer sk-test-route-0123456789", upstream.Header("authorization"));
        _openai.Handler = FakeUpstream.Json(Fixtures.OpenAIChatCompletion());
    }

    [TestMethod]
    public async Task Test_UpstreamRejectsKey_NotOk()
    {
        var tenant = await _host.CreateTenantAsync("openai", "sk-test-route-rejected-0123456789");
        var id = await FirstCredentialIdAsync(tenant);
        _openai.Handler = FakeUpstream.Json(Fixtures.OpenAIError("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"), 401);
        try
        {
            var result = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Post, $"api/workspaces/{tenant.WorkspaceId}/provider-credentials/{id}/test", session: true), 200);

            Assert.IsFalse(result["ok"]!.GetValue<bool>(), result.ToJsonString());
            Assert.AreEqual(401, result["providerStatus"]!.GetValue<int>());
            Assert.IsFalse(string.IsNullOrWhiteSpace(result["message"]!.GetValue<string>()));
            var listed = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, $"api/workspaces/{tenant.WorkspaceId}/provider-credentials", session: true), 200);
            Assert.AreEqual("active", listed["data"]![0]!["status"]!.GetValue<string>(), "a failed test reports; it does not change the credential");
        }
        finally
        {
            _openai.Handler = FakeUpstream.Json(Fixtures.OpenAIChatCompletion());
        }
    }

    [TestMethod]
    public async Task KeyRoute_SameBodiesAndRules()
    {
        var tenant = await _host.CreateTenantAsync("openai", "sk-key-route-0123456789");
        await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Patch, $"api/projects/{tenant.ProjectId}",
            new { scopes = new[] { "chat", "analytics:read", "credentials:write" } }, session: true), 200);

        var refused = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Post, "v1/provider-credentials", new { provider = "aws_bedrock", apiKey = "AKIAIOSFODNN7EXAMPLE" }), 400);
        Assert.AreEqual("invalid_provider_secrets", refused["error"]!["code"]!.GetValue<string>());
        var created = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Post, "v1/provider-credentials",
            new { provider = "anthropic", label = "via key", apiKey = "sk-ant-key-route-0123456789" }), 201);
        CollectionAssert.AreEquivalent(ViewFields, created.Select(p => p.Key).ToArray());
        var id = created["id"]!.GetValue<string>();

        var read = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, $"v1/provider-credentials/{id}"), 200);
        Assert.IsTrue(JsonNode.DeepEquals(created, read));
        var relabeled = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Patch, $"v1/provider-credentials/{id}", new { label = "renamed" }), 200);
        Assert.AreEqual("renamed", relabeled["label"]!.GetValue<string>());
        Assert.AreEqual(created["keyPreview"]!.GetValue<string>(), relabeled["keyPreview"]!.GetValue<string>(), "a rename does not rotate");
        Assert.AreEqual(204, (int)(await tenant.SendAsync(HttpMethod.Delete, $"v1/provider-credentials/{id}")).StatusCode);
        Assert.AreEqual(404, (int)(await tenant.SendAsync(HttpMethod.Get, $"v1/provider-credentials/{id}")).StatusCode);
    }

    private static async Task<string> FirstCredentialIdAsync(Tenant tenant)
    {
        var listed = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, $"api/workspaces/{tenant.WorkspaceId}/provider-credentials", session: true), 200);
        return listed["data"]![0]!["id"]!.GetValue<string>();
    }

    private static Task<HttpResponseMessage> ChatAsync(Tenant tenant) =>
        tenant.ChatAsync(new { provider = "openai", model = "gpt-4o-mini", messages = new[] { new { role = "user", content = "hi" } } });

    /// <summary>No secret value of the request body (apiKey, any secrets.*) appears in <paramref name="text"/>.</summary>
    private static void AssertNoSecretOf(JsonObject body, string text, string scenario)
    {
        var secrets = new List<string>();
        if (body["apiKey"] is JsonValue key && key.TryGetValue<string>(out var apiKey) && apiKey.Trim().Length >= 8)
        {
            secrets.Add(apiKey.Trim());
        }

        if (body["secrets"] is JsonObject bundle)
        {
            foreach (var (name, value) in bundle)
            {
                // A service account's email and an AWS access key id are identities shown as previews, not secrets.
                if (name is "clientEmail" or "accessKeyId" || value is not JsonValue v || !v.TryGetValue<string>(out var s) || s.Length < 8)
                {
                    continue;
                }

                secrets.Add(s);
            }
        }

        foreach (var secret in secrets)
        {
            Assert.IsFalse(text.Contains(secret, StringComparison.Ordinal), $"{scenario}: a secret came back: {text}");
            Assert.IsFalse(text.Contains(System.Text.Json.JsonEncodedText.Encode(secret).ToString(), StringComparison.Ordinal), $"{scenario}: a secret came back JSON-escaped: {text}");
        }
    }
}
