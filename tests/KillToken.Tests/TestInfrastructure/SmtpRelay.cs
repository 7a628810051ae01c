using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace KillToken.Tests.TestInfrastructure;

/// <summary>How <see cref="SmtpRelay"/> treats the next connections.</summary>
internal enum SmtpRelayMode
{
    /// <summary>Passes bytes both ways to the real SMTP server.</summary>
    Pass,

    /// <summary>Accepts and closes at once, before the greeting: a server that is down or restarting.</summary>
    Refuse,

    /// <summary>Accepts and never says a word: a hung server, which only the client's timeout ends.</summary>
    Stall,

    /// <summary>
    /// Passes everything until the client has sent a whole message (the <c>.</c> line after DATA), forwards it, then cuts
    /// the connection before the server's reply reaches the client: the server has the mail, the client cannot know.
    /// </summary>
    CutAfterData,
}

/// <summary>
/// A TCP relay on 127.0.0.1 in front of <see cref="SmtpTestServer"/>, so a test can take the mail server down, hang it or
/// cut it mid-message and bring it back, while the gateway keeps the same SMTP_PORT. Records when each connection opened
/// and closed.
/// </summary>
internal sealed class SmtpRelay : IAsyncDisposable
{
    private static readonly byte[] EndOfData = "\r\n.\r\n"u8.ToArray();
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _serverPort;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentQueue<RelayedConnection> _connections = new();
    private readonly Task _accepting;

    public SmtpRelay(int serverPort, SmtpRelayMode mode)
    {
        _serverPort = serverPort;
        Mode = mode;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public SmtpRelayMode Mode { get; set; }

    public IReadOnlyList<RelayedConnection> Connections => [.. _connections];

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }

            var connection = new RelayedConnection(Mode, DateTimeOffset.UtcNow);
            _connections.Enqueue(connection);
            _ = Task.Run(() => HandleAsync(client, connection));
        }
    }

    private async Task HandleAsync(TcpClient client, RelayedConnection connection)
    {
        using (client)
        {
            try
            {
                switch (connection.Mode)
                {
                    case SmtpRelayMode.Refuse:
                        client.Client.Close();
                        break;
                    case SmtpRelayMode.Stall:
                        // Read and drop until the client gives up (or the test ends).
                        var buffer = new byte[1024];
                        while (await client.GetStream().ReadAsync(buffer, _stop.Token) > 0)
                        {
                        }

                        break;
                    default:
                        using (var server = new TcpClient())
                        {
                            await server.ConnectAsync(IPAddress.Loopback, _serverPort, _stop.Token);
                            using var cut = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                            var messageSent = new StrongBox<bool>();
                            var up = CopyAsync(client.GetStream(), server.GetStream(), connection.Mode == SmtpRelayMode.CutAfterData ? messageSent : null, cut);
                            var down = CopyAsync(server.GetStream(), client.GetStream(), null, cut, messageSent);
                            await Task.WhenAny(up, down);
                            await cut.CancelAsync();
                        }

                        break;
                }
            }
            catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
            }
            finally
            {
                connection.Closed = DateTimeOffset.UtcNow;
            }
        }
    }

    /// <summary>
    /// Copies until either side closes. With <paramref name="endOfMessage"/>, stops right after the end of a message and
    /// sets it; with <paramref name="silencedBy"/>, drops everything once that is set (the server's reply to the message).
    /// </summary>
    private static async Task CopyAsync(NetworkStream from, NetworkStream to, StrongBox<bool>? endOfMessage, CancellationTokenSource cut, StrongBox<bool>? silencedBy = null)
    {
        var buffer = new byte[4096];
        var tail = new List<byte>(8);
        int read;
        while ((read = await from.ReadAsync(buffer, cut.Token)) > 0)
        {
            var ends = false;
            if (endOfMessage is not null)
            {
                tail.AddRange(buffer.AsSpan(0, read).ToArray());
                if (tail.Count > 64)
                {
                    tail.RemoveRange(0, tail.Count - 64);
                }

                ends = tail.Count >= EndOfData.Length && tail.Skip(tail.Count - EndOfData.Length).SequenceEqual(EndOfData);
                endOfMessage.Value |= ends;
            }

            if (silencedBy is { Value: true })
            {
                return;
            }

            await to.WriteAsync(buffer.AsMemory(0, read), cut.Token);
            if (ends)
            {
                await to.FlushAsync(cut.Token);
                await Task.Delay(300, cut.Token); // let the server take the message before the client is cut off
                return;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }
}

/// <summary>One connection the relay took: how it was treated, when it opened, and when it closed (null while open).</summary>
internal sealed class RelayedConnection(SmtpRelayMode mode, DateTimeOffset opened)
{
    public SmtpRelayMode Mode { get; } = mode;
    public DateTimeOffset Opened { get; } = opened;
    public DateTimeOffset? Closed { get; set; }
}
