using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json.Nodes;

namespace KillToken.Tests.TestInfrastructure;

/// <summary>One message as the SMTP server received it; <paramref name="Secure"/>: the session was TLS when it arrived.</summary>
internal sealed record ReceivedMail(string? From, IReadOnlyList<string> To, string Data, string? User = null, bool Secure = false)
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

/// <summary>One AUTH command as it reached the server (whatever the outcome), and whether the session was TLS by then.</summary>
internal sealed record ReceivedAuth(string? User, bool Secure, bool Accepted);

/// <summary>How the test SMTP server speaks (server.js --mode).</summary>
internal enum SmtpServerMode
{
    /// <summary>Clear text only: STARTTLS is not offered, AUTH is accepted in clear.</summary>
    Plain,

    /// <summary>STARTTLS offered (AUTH is accepted before it too, so a client that authenticates early is seen).</summary>
    StartTls,

    /// <summary>Implicit TLS from the first byte.</summary>
    Tls,
}

/// <summary>
/// A real SMTP server (npm smtp-server, tests/emulators/smtp) on 127.0.0.1, one process per test class or test;
/// every message and every AUTH it receives is kept for assertions. Its stdin pipe closing stops it, even after a crash.
/// </summary>
internal sealed class SmtpTestServer : IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<ReceivedMail> _messages = new();
    private readonly ConcurrentQueue<ReceivedAuth> _auths = new();

    private SmtpTestServer(Process process) => _process = process;

    public int Port { get; private set; }

    public IReadOnlyList<ReceivedMail> Messages => [.. _messages];

    public IReadOnlyList<ReceivedAuth> Auths => [.. _auths];

    /// <param name="mode">plain (default), STARTTLS or implicit TLS.</param>
    /// <param name="certificate">The server's key and certificate; required unless <paramref name="mode"/> is plain.</param>
    /// <param name="requiredLogin">When set, MAIL needs AUTH with exactly this user and password.</param>
    public static async Task<SmtpTestServer> StartAsync(
        SmtpServerMode mode = SmtpServerMode.Plain, TestServerCertificate? certificate = null, (string User, string Password)? requiredLogin = null)
    {
        var folder = Path.Combine(Repository.Root, "tests", "emulators", "smtp");
        if (!Directory.Exists(Path.Combine(folder, "node_modules")))
        {
            using var install = Process.Start(new ProcessStartInfo("npm", "ci --no-audit --no-fund --loglevel=error") { WorkingDirectory = folder })!;
            await install.WaitForExitAsync();
        }

        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = folder,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("server.js");
        start.ArgumentList.Add("0");
        start.ArgumentList.Add("--mode=" + mode.ToString().ToLowerInvariant());
        if (mode != SmtpServerMode.Plain)
        {
            ArgumentNullException.ThrowIfNull(certificate);
            start.ArgumentList.Add("--key=" + certificate.KeyFile);
            start.ArgumentList.Add("--cert=" + certificate.CertificateFile);
        }

        if (requiredLogin is { } login)
        {
            start.ArgumentList.Add("--require-auth");
            start.Environment["SMTP_EMULATOR_USER"] = login.User;
            start.Environment["SMTP_EMULATOR_PASS"] = login.Password;
        }

        var process = Process.Start(start)!;
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
                var secure = json["secure"]?.GetValue<bool>() ?? false;
                if (json["event"]?.GetValue<string>() == "auth")
                {
                    server._auths.Enqueue(new ReceivedAuth(json["user"]?.GetValue<string>(), secure, json["accepted"]!.GetValue<bool>()));
                    return;
                }

                server._messages.Enqueue(new ReceivedMail(
                    json["from"]?.GetValue<string>(),
                    [.. json["to"]!.AsArray().Select(t => t!.GetValue<string>())],
                    json["data"]!.GetValue<string>(),
                    json["user"]?.GetValue<string>(),
                    secure));
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
}
