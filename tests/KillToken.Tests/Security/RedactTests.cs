using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using KillToken.Core.Providers;
using KillToken.Providers.Common;

namespace KillToken.Tests.Security;

/// <summary>
/// Issue 10: a provider that echoes the credential encoded — base64 (standard or URL-safe, padded or not, alone or as
/// part of a <c>Bearer</c>/<c>Basic</c> header value) or percent-encoded (<c>%2B</c> or <c>%2b</c>, <c>%20</c> or
/// <c>+</c> for a space) — gets it redacted like the raw form (<see cref="ProviderHttp.Redact"/>).
/// </summary>
[TestClass]
public sealed class RedactTests
{
    // Characters that every encoding changes: '+', '/', '=', a space, '~', and enough bytes for all base64 alignments.
    private const string ApiKey = "sk-live+Key/With=Odd Chars~0123456789abcdef";
    private const string BundleSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    private static readonly ResolvedCredential ApiKeyCredential = new("cred_1", ProviderId.OpenAICompatible, ApiKey,
        new Dictionary<string, string>(), new Dictionary<string, string>());

    private static readonly ResolvedCredential BundleCredential = new("cred_2", ProviderId.AwsBedrock, null,
        new Dictionary<string, string> { ["accessKeyId"] = "AKIAIOSFODNN7EXAMPLE", ["secretAccessKey"] = BundleSecret },
        new Dictionary<string, string>());

    private static string Base64(string value) => Convert.ToBase64String(Encoding.UTF8.GetBytes(value));

    private static string UrlSafe(string base64) => base64.Replace('+', '-').Replace('/', '_');

    private static string LowerHex(string encoded) =>
        System.Text.RegularExpressions.Regex.Replace(encoded, "%[0-9A-F]{2}", m => m.Value.ToLowerInvariant());

    private static string EveryByte(string value, string format) =>
        string.Concat(Encoding.UTF8.GetBytes(value).Select(b => "%" + b.ToString(format, System.Globalization.CultureInfo.InvariantCulture)));

    /// <summary>Each form a provider may echo the secret in.</summary>
    private static IEnumerable<(string Name, string Echo)> Forms(string secret)
    {
        yield return ("raw", secret);
        yield return ("base64", Base64(secret));
        yield return ("base64 without padding", Base64(secret).TrimEnd('='));
        yield return ("base64 URL-safe", UrlSafe(Base64(secret)));
        yield return ("base64 URL-safe without padding", UrlSafe(Base64(secret)).TrimEnd('='));
        yield return ("base64 percent-encoded", Uri.EscapeDataString(Base64(secret)));
        yield return ("base64 percent-encoded, lower hex", LowerHex(Uri.EscapeDataString(Base64(secret))));
        yield return ("base64 of a Bearer header value", Base64("Bearer " + secret));
        yield return ("base64 of a Basic user:key pair", Base64("api:" + secret));
        yield return ("base64 of a Basic user:key pair, URL-safe unpadded", UrlSafe(Base64("user@example.com:" + secret)).TrimEnd('='));
        yield return ("base64 of the key and a newline", Base64(secret + "\n"));
        yield return ("base64 glued to a word", "token" + Base64("x" + secret));
        yield return ("percent-encoded, upper hex, %20", Uri.EscapeDataString(secret));
        yield return ("percent-encoded, lower hex", LowerHex(Uri.EscapeDataString(secret)));
        yield return ("form-encoded, + for space", WebUtility.UrlEncode(secret));
        yield return ("form-encoded, + for space, lower hex", LowerHex(WebUtility.UrlEncode(secret)));
        yield return ("every byte percent-encoded, upper hex", EveryByte(secret, "X2"));
        yield return ("every byte percent-encoded, lower hex", EveryByte(secret, "x2"));
    }

    [TestMethod]
    public void EveryEncodedForm_OfAnApiKey_IsRedacted()
    {
        foreach (var (name, echo) in Forms(ApiKey))
        {
            var text = $"Incorrect API key provided: {echo}. You can find your API key at https://example.com/keys.";
            var redacted = ProviderHttp.Redact(text, ApiKeyCredential);
            Assert.IsFalse(redacted.Contains(echo, StringComparison.Ordinal), $"{name}: {redacted}");
            StringAssert.Contains(redacted, "[redacted]", name);
            StringAssert.StartsWith(redacted, "Incorrect API key provided: ", name);
            StringAssert.EndsWith(redacted, ". You can find your API key at https://example.com/keys.", name);
        }
    }

    [TestMethod]
    public void EveryEncodedForm_OfABundleSecret_IsRedacted()
    {
        foreach (var (name, echo) in Forms(BundleSecret))
        {
            var redacted = ProviderHttp.Redact($"signature mismatch for {echo}", BundleCredential);
            Assert.IsFalse(redacted.Contains(echo, StringComparison.Ordinal), $"{name}: {redacted}");
            StringAssert.Contains(redacted, "[redacted]", name);
        }
    }

    [TestMethod]
    public void EchoesInsideAQueryString_AreRedacted_AndTheRestIsKept()
    {
        var text = $"GET /v1/models?api_key={Uri.EscapeDataString(ApiKey)}&auth={Uri.EscapeDataString(Base64("Bearer " + ApiKey))}&limit=1";
        var redacted = ProviderHttp.Redact(text, ApiKeyCredential);
        Assert.AreEqual("GET /v1/models?api_key=[redacted]&auth=[redacted]&limit=1", redacted);
    }

    [TestMethod]
    public void ProviderJson_ThroughMap_HasNoEncodedSecretLeft()
    {
        // A serializer writes '+' as \u002B: the scrub must see the strings, not the escaped text.
        var body = new JsonObject
        {
            ["error"] = new JsonObject
            {
                ["message"] = "Bad credentials " + Base64(ApiKey),
                ["type"] = "invalid_request_error",
            },
            ["echo"] = new JsonObject
            {
                ["authorization"] = "Basic " + Base64("user:" + ApiKey),
                ["url"] = "https://api.example.com/v1/chat?key=" + WebUtility.UrlEncode(ApiKey),
                [Base64(ApiKey)] = "a member named after the key",
            },
        };

        var result = ProviderHttp.Map(401, Encoding.UTF8.GetBytes(body.ToJsonString()), null, ApiKeyCredential, "openai_compatible", TimeSpan.Zero);

        var error = result.Error!;
        var everything = error.Message + error.Details!.ToJsonString() + (error.Details!["providerError"]?.ToJsonString() ?? "");
        var unescaped = JsonNode.Parse(error.Details!.ToJsonString())!.ToJsonString(new System.Text.Json.JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        foreach (var (name, echo) in Forms(ApiKey))
        {
            Assert.IsFalse(everything.Contains(echo, StringComparison.Ordinal), $"{name}: {everything}");
            Assert.IsFalse(unescaped.Contains(echo, StringComparison.Ordinal), $"{name}: {unescaped}");
        }

        StringAssert.Contains(error.Message, "Bad credentials [redacted]");
        Assert.AreEqual("invalid_request_error", error.Details["providerError"]!["error"]!["type"]!.GetValue<string>(), "the rest of the body is kept");
        Assert.AreEqual("Basic [redacted]", error.Details["providerError"]!["echo"]!["authorization"]!.GetValue<string>());
    }

    [TestMethod]
    public void TextWithoutSecrets_IsLeftAlone()
    {
        var texts = new[]
        {
            "The model `gpt-4o-mini` does not exist or you do not have access to it.",
            "Rate limit reached for requests on organization org-abc123 (limit: 500/min). Retry after 20s: https://x.example/a%20b?c=d+e",
            "request id " + Base64("a harmless value that is long enough to decode") + " failed",
            "sk-live+Key/With=Odd",
            "",
        };
        foreach (var text in texts)
        {
            Assert.AreEqual(text, ProviderHttp.Redact(text, ApiKeyCredential));
        }
    }

    [TestMethod]
    public void LargeErrorBody_IsRedactedQuickly()
    {
        var filler = string.Concat(Enumerable.Repeat("lorem ipsum dolor sit amet %41%42 QUJDREVGR0hJSktMTU5PUA== ", 1500));
        var text = filler + Base64("Bearer " + ApiKey) + filler;
        ProviderHttp.Redact(filler, ApiKeyCredential); // warm up (JIT), then measure
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var redacted = ProviderHttp.Redact(text, ApiKeyCredential);
        watch.Stop();
        Console.WriteLine($"{text.Length} chars redacted in {watch.Elapsed.TotalMilliseconds:0.0} ms");

        Assert.IsFalse(redacted.Contains(Base64("Bearer " + ApiKey), StringComparison.Ordinal));
        Assert.IsTrue(watch.ElapsedMilliseconds < 500, $"{text.Length} chars took {watch.ElapsedMilliseconds} ms");
    }
}
