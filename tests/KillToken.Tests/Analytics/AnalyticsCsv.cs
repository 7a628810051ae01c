using System.Globalization;
using System.Text;
using CsvHelper;

namespace KillToken.Tests.Analytics;

/// <summary>A CSV export as bytes, its header and its data rows, read back by a strict RFC 4180 reader.</summary>
internal sealed record CsvExport(byte[] Bytes, string Text, IReadOnlyList<string> Header, IReadOnlyList<string[]> Rows)
{
    public int Column(string name)
    {
        var index = Header.ToList().IndexOf(name);
        Assert.IsTrue(index >= 0, $"no column '{name}'");
        return index;
    }

    public IReadOnlyList<string> Values(string column)
    {
        var index = Column(column);
        return [.. Rows.Select(r => r[index])];
    }
}

/// <summary>Reads the analytics CSV exports with CsvHelper and checks what every export of the spec must be.</summary>
internal static class AnalyticsCsv
{
    public const string SessionHeader =
        "createdAt,workspace,project,provider,model,status,inputTokens,outputTokens,totalTokens,estimatedCostUsd,latencyMs,errorCode";

    public const string RequestsHeader =
        "requestId,createdAt,projectId,endpoint,provider,model,finalProvider,finalModel,wasFallback,optimizationMode,feature,templateId,stream,status,errorCode,inputTokens,outputTokens,cachedInputTokens,totalTokens,wasteTokens,savedTokens,costUsd,costStatus,savedUsd,cacheStatus,idempotency,latencyMs,providerLatencyMs,overheadMs";

    private static readonly CsvReaderOptions Strict = new()
    {
        Separator = ',',
        HasHeader = true,
        Mode = CsvMode.Rfc4180,
        AllowLineBreaksInQuotes = true,
        TrimWhitespace = false,
        MalformedData = CsvMalformedDataHandling.Throw,
        FieldCountMismatch = CsvFieldCountHandling.Throw,
        MissingField = CsvMissingFieldHandling.Throw,
    };

    /// <summary>
    /// A 200 <c>text/csv</c> whose first line is exactly <paramref name="header"/>, every record ended by CRLF, every cell
    /// that a spreadsheet would run as a formula neutralised; read with CsvHelper. The dashboard's export.csv (the spec
    /// says so of it) is also <c>charset=utf-8</c> and an attachment.
    /// </summary>
    public static async Task<CsvExport> ReadAsync(HttpResponseMessage response, string header)
    {
        var bytes = await response.Content.ReadAsByteArrayAsync();
        Assert.AreEqual(200, (int)response.StatusCode, Encoding.UTF8.GetString(bytes));
        var contentType = response.Content.Headers.ContentType;
        Assert.AreEqual("text/csv", contentType?.MediaType);
        if (header == SessionHeader)
        {
            Assert.IsTrue(string.Equals("utf-8", contentType?.CharSet, StringComparison.OrdinalIgnoreCase), "charset=utf-8: " + contentType);
            Assert.IsTrue(string.Equals("attachment", response.Content.Headers.ContentDisposition?.DispositionType, StringComparison.OrdinalIgnoreCase),
                "Content-Disposition: attachment: " + response.Content.Headers.ContentDisposition);
        }

        return Parse(bytes, header);
    }

    public static CsvExport Parse(byte[] bytes, string header)
    {
        // A UTF-8 byte order mark (which some spreadsheets want) is allowed before the header; nothing else is.
        var body = bytes.AsSpan().StartsWith("\uFEFF"u8) ? bytes[3..] : bytes;
        var text = Encoding.UTF8.GetString(body);
        Assert.IsTrue(text.StartsWith(header + "\r\n", StringComparison.Ordinal), "the header line, exactly, then CRLF: " + text[..Math.Min(text.Length, 400)]);

        var rows = new List<string[]>();
        string[] names;
        using (var reader = CsvReader.Create(body, Strict))
        {
            while (reader.Read())
            {
                rows.Add(reader.Current.ToArray());
            }

            names = [.. reader.Headers];
        }

        Assert.AreEqual(header, string.Join(',', names));
        foreach (var row in rows)
        {
            Assert.AreEqual(names.Length, row.Length, "every row has every column");
            foreach (var cell in row)
            {
                Assert.IsFalse(RunsAsAFormula(cell), $"a cell a spreadsheet would run: [{cell}]");
            }
        }

        Assert.IsTrue(rows.Count == 0 || text.EndsWith("\r\n", StringComparison.Ordinal), "the last record ends with CRLF too");
        var crlfInsideCells = rows.Sum(r => r.Sum(c => Occurrences(c, "\r\n"))) + names.Sum(n => Occurrences(n, "\r\n"));
        Assert.AreEqual(rows.Count + 1, Occurrences(text, "\r\n") - crlfInsideCells, "records end with CRLF");
        Assert.AreEqual(0, Occurrences(text.Replace("\r\n", "", StringComparison.Ordinal), "\r") - rows.Sum(r => r.Sum(c => Occurrences(c.Replace("\r\n", "", StringComparison.Ordinal), "\r"))),
            "no bare CR outside a cell");
        return new CsvExport(bytes, text, names, rows);
    }

    /// <summary>What a cell holding <paramref name="value"/> must read: with a leading apostrophe when a spreadsheet would run it.</summary>
    public static string Neutralised(string value) => RunsAsAFormula(value) ? "'" + value : value;

    /// <summary>Starts with = + - @ tab or CR, and is not a plain number.</summary>
    public static bool RunsAsAFormula(string value) =>
        value.Length > 0 && value[0] is '=' or '+' or '-' or '@' or '\t' or '\r'
        && !decimal.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out _);

    public static decimal Money(string cell) => decimal.Parse(cell, NumberStyles.Float, CultureInfo.InvariantCulture);

    public static double Number(string cell) => double.Parse(cell, NumberStyles.Float, CultureInfo.InvariantCulture);

    /// <summary>true/false in any case, or 1/0.</summary>
    public static bool Flag(string cell) => cell switch
    {
        "1" => true,
        "0" => false,
        _ => bool.Parse(cell),
    };

    /// <summary>An ISO 8601 UTC instant written with a 'Z'.</summary>
    public static DateTimeOffset Instant(string cell)
    {
        Assert.IsTrue(cell.EndsWith('Z') && cell.Contains('T', StringComparison.Ordinal), "ISO 8601 UTC with 'Z': " + cell);
        return DateTimeOffset.Parse(cell, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
    }

    private static int Occurrences(string text, string what)
    {
        var count = 0;
        for (var i = text.IndexOf(what, StringComparison.Ordinal); i >= 0; i = text.IndexOf(what, i + what.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }
}
