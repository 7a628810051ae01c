using KillToken.Core.Optimization;
using Microsoft.Extensions.Hosting;

namespace KillToken.Api.Hosting;

/// <summary>
/// Builds the o200k tokenizer (every current OpenAI model's) on a pool thread while the host starts, so the first
/// OpenAI request does not wait the ~0.7 s its vocabulary takes to load; start-up does not wait for it either. cl100k
/// (GPT-4, GPT-3.5) stays lazy: few deployments still call those models.
/// </summary>
internal sealed class TokenizerWarmUp : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _ = Task.Run(TokenCounter.O200k.WarmUp, CancellationToken.None);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
