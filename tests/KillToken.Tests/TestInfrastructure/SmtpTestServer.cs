using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json.Nodes;

namespace KillToken.Tests.TestInfrastructure;

/// <summary>One message as the SMTP server received it.</summary>
internal sealed record ReceivedMail(string? From, IReadOnlyList<string> To, string Data)
{
    public string Subject => Header("Subject") ?? string.Empty;

    /// <summary>The body as a mail client shows it: quoted-printable or base64 decoded (single-part text mails).</summary>
    public string Text
    {
        get
        {
            var start = Data.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            var body = start < 0 ? string.Empty : Data[(start + 4)..];
            var charset = System.Text.Encoding.UTF8;
            return Header("Content-Transfer-Encoding")?.ToLowerInvariant() switch
            {
                "base64" => charset.GetString(Convert.FromBase64String(body.Replace("\r\n", "", StringComparison.Ordinal))),
                "quoted-printable" => charset.GetString(QuotedPrintable(body.Replace("=\r\n", "", StringComparison.Ordinal))),
                _ => body,
            };
        }
    }

    private string? Header(string name) => Data.Split("\r\n")
        .TakeWhile(l => l.Length > 0)
        .FirstOrDefault(l => l.StartsWith(name + ":", StringComparison.OrdinalIgnoreCase))?[(name.Length + 1)..].Trim();

    private static byte[] QuotedPrintable(string text)
    {
        var bytes = new List<byte>(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '=' && i + 2 < text.Length)
            {
                bytes.Add(Convert.ToByte(text.Substring(i + 1, 2), 16));
                i += 2;
            }
            else
            {
                bytes.Add((byte)text[i]);
            }
        }

        return [.. bytes];
    }
}

/// <summary>
/// A real SMTP server (npm smtp-server, tests/emulators/smtp) on 127.0.0.1, one process per test class;
/// every message it accepts is kept for assertions. Its stdin pipe closing stops it, even after a crash.
/// </summary>
internal sealed class SmtpTestServer : IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<ReceivedMail> _messages = new();

    private SmtpTestServer(Process process) => _process = process;

    public int Port { get; private set; }

    public IReadOnlyList<ReceivedMail> Messages => [.. _messages];

    public static async Task<SmtpTestServer> StartAsync()
    {
        var folder = Path.Combine(RepositoryRoot(), "tests", "emulators", "smtp");
        if (!Directory.Exists(Path.Combine(folder, "node_modules")))
        {
            using var install = Process.Start(new ProcessStartInfo("npm", "ci --no-audit --no-fund --loglevel=error") { WorkingDirectory = folder })!;
            await install.WaitForExitAsync();
        }

        var process = Process.Start(new ProcessStartInfo("node", "server.js 0")
        {
            WorkingDirectory = folder,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;
        var server = new SmtpTestServer(process);
        var ready = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                ready.TrySetException(new InvalidOperationException("The SMTP test server exited."));
                return;
            }

            if (e.Data.StartsWith("SMTP_READY ", StringComparison.Ordinal))
            {
                ready.TrySetResult(int.Parse(e.Data["SMTP_READY ".Length..], System.Globalization.CultureInfo.InvariantCulture));
            }
            else if (e.Data.StartsWith('{'))
            {
                var json = JsonNode.Parse(e.Data)!;
                server._messages.Enqueue(new ReceivedMail(
                    json["from"]?.GetValue<string>(),
                    [.. json["to"]!.AsArray().Select(t => t!.GetValue<string>())],
                    json["data"]!.GetValue<string>()));
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        server.Port = await ready.Task.WaitAsync(TimeSpan.FromSeconds(30));
        return server;
    }

    /// <summary>Waits until at least <paramref name="count"/> messages arrived (alerts are sent after the response).</summary>
    public async Task<IReadOnlyList<ReceivedMail>> WaitForAsync(int count, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (_messages.Count < count && DateTime.UtcNow < deadline)
        {
            await Task.Delay(25);
        }

        return Messages;
    }

    public void Dispose()
    {
        try
        {
            _process.StandardInput.Close();
            if (!_process.WaitForExit(5000))
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
    }

    public static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "KillToken.Functions.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("Repository root not found.");
    }
}
