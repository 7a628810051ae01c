using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace KillToken.Api.Http;

/// <summary>
/// A CSV download written as its rows are read: the header at once, then each row, flushed every few hundred rows,
/// so an export never sits whole in memory. RFC 4180: comma separated, CRLF line ends, a field holding a comma, a quote
/// or a line break is quoted with its quotes doubled. <paramref name="completed"/> runs after the last row (or after
/// the client went away) with how many data rows were written.
/// </summary>
internal sealed class CsvResult(string fileName, IReadOnlyList<string> header, IAsyncEnumerable<string?[]> rows, Func<int, Task> completed) : IResult
{
    private const int FlushEveryRows = 500;

    public async Task ExecuteAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var response = context.Response;
        var aborted = context.RequestAborted;
        // The first rows are read before anything is sent: a store that cannot answer gets the contract's error
        // (by the error middleware), not a 200 with a header and nothing after it.
        await using var pending = rows.GetAsyncEnumerator(aborted);
        var more = await pending.MoveNextAsync();
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/csv; charset=utf-8";
        response.Headers.ContentDisposition = $"attachment; filename=\"{fileName}\"";
        response.Headers.CacheControl = "no-store";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        var written = 0;
        try
        {
            var line = new StringBuilder();
            await WriteAsync(response, Line(line, header), aborted);
            for (; more; more = await pending.MoveNextAsync())
            {
                await WriteAsync(response, Line(line, pending.Current), aborted);
                if (++written % FlushEveryRows == 0)
                {
                    await response.Body.FlushAsync(aborted);
                }
            }

            await response.Body.FlushAsync(aborted);
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            // The client went away: what it received is all there is.
        }
        finally
        {
            await completed(written);
        }
    }

    private static Task WriteAsync(HttpResponse response, string line, CancellationToken cancellationToken) =>
        response.Body.WriteAsync(Encoding.UTF8.GetBytes(line), cancellationToken).AsTask();

    private static string Line(StringBuilder line, IReadOnlyList<string?> fields)
    {
        line.Clear();
        for (var i = 0; i < fields.Count; i++)
        {
            if (i > 0)
            {
                line.Append(',');
            }

            Append(line, fields[i]);
        }

        return line.Append("\r\n").ToString();
    }

    private static void Append(StringBuilder line, string? field)
    {
        if (string.IsNullOrEmpty(field))
        {
            return;
        }

        if (field.AsSpan().IndexOfAny(",\"\r\n") < 0)
        {
            line.Append(field);
            return;
        }

        line.Append('"').Append(field.Replace("\"", "\"\"", StringComparison.Ordinal)).Append('"');
    }
}

/// <summary>What goes into a CSV cell.</summary>
internal static class CsvCell
{
    /// <summary>
    /// Text from a user (a project name, a feature tag, a model name): a value a spreadsheet would run as a formula
    /// (leading <c>=</c>, <c>+</c>, <c>-</c>, <c>@</c>, tab or carriage return) gets a leading apostrophe, so it shows as text.
    /// </summary>
    public static string? Text(string? value) =>
        value is { Length: > 0 } && value[0] is '=' or '+' or '-' or '@' or '\t' or '\r' ? "'" + value : value;

    public static string Number(long value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public static string Number(double value) => value.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);

    public static string? Money(decimal? value) => value?.ToString("0.##########", System.Globalization.CultureInfo.InvariantCulture);

    public static string Time(DateTimeOffset value) => value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture);
}
