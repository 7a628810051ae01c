using System.Globalization;
using System.Net;
using KillToken.Core.Ports;
using Microsoft.Azure.Cosmos;
using Microsoft.Extensions.Logging;

namespace KillToken.Storage.Cosmos;

/// <summary>
/// The last step of the client's own pipeline (after the SDK's retries): what Cosmos DB's guidance says to retry is
/// retried a little more, and what is still failing leaves as a <see cref="StoreUnavailableException"/> — never as a
/// status code a store would read as "missing" or "taken", nor as an SDK exception Core cannot know.
/// <list type="bullet">
/// <item>429: the SDK already waited as told (<c>x-ms-retry-after-ms</c>), up to
/// <see cref="CosmosStoreOptions.RateLimitedRetryWait"/>; not retried again. The request was not applied.</item>
/// <item>503: the service did not take the request; retried here twice (the SDK retries it only across regions).</item>
/// <item>408 and cut connections (<see cref="HttpRequestException"/>): a read, a query or an upsert may be repeated and is
/// retried here (the SDK retries some reads itself, not all); any other write (create, replace, patch, delete) may have
/// been applied, so it is never repeated blindly — it fails with <see cref="DependencyUnavailableException.OutcomeUnknown"/>.</item>
/// </list>
/// </summary>
internal sealed partial class CosmosTransientFaults(ILogger logger) : RequestHandler
{
    /// <summary>Attempts after the first that this handler makes (on top of the SDK's own).</summary>
    internal const int ExtraAttempts = 2;

    private static readonly TimeSpan BaseDelay = TimeSpan.FromMilliseconds(100);

    public override async Task<ResponseMessage> SendAsync(RequestMessage request, CancellationToken cancellationToken)
    {
        var repeatable = IsRepeatable(request);
        for (var attempt = 0; ; attempt++)
        {
            Rewind(request);
            ResponseMessage response;
            try
            {
                response = await base.SendAsync(request, cancellationToken);
            }
            catch (Exception ex) when (IsConnectionFailure(ex, cancellationToken))
            {
                if (repeatable && attempt < ExtraAttempts)
                {
                    await Task.Delay(Backoff(attempt), cancellationToken);
                    continue;
                }

                LogUnavailable(logger, request.Method.Method, ex.GetType().Name, !repeatable);
                throw new StoreUnavailableException("The store could not be reached.", null, ex) { OutcomeUnknown = !repeatable };
            }

            var status = (int)response.StatusCode;
            if (status is not (429 or 503 or 408 or 449))
            {
                return response;
            }

            // 503 and 449 (retry with): not applied. 408 on a write that is not repeatable: maybe applied.
            var retry = status switch
            {
                503 or 449 => true,
                408 => repeatable,
                _ => false,
            };
            var retryAfter = RetryAfterOf(response);
            // Not disposed: a response disposes its request, which is sent again or still read by the SDK after this.
            if (retry && attempt < ExtraAttempts)
            {
                await Task.Delay(retryAfter ?? Backoff(attempt), cancellationToken);
                continue;
            }

            var unknown = status == 408 && !repeatable;
            LogUnavailable(logger, request.Method.Method, status.ToString(CultureInfo.InvariantCulture), unknown);
            throw new StoreUnavailableException($"The store answered {status}.", retryAfter) { OutcomeUnknown = unknown };
        }
    }

    /// <summary>Reads, queries and upserts give the same result when sent twice; creates, replaces, patches and deletes may not.</summary>
    private static bool IsRepeatable(RequestMessage request)
    {
        if (HttpMethod.Get.Equals(request.Method) || HttpMethod.Head.Equals(request.Method))
        {
            return true;
        }

        if (!HttpMethod.Post.Equals(request.Method))
        {
            return false;
        }

        return IsTrue(request.Headers["x-ms-documentdb-isquery"]) || IsTrue(request.Headers["x-ms-documentdb-is-upsert"])
            || string.Equals(request.Headers["Content-Type"], "application/query+json", StringComparison.OrdinalIgnoreCase);

        static bool IsTrue(string? value) => string.Equals(value, "true", StringComparison.OrdinalIgnoreCase);
    }

    private static bool IsConnectionFailure(Exception ex, CancellationToken cancellationToken) => ex switch
    {
        HttpRequestException or IOException => true,
        CosmosException { StatusCode: HttpStatusCode.ServiceUnavailable or HttpStatusCode.RequestTimeout or HttpStatusCode.Gone } => true,
        // The SDK's own timeout, not the caller's cancellation.
        OperationCanceledException => !cancellationToken.IsCancellationRequested,
        _ => false,
    };

    private static void Rewind(RequestMessage request)
    {
        if (request.Content is { CanSeek: true } content)
        {
            content.Position = 0;
        }
    }

    private static TimeSpan Backoff(int attempt) =>
        BaseDelay * (1 << attempt) + TimeSpan.FromMilliseconds(Random.Shared.Next(0, 50));

    private static TimeSpan? RetryAfterOf(ResponseMessage response)
    {
        var header = response.Headers["x-ms-retry-after-ms"];
        return long.TryParse(header, NumberStyles.Integer, CultureInfo.InvariantCulture, out var ms) && ms >= 0
            ? TimeSpan.FromMilliseconds(Math.Min(ms, 30_000))
            : null;
    }

    [LoggerMessage(EventId = 4030, Level = LogLevel.Warning, Message = "Cosmos DB {Method} failed after retries ({Cause}); outcome unknown: {OutcomeUnknown}")]
    private static partial void LogUnavailable(ILogger logger, string method, string cause, bool outcomeUnknown);
}
