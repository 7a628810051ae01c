using System.Text.Json.Serialization;

namespace KillToken.Client;

/// <summary>A workspace's stored provider credential, as the gateway shows it: never the secret, only a masked preview.</summary>
public sealed record ProviderCredential
{
    /// <summary>The credential's id.</summary>
    public string Id { get; init; } = string.Empty;

    /// <summary>The provider it is for.</summary>
    public ModelProvider Provider { get; init; }

    /// <summary>Your label.</summary>
    public string? Label { get; init; }

    /// <summary><c>active</c> or <c>disabled</c>.</summary>
    public string Status { get; init; } = string.Empty;

    /// <summary>A masked hint of the secret (<c>sk-…wxyz</c>); never enough to use it.</summary>
    public string KeyPreview { get; init; } = string.Empty;

    /// <summary>Non-secret settings: endpoint, deployment, region, project id…</summary>
    public IReadOnlyDictionary<string, string> Config { get; init; } = new Dictionary<string, string>();

    /// <summary>When it was added.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>When it last changed.</summary>
    public DateTimeOffset UpdatedAt { get; init; }
}

/// <summary>
/// A new provider credential (<c>POST /v1/provider-credentials</c>, needs the key's <c>credentials:write</c> scope):
/// an <see cref="ApiKey"/>, or a <see cref="Secrets"/> bundle for <c>aws_bedrock</c> and <c>google_vertex</c>.
/// Holds a secret, so it is a class whose <see cref="object.ToString"/> shows none of it.
/// </summary>
public sealed class CreateProviderCredentialOptions
{
    /// <summary>A credential for <paramref name="provider"/>.</summary>
    public CreateProviderCredentialOptions(ModelProvider provider) => Provider = provider;

    /// <summary>The provider.</summary>
    [JsonPropertyName("provider")]
    public ModelProvider Provider { get; }

    /// <summary>A label of your choice (at most 100 characters).</summary>
    [JsonPropertyName("label")]
    public string? Label { get; set; }

    /// <summary>The provider's API key (single-key providers, <c>azure_openai</c>, <c>openai_compatible</c>).</summary>
    [JsonPropertyName("apiKey")]
    public string? ApiKey { get; set; }

    /// <summary>The secret bundle of <c>aws_bedrock</c> (<c>accessKeyId</c>, <c>secretAccessKey</c>, <c>sessionToken</c>?) or <c>google_vertex</c> (<c>clientEmail</c>, <c>privateKey</c>, <c>privateKeyId</c>?).</summary>
    [JsonPropertyName("secrets")]
    public IDictionary<string, string>? Secrets { get; set; }

    /// <summary>Non-secret settings (<c>endpoint</c>, <c>deployment</c>, <c>baseUrl</c>, <c>region</c>, <c>projectId</c>, …).</summary>
    [JsonPropertyName("config")]
    public IDictionary<string, string>? Config { get; set; }
}

/// <summary>
/// A change to a provider credential (<c>PATCH /v1/provider-credentials/{id}</c>): only what is set is sent. A new
/// <see cref="ApiKey"/> or <see cref="Secrets"/> rotates it. Holds a secret, so its <see cref="object.ToString"/> shows none.
/// </summary>
public sealed class UpdateProviderCredentialOptions
{
    /// <summary>A new label.</summary>
    [JsonPropertyName("label")]
    public string? Label { get; set; }

    /// <summary>A new API key (rotation).</summary>
    [JsonPropertyName("apiKey")]
    public string? ApiKey { get; set; }

    /// <summary>A new secret bundle (rotation).</summary>
    [JsonPropertyName("secrets")]
    public IDictionary<string, string>? Secrets { get; set; }

    /// <summary>New non-secret settings.</summary>
    [JsonPropertyName("config")]
    public IDictionary<string, string>? Config { get; set; }

    /// <summary><c>active</c> or <c>disabled</c>.</summary>
    [JsonPropertyName("status")]
    public string? Status { get; set; }
}

/// <summary>The result of <c>POST /v1/provider-credentials/{id}/test</c>: the cheapest real call the provider allows.</summary>
public sealed record CredentialTestResult(bool Ok, double LatencyMs, int? ProviderStatus, string Message);
