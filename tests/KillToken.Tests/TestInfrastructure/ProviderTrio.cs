namespace KillToken.Tests.TestInfrastructure;

/// <summary>
/// A gateway wired to three fake providers (OpenAI, Anthropic, Gemini wire formats) — the setup the wrapper,
/// streaming and error-mapping suites share.
/// </summary>
internal sealed record ProviderTrio(FakeUpstream OpenAI, FakeUpstream Anthropic, FakeUpstream Gemini, GatewayHost Host) : IAsyncDisposable
{
    public static async Task<ProviderTrio> StartAsync(IDictionary<string, string?>? extraSettings = null)
    {
        var openai = await FakeUpstream.StartAsync();
        var anthropic = await FakeUpstream.StartAsync();
        var gemini = await FakeUpstream.StartAsync();
        var settings = new Dictionary<string, string?>
        {
            ["KILLTOKEN_OPENAI_BASE_URL"] = new Uri(openai.BaseAddress, "v1").ToString(),
            ["KILLTOKEN_ANTHROPIC_BASE_URL"] = anthropic.BaseAddress.ToString(),
            ["KILLTOKEN_GEMINI_BASE_URL"] = gemini.BaseAddress.ToString(),
        };
        foreach (var (key, value) in extraSettings ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        return new ProviderTrio(openai, anthropic, gemini, await GatewayHost.StartAsync(settings));
    }

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        await OpenAI.DisposeAsync();
        await Anthropic.DisposeAsync();
        await Gemini.DisposeAsync();
    }
}
