using System.Text.Json;
using System.Text.Json.Nodes;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using KillToken.Core.Gateway;
using KillToken.Core.Optimization;
using Microsoft.ML.Tokenizers;

namespace KillToken.MicroBench;

/// <summary>
/// What counting a typical 1–3 KB chat request costs: the heuristic against the o200k/cl100k tokenizers, for the
/// prompt alone (what the gateway charges when a provider reports no usage) and for the optimizer's whole pass
/// (measure_only: every transform measured, the reservation's count). Per request: each invocation walks the whole
/// pool of distinct requests (English, code and JSON, as most traffic is), so the tokenizers' word caches see a real
/// mix, not one text on repeat.
/// </summary>
[MemoryDiagnoser]
public class TokenCountingBenchmarks
{
    private const int Requests = 24;
    private readonly PromptOptimizer _optimizer = new();
    private JsonObject[][] _pool = [];

    [GlobalSetup]
    public void Setup()
    {
        _pool = RequestPool.Build(Requests);
        _ = TokenCounter.O200k.CountText("warm");
        _ = TokenCounter.Cl100k.CountText("warm");
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Requests)]
    public long Prompt_Estimate() => CountAll(TokenCounter.Estimate);

    [Benchmark(OperationsPerInvoke = Requests)]
    public long Prompt_O200k() => CountAll(TokenCounter.O200k);

    [Benchmark(OperationsPerInvoke = Requests)]
    public long Prompt_Cl100k() => CountAll(TokenCounter.Cl100k);

    [Benchmark(OperationsPerInvoke = Requests)]
    public long Optimizer_Estimate() => OptimizeAll(TokenCounter.Estimate);

    [Benchmark(OperationsPerInvoke = Requests)]
    public long Optimizer_O200k() => OptimizeAll(TokenCounter.O200k);

    private long CountAll(TokenCounter counter)
    {
        long total = 0;
        foreach (var messages in _pool)
        {
            total += counter.CountMessages(messages);
        }

        return total;
    }

    private long OptimizeAll(TokenCounter counter)
    {
        long total = 0;
        foreach (var messages in _pool)
        {
            total += _optimizer.Optimize(messages, OptimizationMode.MeasureOnly, null, counter).InputTokens;
        }

        return total;
    }
}

/// <summary>The one-off cost: building a tokenizer (its vocabulary loaded from the data package), once per process.</summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.ColdStart, iterationCount: 10)]
public class TokenizerCreationBenchmarks
{
    [Benchmark]
    public Tokenizer Create_O200k() => TiktokenTokenizer.CreateForEncoding("o200k_base");

    [Benchmark]
    public Tokenizer Create_Cl100k() => TiktokenTokenizer.CreateForEncoding("cl100k_base");
}

/// <summary>Chat requests of 1–3 KB made of the calibration fixtures: a system prompt, a user turn, an assistant turn.</summary>
internal static class RequestPool
{
    private static readonly string[] TypicalClasses = ["english", "code-csharp", "code-python", "code-js", "code-other", "json-pretty", "json-minified"];

    public static JsonObject[][] Build(int count)
    {
        using var stream = typeof(RequestPool).Assembly.GetManifestResourceStream("token-fixtures.json")!;
        using var document = JsonDocument.Parse(stream);
        var fixtures = document.RootElement.GetProperty("fixtures").EnumerateArray()
            .Select(f => (Class: f.GetProperty("class").GetString()!, Text: f.GetProperty("text").GetString()!))
            .ToList();
        var english = fixtures.Where(f => f.Class == "english").Select(f => f.Text).ToList();
        var typical = fixtures.Where(f => TypicalClasses.Contains(f.Class)).Select(f => f.Text).ToList();
        const string System = "You are a support assistant for an online shoe shop. Answer in the customer's language, briefly and politely. "
            + "Quote order numbers exactly. If a refund is due, say how long it takes (5 to 7 working days) and never promise more. "
            + "If the question is about code or data the customer pasted, explain it step by step and keep their formatting.";
        return [.. Enumerable.Range(0, count).Select(i => new[]
        {
            Message("system", System),
            Message("user", typical[i % typical.Count]),
            Message("assistant", english[i % english.Count][..Math.Min(400, english[i % english.Count].Length)]),
        })];
    }

    private static JsonObject Message(string role, string content) => new() { ["role"] = role, ["content"] = content };
}
