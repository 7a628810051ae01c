using System.Text.Json.Nodes;
using KillToken.Core.Gateway;
using KillToken.Core.Providers;
using Microsoft.ML.Tokenizers;

namespace KillToken.Core.Optimization;

/// <summary>
/// A model's token counts before (or without) the provider's usage report: the prompt the budget reserves for and the
/// optimizer measures waste in, and the prompt and output charged when a provider reports no usage. OpenAI-family models
/// are counted exactly with their own encoding (<c>o200k_base</c> or <c>cl100k_base</c>, Microsoft.ML.Tokenizers);
/// every other model with <see cref="TokenEstimator"/>'s heuristic, since their providers publish no tokenizer.
/// Instances are shared and thread-safe; each encoding's tokenizer is built once, on first use (it loads a ~200k-entry
/// vocabulary, so a process that never sees an OpenAI model never pays for it).
/// </summary>
public sealed class TokenCounter
{
    /// <summary>
    /// Chat framing as the OpenAI cookbook counts it ("How to count tokens with tiktoken", every model since
    /// gpt-3.5-turbo-0613): each message 3 tokens plus its role's and content's tokens, a name 1 more than its own tokens,
    /// and 3 that prime the reply.
    /// </summary>
    public const int TokensPerMessage = 3;
    public const int TokensPerName = 1;
    public const int ReplyPriming = 3;

    private static readonly Lazy<Tokenizer> O200kTokenizer = new(() => TiktokenTokenizer.CreateForEncoding("o200k_base"));
    private static readonly Lazy<Tokenizer> Cl100kTokenizer = new(() => TiktokenTokenizer.CreateForEncoding("cl100k_base"));

    private readonly Lazy<Tokenizer>? _tokenizer;

    private TokenCounter(string encoding, Lazy<Tokenizer>? tokenizer)
    {
        Encoding = encoding;
        _tokenizer = tokenizer;
    }

    /// <summary>The heuristic, for models whose tokenizer is not public.</summary>
    public static TokenCounter Estimate { get; } = new("estimate", null);

    /// <summary>GPT-4o, GPT-4.1, GPT-4.5, GPT-5 and the o-series.</summary>
    public static TokenCounter O200k { get; } = new("o200k_base", O200kTokenizer);

    /// <summary>GPT-4, GPT-3.5 Turbo and the embedding models.</summary>
    public static TokenCounter Cl100k { get; } = new("cl100k_base", Cl100kTokenizer);

    /// <summary><c>o200k_base</c>, <c>cl100k_base</c>, or <c>estimate</c>.</summary>
    public string Encoding { get; }

    /// <summary>True when counts are the provider's own (an OpenAI encoding), false for the heuristic.</summary>
    public bool IsExact => _tokenizer is not null;

    /// <summary>
    /// The counter for a model: exact for OpenAI's models on OpenAI, on Azure OpenAI (whose deployments KillToken expects
    /// to be named after their model: pricing looks them up the same way) and on OpenRouter as <c>openai/…</c>; the
    /// estimate for everything else, including OpenAI-compatible servers, whose model names promise nothing.
    /// </summary>
    public static TokenCounter For(ProviderId provider, string model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (provider == ProviderId.OpenRouter && model.StartsWith("openai/", StringComparison.OrdinalIgnoreCase))
        {
            return ForOpenAIModel(model["openai/".Length..]);
        }

        return provider == ProviderId.OpenAI || provider == ProviderId.AzureOpenAI ? ForOpenAIModel(model) : Estimate;
    }

    /// <summary>tiktoken's model table (model.py), by prefix; a fine-tuned model (<c>ft:gpt-4o-mini:…</c>) by its base.</summary>
    private static TokenCounter ForOpenAIModel(string model)
    {
        var name = model.StartsWith("ft:", StringComparison.OrdinalIgnoreCase) ? model[3..] : model;
        if (IsModel(name, "gpt-4o") || IsModel(name, "chatgpt-4o") || IsModel(name, "gpt-4.1") || IsModel(name, "gpt-4.5")
            || IsModel(name, "gpt-5") || IsModel(name, "o1") || IsModel(name, "o3") || IsModel(name, "o4"))
        {
            return O200k;
        }

        // After the gpt-4o/4.1/4.5 test: "gpt-4" is their prefix too.
        return IsModel(name, "gpt-4") || IsModel(name, "gpt-3.5-turbo") || IsModel(name, "gpt-35-turbo")
            || IsModel(name, "text-embedding-3") || IsModel(name, "text-embedding-ada-002")
            ? Cl100k
            : Estimate;
    }

    /// <summary>The family itself or a variant of it: "gpt-4o", "gpt-4o-mini", "gpt-5.1", "gpt-4o:ft" — not "o1x" or "gpt-40".</summary>
    private static bool IsModel(string name, string family) =>
        name.StartsWith(family, StringComparison.OrdinalIgnoreCase)
        && (name.Length == family.Length || name[family.Length] is '-' or ':' or '.');

    /// <summary>Builds this counter's tokenizer now if it is not built yet (the first count would otherwise wait for it).</summary>
    public void WarmUp() => _ = _tokenizer?.Value;

    public long CountText(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return _tokenizer is null ? TokenEstimator.EstimateText(text) : _tokenizer.Value.CountTokens(text);
    }

    /// <summary>One message: framing, role, content (text parts, tool calls) and name when present.</summary>
    public long CountMessage(JsonObject message)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (_tokenizer is null)
        {
            return TokenEstimator.EstimateMessage(message);
        }

        var tokenizer = _tokenizer.Value;
        long total = TokensPerMessage + tokenizer.CountTokens(TokenEstimator.TextOf(message));
        if (ChatRequestParser.AsString(message["role"]) is { Length: > 0 } role)
        {
            total += tokenizer.CountTokens(role);
        }

        if (ChatRequestParser.AsString(message["name"]) is { Length: > 0 } name)
        {
            total += tokenizer.CountTokens(name) + TokensPerName;
        }

        return total;
    }

    /// <summary>A whole prompt: every message and the reply priming.</summary>
    public long CountMessages(IReadOnlyList<JsonObject> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        long total = PerRequest;
        foreach (var message in messages)
        {
            total += CountMessage(message);
        }

        return total;
    }

    /// <summary>What a prompt costs beyond its messages.</summary>
    public long PerRequest => IsExact ? ReplyPriming : TokenEstimator.PerRequestOverhead;

    public override string ToString() => Encoding;
}
