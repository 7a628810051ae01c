using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.RegularExpressions;
using System.Text.Json.Nodes;
using KillToken.Tests.TestInfrastructure;
using Microsoft.AspNetCore.Http;

namespace KillToken.Tests.Security;

/// <summary>
/// §1 and §4: a provider secret is "never returned, logged or echoed". The workspace's credentials carry distinctive
/// secrets; the upstream fails in every way it can while echoing the secret it received back at the gateway; then no
/// gateway response (body or header), log line, trace, or file of the data folder (in clear, UTF-8 or UTF-16) holds it.
/// </summary>
[TestClass]
public sealed class SecretLeakTests
{
    private static readonly string Id = Guid.NewGuid().ToString("N");
    private static readonly string OpenAIKey = $"sk-LEAKCHECK-{Id}";
    private static readonly string AnthropicKey = $"sk-ant-LEAKCHECK-{Id}";
    // Characters every encoding changes ('+', '/', '=', a space, '~'), so the encoded echoes differ from the raw one.
    private static readonly string CompatibleKey = $"compat+LEAK/CHECK=x ~{Id}";
    private static readonly string GeminiKey = $"AIza-LEAKCHECK-{Id}";
    private static readonly string RotatedKey = $"sk-LEAKCHECK-rotated-{Id}";
    private static readonly string AwsSecretAccessKey = $"LEAKCHECKawsSecret{Id}";
    private static readonly string AwsSessionToken = $"LEAKCHECKawsSession{Id}";
    private static readonly string VertexKeyBody = $"LEAKCHECKvertexKey{Id}";
    private static readonly string VertexPrivateKey = $"-----BEGIN PRIVATE KEY-----\n{VertexKeyBody}\n-----END PRIVATE KEY-----\n";

    private static readonly string[] ProviderSecrets = [OpenAIKey, AnthropicKey, CompatibleKey, GeminiKey, RotatedKey, AwsSecretAccessKey, AwsSessionToken, VertexKeyBody];

    private static readonly List<string> Responses = [];
    private static FakeUpstream _upstream = null!;
    private static GatewayHost _host = null!;
    private static Tenant _tenant = null!;
    private static int _upstreamSawSecret;
    private static string _currentMode = "setup";

    /// <summary>The ways an upstream can fail, each echoing the credential it received.</summary>
    private static readonly (string Name, Func<HttpContext, string, Task> Answer)[] FailureModes =
    [
        ("401 echoing the key", (c, key) => Json(c, 401, Fixtures.OpenAIError($"Incorrect API key provided: {key}. You can find your API key at https://platform.openai.com/account/api-keys.", "invalid_request_error", "invalid_api_key"))),
        ("400 echoing the key in message and param", (c, key) =>
        {
            var body = Fixtures.OpenAIError($"Invalid request for key {key}", "invalid_request_error", "invalid_value");
            body["error"]!["param"] = key;
            body["echo"] = new JsonObject { ["authorization"] = "Bearer " + key };
            return Json(c, 400, body);
        }),
        ("400 echoing the key unicode-escaped", (c, key) =>
        {
            var escaped = string.Concat(key.Select(ch => $"\\u{(int)ch:x4}"));
            return Raw(c, 400, "application/json", $"{{\"error\":{{\"message\":\"bad key {escaped}\",\"type\":\"invalid_request_error\"}}}}");
        }),
        ("400 plain text echoing the key", (c, key) => Raw(c, 400, "text/plain", $"Bad request: the key {key} is malformed")),
        ("403 Anthropic shape echoing the key", (c, key) => Json(c, 403, Fixtures.AnthropicError("permission_error", $"key {key} may not use this model"))),
        ("429 echoing the key", (c, key) =>
        {
            c.Response.Headers.RetryAfter = "0";
            return Json(c, 429, Fixtures.OpenAIError($"Rate limit reached for {key}", "requests", "rate_limit_exceeded"));
        }),
        ("500 echoing the key", (c, key) => Json(c, 500, new JsonObject { ["error"] = new JsonObject { ["message"] = $"internal failure handling {key}" } })),
        ("502 HTML echoing the key", (c, key) => Raw(c, 502, "text/html", $"<html><body>Bad gateway for {key}</body></html>")),
        ("200 with a malformed body echoing the key", (c, key) => Raw(c, 200, "application/json", $"{{\"id\":\"chatcmpl-1\",\"key\":\"{key}\",\"choices\":[")),
        ("200 with a non-JSON body echoing the key", (c, key) => Raw(c, 200, "text/plain", $"not json {key}")),
        ("401 echoing the key base64-encoded", (c, key) => Json(c, 401, Fixtures.OpenAIError($"Incorrect API key provided: {Base64(key)}", "invalid_request_error", "invalid_api_key"))),
        ("401 echoing the key base64url-encoded without padding", (c, key) => Json(c, 401, Fixtures.OpenAIError($"Incorrect API key provided: {Base64Url(key)}", "invalid_request_error", "invalid_api_key"))),
        ("400 echoing the Authorization header base64-encoded (Bearer + key)", (c, key) =>
        {
            var body = Fixtures.OpenAIError("Malformed authorization header " + Base64("Bearer " + key), "invalid_request_error", "invalid_value");
            body["echo"] = new JsonObject { ["authorization"] = Base64("Bearer " + key), ["authorizationUrlSafe"] = Base64Url("Bearer " + key) };
            return Json(c, 400, body);
        }),
        ("403 echoing a Basic user:key credential base64-encoded", (c, key) => Json(c, 403, Fixtures.AnthropicError("permission_error", $"Basic {Base64("apikey:" + key)} may not use this model"))),
        ("400 plain text echoing the key percent-encoded (upper hex, %20)", (c, key) =>
            Raw(c, 400, "text/plain", $"Bad request: GET /v1/models?api_key={Uri.EscapeDataString(key)}&b64={Uri.EscapeDataString(Base64(key))}")),
        ("400 echoing the key form-encoded (+ for space, lower hex)", (c, key) =>
            Json(c, 400, Fixtures.OpenAIError($"Invalid request body: key={LowerHex(WebUtility.UrlEncode(key))}&model=x", "invalid_request_error", "invalid_value"))),
        ("429 echoing the key percent-encoded byte by byte", (c, key) =>
        {
            c.Response.Headers.RetryAfter = "0";
            return Json(c, 429, Fixtures.OpenAIError($"Rate limit reached for {string.Concat(Encoding.UTF8.GetBytes(key).Select(b => $"%{b:x2}"))}", "requests", "rate_limit_exceeded"));
        }),
        ("500 echoing the key base64-encoded", (c, key) => Json(c, 500, new JsonObject { ["error"] = new JsonObject { ["message"] = $"internal failure handling {Base64(key)}" } })),
        ("502 HTML echoing the key base64- and percent-encoded", (c, key) => Raw(c, 502, "text/html", $"<html><body>Bad gateway for {Base64("Bearer " + key)} / {Uri.EscapeDataString(key)}</body></html>")),
    ];

    private static string Base64(string value) => Convert.ToBase64String(Encoding.UTF8.GetBytes(value));

    private static string Base64Url(string value) => Base64(value).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static string LowerHex(string encoded) => Regex.Replace(encoded, "%[0-9A-F]{2}", m => m.Value.ToLowerInvariant());

    /// <summary>Every form of a secret a leak could take that a plain substring search can find.</summary>
    private static IEnumerable<string> EncodedForms(string secret)
    {
        yield return secret;
        yield return Base64(secret).TrimEnd('=');
        yield return Base64Url(secret);
        foreach (var encoded in new[] { Uri.EscapeDataString(secret), WebUtility.UrlEncode(secret) })
        {
            yield return encoded;
            yield return LowerHex(encoded);
        }

        yield return string.Concat(Encoding.UTF8.GetBytes(secret).Select(b => $"%{b:X2}"));
        yield return string.Concat(Encoding.UTF8.GetBytes(secret).Select(b => $"%{b:x2}"));
    }

    /// <summary>
    /// Base64 of a secret inside a longer value (<c>base64("Bearer " + key)</c>) contains no fixed form of it: every
    /// base64-looking run (JSON and percent escapes of its characters undone) is decoded at its four alignments.
    /// </summary>
    private static string? SecretInBase64(string text)
    {
        var normalized = Regex.Replace(text, @"\\u002[bB]|%2[bB]", "+");
        normalized = Regex.Replace(normalized, @"\\/|%2[fF]", "/");
        foreach (Match run in Regex.Matches(normalized, "[A-Za-z0-9+/_-]{6,}"))
        {
            var standard = run.Value.Replace('-', '+').Replace('_', '/');
            for (var offset = 0; offset < 4; offset++)
            {
                var aligned = standard[offset..];
                aligned = aligned[..(aligned.Length / 4 * 4)];
                var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(aligned));
                foreach (var secret in ProviderSecrets)
                {
                    if (decoded.Contains(secret, StringComparison.Ordinal))
                    {
                        return secret;
                    }
                }
            }
        }

        return null;
    }

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _upstream = await FakeUpstream.StartAsync();
        var baseUrl = _upstream.BaseAddress.ToString();
        _host = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["KILLTOKEN_OPENAI_BASE_URL"] = new Uri(_upstream.BaseAddress, "v1").ToString(),
            ["KILLTOKEN_ANTHROPIC_BASE_URL"] = baseUrl,
            ["KILLTOKEN_GEMINI_BASE_URL"] = baseUrl,
            ["KILLTOKEN_AWS_BEDROCK_BASE_URL"] = baseUrl,
            ["KILLTOKEN_GOOGLE_VERTEX_BASE_URL"] = baseUrl,
            ["KILLTOKEN_ALLOW_PRIVATE_ENDPOINTS"] = "true",
        });

        _tenant = await _host.CreateTenantAsync("openai", OpenAIKey);
        await Record(await _tenant.SendAsync(HttpMethod.Patch, $"api/projects/{_tenant.ProjectId}",
            new { scopes = new[] { "chat", "analytics:read", "credentials:write" } }, session: true));

        var credentials = new (string Provider, object Body)[]
        {
            ("anthropic", new { provider = "anthropic", apiKey = AnthropicKey }),
            ("gemini", new { provider = "gemini", apiKey = GeminiKey }),
            ("openai_compatible", new { provider = "openai_compatible", apiKey = CompatibleKey, config = new { baseUrl = new Uri(_upstream.BaseAddress, "compat/v1").ToString() } }),
            ("aws_bedrock", new
            {
                provider = "aws_bedrock",
                secrets = new { accessKeyId = "AKIAIOSFODNN7EXAMPLE", secretAccessKey = AwsSecretAccessKey, sessionToken = AwsSessionToken },
                config = new { region = "us-east-1" },
            }),
            ("google_vertex", new
            {
                provider = "google_vertex",
                secrets = new { clientEmail = "leak-check@my-project.iam.gserviceaccount.com", privateKey = VertexPrivateKey, privateKeyId = "0123456789abcdef" },
                config = new { projectId = "my-project", location = "us-central1", defaultModel = "gemini-2.0-flash", endpointUrl = baseUrl },
            }),
        };
        foreach (var (_, body) in credentials)
        {
            var created = await Record(await _tenant.SendAsync(HttpMethod.Post, $"api/workspaces/{_tenant.WorkspaceId}/provider-credentials", body, session: true));
            Assert.AreEqual(201, created.Status, created.Text);
        }

        var credentialIds = new List<string>();
        foreach (var credential in JsonNode.Parse((await Record(await _tenant.SendAsync(HttpMethod.Get, "v1/provider-credentials"))).Text)!["data"]!.AsArray())
        {
            credentialIds.Add(credential!["id"]!.GetValue<string>());
        }

        Assert.AreEqual(6, credentialIds.Count);

        var chats = new (string Provider, string Model)[]
        {
            ("openai", "gpt-4o-mini"), ("anthropic", "claude-3-5-haiku-latest"), ("gemini", "gemini-2.0-flash"),
            ("openai_compatible", "llama-3.1-8b"), ("aws_bedrock", "anthropic.claude-3-haiku-20240307-v1:0"), ("google_vertex", "gemini-2.0-flash"),
        };

        foreach (var (mode, answer) in FailureModes)
        {
            _currentMode = mode;
            _upstream.Handler = async (context, request) =>
            {
                var key = EchoedKey(request);
                if (ProviderSecrets.Any(s => request.Headers.Values.Any(v => v.Contains(s, StringComparison.Ordinal)) || request.Query.Contains(s, StringComparison.Ordinal)))
                {
                    Interlocked.Increment(ref _upstreamSawSecret);
                }

                context.Response.Headers["x-echo-key"] = key;
                context.Response.Headers["www-authenticate"] = $"Bearer realm=\"{key}\"";
                await answer(context, key);
            };

            foreach (var (provider, model) in chats)
            {
                await Record(await _tenant.ChatAsync(new
                {
                    provider,
                    model,
                    messages = new[] { new { role = "user", content = $"leak check: {mode}" } },
                    providerOptions = provider == "anthropic" ? new { max_tokens = 16 } : null,
                }));
            }

            foreach (var id in credentialIds)
            {
                await Record(await _tenant.SendAsync(HttpMethod.Post, $"api/workspaces/{_tenant.WorkspaceId}/provider-credentials/{id}/test", session: true));
                await Record(await _tenant.SendAsync(HttpMethod.Post, $"v1/provider-credentials/{id}/test"));
            }
        }

        _currentMode = "after the failure modes";

        // Rotation: the new key is a secret too; the old one must not be kept in clear anywhere either.
        var openaiId = credentialIds[0];
        await Record(await _tenant.SendAsync(HttpMethod.Patch, $"v1/provider-credentials/{openaiId}", new { apiKey = RotatedKey }));
        _upstream.Handler = (c, request) => Json(c, 401, Fixtures.OpenAIError($"Incorrect API key provided: {EchoedKey(request)}", "invalid_request_error", "invalid_api_key"));
        await Record(await _tenant.ChatAsync(new { provider = "openai", model = "gpt-4o-mini", messages = new[] { new { role = "user", content = "after rotation" } } }));

        // Every read a client can make of the workspace.
        await Record(await _tenant.SendAsync(HttpMethod.Get, $"api/workspaces/{_tenant.WorkspaceId}/provider-credentials", session: true));
        foreach (var id in credentialIds)
        {
            await Record(await _tenant.SendAsync(HttpMethod.Get, $"v1/provider-credentials/{id}"));
        }

        await Record(await _tenant.SendAsync(HttpMethod.Get, $"api/projects/{_tenant.ProjectId}", session: true));
        await Record(await _tenant.SendAsync(HttpMethod.Get, "api/me", session: true));
        await Record(await _host.Client.GetAsync("ready"));
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _host.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    [TestMethod]
    public void Setup_ReallyExercisedTheSecrets()
    {
        Assert.IsTrue(_upstream.Count >= FailureModes.Length * 2, "the upstream was called for every failure mode");
        Assert.IsTrue(_upstreamSawSecret > 0, "the upstream received (and echoed) the workspace's secrets");
        Assert.IsTrue(_upstream.Requests.Any(r => r.Header("authorization") == "Bearer " + RotatedKey), "the rotated key was used");
        Assert.IsTrue(Responses.Count > FailureModes.Length * 10);
        Assert.IsTrue(Responses.Any(r => r.Contains("Incorrect API key provided", StringComparison.Ordinal)),
            "the upstream's echoing error text reached the client (so the secret inside it was really removed, not just absent)");
        Assert.IsTrue(Responses.Any(r => r.Contains("Incorrect API key provided: [redacted]", StringComparison.Ordinal))
            && Responses.Any(r => r.Contains("Malformed authorization header [redacted]", StringComparison.Ordinal)),
            "the encoded echoes reached the client too, redacted");
    }

    [TestMethod]
    public void NoFailureMode_AnswersWith500()
    {
        foreach (var response in Responses)
        {
            Assert.IsFalse(response.StartsWith("500\n", StringComparison.Ordinal), "an upstream failure is never the gateway's 500: " + response + "\n" + string.Join("\n", _host.Logs.Lines.Where(l => l.Contains("Unhandled", StringComparison.Ordinal))));
        }
    }

    [TestMethod]
    public void ProviderSecrets_InNoGatewayResponseBodyOrHeader()
    {
        foreach (var response in Responses)
        {
            AssertFree(response, "a gateway response");
        }
    }

    [TestMethod]
    public void ProviderSecrets_InNoLogLine()
    {
        var lines = _host.Logs.Lines;
        Assert.IsTrue(lines.Count > 0, "the host logs");
        foreach (var line in lines)
        {
            AssertFree(line, "a log line");
        }
    }

    [TestMethod]
    public async Task ProviderSecrets_InNoTrace()
    {
        var list = await _tenant.SendAsync(HttpMethod.Get, "v1/requests?limit=200");
        var text = await list.Content.ReadAsStringAsync();
        Assert.AreEqual(200, (int)list.StatusCode, text);
        var traces = JsonNode.Parse(text)!["data"]!.AsArray();
        Assert.IsTrue(traces.Count >= FailureModes.Length * 6, "every call was traced");
        AssertFree(text, "the trace list");
        foreach (var trace in traces.Take(20))
        {
            var single = await _tenant.SendAsync(HttpMethod.Get, "v1/requests/" + trace!["id"]!.GetValue<string>());
            AssertFree(await single.Content.ReadAsStringAsync(), "a trace");
        }
    }

    [TestMethod]
    public void ProviderSecrets_NotInClearInAnyDataFile()
    {
        var files = Directory.GetFiles(_host.DataDirectory, "*", SearchOption.AllDirectories);
        Assert.IsTrue(files.Any(f => Path.GetFileName(f) == "killtoken.db"), "the embedded store is in the data folder: " + string.Join(", ", files));
        var control = Encoding.UTF8.GetBytes(_tenant.ProjectId);
        Assert.IsTrue(files.Any(f => ReadShared(f).AsSpan().IndexOf(control) >= 0),
            "control: the scan does see what the store wrote (the project id), so an absent secret is really absent");
        foreach (var file in files)
        {
            var bytes = ReadShared(file);
            foreach (var secret in ProviderSecrets)
            {
                foreach (var (encoding, name) in new (Encoding, string)[] { (Encoding.UTF8, "UTF-8"), (Encoding.Unicode, "UTF-16LE"), (Encoding.BigEndianUnicode, "UTF-16BE") })
                {
                    Assert.IsTrue(bytes.AsSpan().IndexOf(encoding.GetBytes(secret)) < 0,
                        $"{Path.GetFileName(file)} holds a provider secret in clear ({name}): {secret[..12]}…");
                }

                foreach (var form in EncodedForms(secret).Skip(1))
                {
                    Assert.IsTrue(bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes(form)) < 0,
                        $"{Path.GetFileName(file)} holds a provider secret encoded: {form[..12]}…");
                }
            }
        }
    }

    [TestMethod]
    public void ProjectKeySessionTokenAndServerSecrets_InNoLogLine()
    {
        var secrets = new List<string> { _tenant.ApiKey, _tenant.Token, _tenant.ApiKey["kt_live_".Length..] };
        foreach (var name in new[] { "jwt.key", "pepper.key", "encryption.key" })
        {
            var path = Path.Combine(_host.DataDirectory, name);
            if (File.Exists(path))
            {
                secrets.Add(File.ReadAllText(path).Trim());
            }
        }

        Assert.IsTrue(File.Exists(Path.Combine(_host.DataDirectory, "jwt.key")), "the embedded default keeps its JWT secret in the data folder");
        foreach (var line in _host.Logs.Lines)
        {
            foreach (var secret in secrets)
            {
                Assert.IsFalse(line.Contains(secret, StringComparison.Ordinal), $"a log line holds a server/project secret: {line}");
            }
        }

        foreach (var response in Responses)
        {
            foreach (var secret in secrets.Skip(3))
            {
                Assert.IsFalse(response.Contains(secret, StringComparison.Ordinal), "a response holds a server secret");
            }
        }
    }

    private static string EchoedKey(UpstreamRequest request)
    {
        var authorization = request.Header("authorization");
        if (authorization is not null && authorization.StartsWith("Bearer ", StringComparison.Ordinal))
        {
            return authorization["Bearer ".Length..];
        }

        return request.Header("x-api-key") ?? request.Header("x-goog-api-key") ?? request.Header("api-key") ?? authorization ?? request.Query;
    }

    private static void AssertFree(string text, string where)
    {
        foreach (var secret in ProviderSecrets)
        {
            foreach (var form in EncodedForms(secret))
            {
                Assert.IsFalse(text.Contains(form, StringComparison.Ordinal), $"{where} holds a provider secret ({form}): {text}");
            }
        }

        Assert.IsNull(SecretInBase64(text), $"{where} holds a provider secret inside a base64 value: {text}");

        // A JSON writer might escape the PEM's line breaks; the key body alone is checked above, the framing here.
        Assert.IsFalse(text.Contains(VertexKeyBody[..20], StringComparison.Ordinal), $"{where} holds part of the Vertex private key: {text}");
    }

    private static async Task<(int Status, string Text)> Record(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        var headers = new StringBuilder();
        foreach (var (name, values) in response.Headers.Concat(response.Content.Headers))
        {
            headers.Append(name).Append(": ").AppendJoin(", ", values).Append('\n');
        }

        lock (Responses)
        {
            Responses.Add($"{(int)response.StatusCode}\n{headers}\n{body}\n(answer to {response.RequestMessage?.Method} {response.RequestMessage?.RequestUri?.AbsolutePath} during '{_currentMode}')");
        }

        return ((int)response.StatusCode, body);
    }

    private static byte[] ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    private static Task Json(HttpContext context, int status, JsonNode body) => Raw(context, status, "application/json", body.ToJsonString());

    private static async Task Raw(HttpContext context, int status, string contentType, string body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = contentType;
        await context.Response.WriteAsync(body);
    }
}
