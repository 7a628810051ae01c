using System.ComponentModel;
using System.Text.Json.Nodes;
using KillToken.Core.Gateway;

namespace KillToken.Api.OpenApi;

// The bodies the handlers read as JSON objects (they validate field by field, so a bad field is a 400 with its own
// message), written down as types for the API description only: nothing here is deserialized.
#pragma warning disable CA1812 // described, never instantiated

[Description("The unified chat request of /v1/chat. Messages are OpenAI-style and translated to the provider's wire format.")]
internal sealed record ChatRequestBody(
    [property: Description("Provider id: openai, anthropic, gemini, azure_openai, aws_bedrock, google_vertex, mistral, groq, deepseek, xai, together, fireworks, openai_compatible.")] string Provider,
    [property: Description("The provider's model name.")] string Model,
    [property: Description("OpenAI-style messages: role (system, developer, user, assistant, tool) and content.")] IReadOnlyList<ChatMessageBody> Messages,
    [property: Description("off, safe (default) or aggressive: the prompt optimizations applied before the call.")] string? OptimizationMode = null,
    [property: Description("Free-form tags; metadata.feature (≤ 80 characters) names the feature in reports and beats the x-killtoken-feature header.")] JsonObject? Metadata = null,
    [property: Description("Provider-specific fields passed through (e.g. max_tokens, temperature, tools).")] JsonObject? ProviderOptions = null,
    [property: Description("{ \"exactCache\": \"bypass\" | \"read_only\" | \"write_only\" | \"read_write\" }")] CachePolicyBody? CachePolicy = null,
    [property: Description("At most 255 characters: a retried call with the same key is answered once and replayed.")] string? IdempotencyKey = null,
    [property: Description("true: the answer is a text/event-stream of the provider's events, then a killtoken.metrics event.")] bool? Stream = null);

internal sealed record ChatMessageBody(string Role, [property: Description("A string, or an array of content parts.")] JsonNode Content);

internal sealed record CachePolicyBody([property: Description("bypass, read_only, write_only or read_write.")] string ExactCache);

[Description("The answer of /v1/chat: the provider's response body unchanged, and the gateway's metrics.")]
internal sealed record ChatResponseBody([property: Description("The provider's own response, unchanged.")] JsonObject Response, ChatMetrics Metrics);

[Description("A body in the wire format of the API this route imitates (OpenAI Chat Completions, Anthropic Messages or Gemini generateContent); the answer is in the same format.")]
internal sealed record NativeWireBody;

[Description("The error body of every gateway and management route. Wrapper routes answer in the shape of the API they imitate instead.")]
internal sealed record ErrorResponseBody(ErrorDetailBody Error);

internal sealed record ErrorDetailBody(
    [property: Description("A stable snake_case code, e.g. invalid_api_key, validation_failed, budget_exceeded, provider_error, store_unavailable.")] string Code,
    string Message,
    [property: Description("Also in the x-request-id header.")] string RequestId);

internal sealed record CredentialBody(
    [property: Description("The provider id (see ChatRequestBody.provider).")] string Provider,
    string? Label = null,
    [property: Description("The provider key; write-only, never returned (only keyPreview).")] string? ApiKey = null,
    [property: Description("Other secrets: aws_bedrock accessKeyId, secretAccessKey, sessionToken; google_vertex clientEmail, privateKey, privateKeyId.")] JsonObject? Secrets = null,
    [property: Description("azure_openai endpoint, deployment, apiVersion; openai_compatible baseUrl, defaultModel; google_vertex projectId, location, defaultModel; aws_bedrock region.")] JsonObject? Config = null);

internal sealed record CredentialUpdateBody(
    string? Label = null,
    [property: Description("A new provider key (rotation).")] string? ApiKey = null,
    JsonObject? Secrets = null,
    JsonObject? Config = null,
    [property: Description("active or disabled.")] string? Status = null);

internal sealed record SignUpBody(string Email, [property: Description("At least 8 characters.")] string Password, string? Name = null);

internal sealed record LoginBody(string Email, string Password);

internal sealed record SignUpResponseBody(Core.Management.UserView User, Core.Management.WorkspaceView Workspace, [property: Description("The session token: Authorization: Bearer <token>.")] string Token);

internal sealed record LoginResponseBody(string Token, Core.Management.UserView User);

internal sealed record MeResponseBody(Core.Management.UserView User, IReadOnlyList<Core.Management.WorkspaceView> Workspaces);

internal sealed record WorkspaceBody(string Name);

internal sealed record WorkspaceUpdateBody(string? Name = null, [property: Description("Owner only; null removes the limit.")] decimal? MonthlyBudgetUsd = null);

internal sealed record WorkspaceDeleteBody([property: Description("The workspace's exact name.")] string ConfirmName);

internal sealed record ProjectBody(
    string Name,
    [property: Description("null = no limit.")] decimal? DailyBudgetUsd = null,
    [property: Description("null = no limit.")] decimal? MonthlyBudgetUsd = null,
    [property: Description("The cheaper model used near the limit.")] string? FallbackModel = null,
    string? AlertEmail = null);

internal sealed record ProjectWithKeyBody(Core.Management.ProjectView Project, [property: Description("The project key, shown only in this answer.")] string ApiKey);

internal sealed record PricingBody([property: Description("Negotiated prices in USD per 1M tokens; they win over the pricing table.")] IReadOnlyList<Core.Pricing.ModelPrice> Models);

internal sealed record MemberRoleBody([property: Description("owner, admin or member.")] string Role);

internal sealed record InviteBody(string Email, [property: Description("admin or member.")] string Role);

internal sealed record InviteCreatedBody(Core.Management.InviteView Invite, [property: Description("{FRONTEND_URL}/invites/{token}")] string InviteUrl, [property: Description("sent, queued, skipped or failed.")] string EmailDelivery);

internal sealed record InviteAcceptedBody(Core.Management.WorkspaceView Workspace);

internal sealed record ListBody<T>(IReadOnlyList<T> Data);

internal sealed record PageBody<T>(IReadOnlyList<T> Data, [property: Description("Pass as ?cursor= for the next page; null on the last.")] string? NextCursor);

internal sealed record HealthBody([property: Description("ok")] string Status);

internal sealed record ReadyBody([property: Description("ready or not_ready (503).")] string Status, IReadOnlyList<Handlers.HealthHandlers.ReadyCheck> Checks);

internal sealed record OpenAIModelListBody([property: Description("list")] string Object, IReadOnlyList<JsonObject> Data);
#pragma warning restore CA1812
