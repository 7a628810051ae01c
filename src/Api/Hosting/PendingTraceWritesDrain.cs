using KillToken.Core.Gateway;
using Microsoft.Extensions.Hosting;

namespace KillToken.Api.Hosting;

/// <summary>
/// A clean stop loses no answered call's trace or spend: once every hosted service has stopped (the web server has
/// finished its requests, the Functions worker its invocations), the trace writes still under way are awaited before
/// the stores are disposed.
/// </summary>
internal sealed class PendingTraceWritesDrain(PendingTraceWrites pending) : IHostedLifecycleService
{
    public Task StoppedAsync(CancellationToken cancellationToken) => pending.DrainAsync(cancellationToken);

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
