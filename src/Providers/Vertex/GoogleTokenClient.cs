using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using KillToken.Core;
using KillToken.Core.Gateway;
using KillToken.Core.Providers;
using KillToken.Providers.Common;
using KillToken.Providers.OpenAI;

namespace KillToken.Providers.Vertex;

/// <summary>
/// Trades a service account's signed JWT for an access token at Google's token endpoint
/// (<c>grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&amp;assertion=…</c>). Its own small sender because OAuth
/// errors are <c>{"error": "invalid_grant", "error_description": …}</c> (RFC 6749 §5.2), not the provider error shape:
/// 400/401/403 → provider_auth_failed, 429 → provider_rate_limited, 5xx and connection failures retried once → provider_error.
/// </summary>
internal sealed class GoogleTokenClient(IHttpClientFactory clients, GatewayOptions gateway, VertexOptions options, TimeProvider time)
{
    private const string Name = "google_vertex";

    public async Task<(GoogleAccessToken? Token, GatewayError? Error)> ExchangeAsync(ResolvedCredential credential, CancellationToken cancellationToken = default)
    {
        var clientEmail = credential.Secrets.GetValueOrDefault("clientEmail");
        var privateKey = credential.Secrets.GetValueOrDefault("privateKey");
        if (string.IsNullOrWhiteSpace(clientEmail) || string.IsNullOrWhiteSpace(privateKey))
        {
            return (null, GatewayError.BadRequest(ErrorCodes.InvalidProviderSecrets, "google_vertex needs secrets.clientEmail and secrets.privateKey."));
        }

        var now = time.GetUtcNow();
        var assertion = GoogleServiceAccountJwt.CreateAssertion(clientEmail, privateKey, credential.Secrets.GetValueOrDefault("privateKeyId"), options.TokenUrl, now);
        if (assertion is null)
        {
            return (null, GatewayError.BadRequest(ErrorCodes.InvalidProviderSecrets,
                "secrets.privateKey of this google_vertex credential is not a PEM RSA private key; rotate it with the service account's key file."));
        }

        var client = clients.CreateClient(ProviderHttp.ClientName);
        for (var attempt = 1; ; attempt++)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(gateway.ProviderTimeout);
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, options.TokenUrl)
                {
                    Content = new FormUrlEncodedContent(
                    [
                        new("grant_type", GoogleServiceAccountJwt.GrantType),
                        new("assertion", assertion),
                    ]),
                };
                using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
                var bytes = await response.Content.ReadAsByteArrayAsync(timeout.Token);
                var status = (int)response.StatusCode;
                if (status >= 500 && attempt == 1)
                {
                    continue;
                }

                return Read(status, bytes, credential, now);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return (null, new GatewayError(504, ErrorCodes.ProviderTimeout, $"Google's token endpoint did not answer within {gateway.ProviderTimeout.TotalSeconds:0} seconds."));
            }
            catch (HttpRequestException) when (attempt == 1)
            {
                // A connection failure gets one more try, like a 5xx.
            }
            catch (HttpRequestException ex)
            {
                return (null, new GatewayError(502, ErrorCodes.ProviderError, $"Could not reach Google's token endpoint ({ex.HttpRequestError})."));
            }
        }
    }

    private static (GoogleAccessToken? Token, GatewayError? Error) Read(int status, byte[] bytes, ResolvedCredential credential, DateTimeOffset now)
    {
        JsonNode? body = null;
        if (bytes.Length > 0 && !UntrustedJson.TryParse(bytes, out body, out _))
        {
            body = null;
        }

        if (status is >= 200 and < 300)
        {
            var accessToken = body is JsonObject ? ChatRequestParser.AsString(body["access_token"]) : null;
            if (string.IsNullOrEmpty(accessToken))
            {
                return (null, new GatewayError(502, ErrorCodes.ProviderError, "Google's token endpoint answered without an access_token."));
            }

            var lifetime = OpenAIChatAdapter.Long(body!["expires_in"]) is > 0 and var seconds ? seconds : 3600;
            return (new GoogleAccessToken(accessToken, now.AddSeconds(lifetime)), null);
        }

        var error = body is JsonObject o ? o["error"] : null;
        var reason = string.Join(": ", new[]
        {
            ChatRequestParser.AsString(error) ?? ChatRequestParser.AsString((error as JsonObject)?["message"]),
            body is JsonObject d ? ChatRequestParser.AsString(d["error_description"]) : null,
        }.Where(s => !string.IsNullOrEmpty(s)));
        reason = ProviderHttp.Redact(reason, credential);
        var details = new JsonObject { ["providerStatus"] = status };
        if (body is JsonObject)
        {
            details["providerError"] = ProviderHttp.Scrub(body, credential);
        }

        var suffix = reason.Length > 0 ? $": {reason}" : ".";
        var mapped = status switch
        {
            400 or 401 or 403 => new GatewayError(502, ErrorCodes.ProviderAuthFailed,
                $"{Name} refused the service account's key when minting an access token (HTTP {status}){suffix}"),
            (int)HttpStatusCode.TooManyRequests => new GatewayError(429, ErrorCodes.ProviderRateLimited, $"Google's token endpoint is rate limiting this service account{suffix}"),
            _ => new GatewayError(502, ErrorCodes.ProviderError, $"Google's token endpoint failed (HTTP {status})."),
        };
        return (null, mapped with { Details = details });
    }
}
