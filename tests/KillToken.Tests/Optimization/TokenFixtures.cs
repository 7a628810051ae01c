using System.Text.Json;

namespace KillToken.Tests.Optimization;

/// <summary>One calibration text and its counts by the real o200k_base and cl100k_base tokenizers.</summary>
internal sealed record TokenFixture(string Name, string Class, string Text, int O200k, int Cl100k)
{
    /// <summary>The count the estimate must reach: a provider's tokenizer is unknown here, so the costlier of the two.</summary>
    public int Reference => Math.Max(O200k, Cl100k);
}

/// <summary>The checked-in fixture set, <c>Optimization/Fixtures/token-fixtures.json</c>.</summary>
internal static class TokenFixtures
{
    public static string Path { get; } = System.IO.Path.Combine(AppContext.BaseDirectory, "Optimization", "Fixtures", "token-fixtures.json");

    public static IReadOnlyList<TokenFixture> All { get; } = Load();

    private static List<TokenFixture> Load()
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path));
        return [.. document.RootElement.GetProperty("fixtures").EnumerateArray().Select(f => new TokenFixture(
            f.GetProperty("name").GetString()!,
            f.GetProperty("class").GetString()!,
            f.GetProperty("text").GetString()!,
            f.GetProperty("o200k").GetInt32(),
            f.GetProperty("cl100k").GetInt32()))];
    }
}
