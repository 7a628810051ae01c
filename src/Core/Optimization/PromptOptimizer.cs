using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using KillToken.Core.Gateway;

namespace KillToken.Core.Optimization;

/// <summary>
/// §3 step 6. <c>measure_only</c> runs every transform on a copy to count its waste and sends the messages unchanged;
/// <c>safe</c> also applies the meaning-preserving transforms in order and reports the tokens that saved.
/// </summary>
public sealed class PromptOptimizer : IPromptOptimizer
{
    public const string TemplateBoilerplate = "template_boilerplate";
    private const int MaxRememberedTemplates = 100_000;
    private readonly IReadOnlyList<IPromptTransform> _transforms;
    private readonly ConcurrentDictionary<string, byte> _seenTemplates = new(StringComparer.Ordinal);

    public PromptOptimizer()
        : this([new DuplicateMessageTransform(), new JsonMinifyTransform(), new WhitespaceTransform(), new RepeatedSystemPromptTransform()])
    {
    }

    public PromptOptimizer(IReadOnlyList<IPromptTransform> transforms) => _transforms = transforms;

    public OptimizationResult Optimize(IReadOnlyList<JsonObject> messages, OptimizationMode mode, string? workspaceId = null, TokenCounter? counter = null)
    {
        counter ??= TokenCounter.Estimate;

        // Transforms return untouched messages as the same objects, so each message's estimate is computed once.
        var estimates = new Dictionary<JsonObject, long>(ReferenceEqualityComparer.Instance);
        long Estimate(IReadOnlyList<JsonObject> list)
        {
            var total = counter.PerRequest;
            foreach (var message in list)
            {
                if (!estimates.TryGetValue(message, out var tokens))
                {
                    tokens = counter.CountMessage(message);
                    estimates[message] = tokens;
                }

                total += tokens;
            }

            return total;
        }

        var original = Estimate(messages);
        var waste = new Dictionary<string, long>(StringComparer.Ordinal);
        var current = messages;
        foreach (var transform in _transforms)
        {
            // Each category is measured on top of the ones before it, so categories never count the same tokens twice.
            var after = transform.Apply(current);
            var tokens = Estimate(current) - Estimate(after);
            if (tokens > 0)
            {
                waste[transform.Category] = tokens;
            }

            if (transform.IsSafe)
            {
                current = after;
            }
        }

        // Boilerplate: the system prompt of a template this workspace already sent is the part a provider's prompt
        // cache (or a shorter prompt) would save. Measured only; remembered per instance, bounded.
        var templateId = TemplateFingerprint.Of(messages);
        if (workspaceId is not null && !RememberTemplate(workspaceId + "/" + templateId))
        {
            var systemTokens = messages.Where(m => ChatRequestParser.AsString(m["role"]) is "system" or "developer")
                .Sum(m => counter.CountText(TokenEstimator.TextOf(m)));
            if (systemTokens > 0)
            {
                waste[TemplateBoilerplate] = systemTokens;
            }
        }

        var sent = mode == OptimizationMode.Safe && !ReferenceEquals(current, messages) ? current : messages;
        return new OptimizationResult
        {
            Messages = sent,
            InputTokens = Estimate(sent),
            WasteTokens = waste.Values.Sum(),
            RemovableTokens = Math.Max(0, original - Estimate(current)),
            SavedTokens = ReferenceEquals(sent, messages) ? 0 : Math.Max(0, original - Estimate(sent)),
            WasteByCategory = waste,
            TemplateId = templateId,
        };
    }

    /// <summary>True when the template is new to this instance.</summary>
    private bool RememberTemplate(string key)
    {
        if (_seenTemplates.Count >= MaxRememberedTemplates)
        {
            _seenTemplates.Clear();
        }

        return _seenTemplates.TryAdd(key, 0);
    }
}
