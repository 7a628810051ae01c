using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using KillToken.Api.Notifications;
using KillToken.Tests.TestInfrastructure;

namespace KillToken.Tests.Notifications;

/// <summary>
/// How mail reaches the SMTP server (issue 11): SMTP_SECURE decides TLS, not the port; credentials never travel in clear
/// unless <c>none</c> was set; a dead server costs SMTP_TIMEOUT_SECONDS, not the request; the server certificate must be
/// trusted (system roots or SMTP_CA_FILE) and name the host. Each test runs the real gateway against a real SMTP server
/// (tests/emulators/smtp) and reads <c>emailDelivery</c> from <c>POST /api/analytics/monthly-digest/test</c>.
/// </summary>
[TestClass]
public sealed class SmtpTransportSecurityTests
{
    private const string User = "relay-user";
    private const string Password = "Relay-Secret-7f3b9c2e";

    private static TestCertificateAuthority _ca = null!;
    private static TestServerCertificate _loopback = null!;

    [ClassInitialize]
    public static void CreateCertificates(TestContext _)
    {
        _ca = TestCertificateAuthority.Create();
        _loopback = _ca.IssueLoopbackCertificate();
    }

    [ClassCleanup]
    public static void DeleteCertificates() => _ca.Dispose();

    private static Task<GatewayHost> StartGatewayAsync(int smtpPort, params (string Key, string Value)[] extra)
    {
        var settings = new Dictionary<string, string?>
        {
            ["SMTP_HOST"] = "127.0.0.1",
            ["SMTP_PORT"] = smtpPort.ToString(CultureInfo.InvariantCulture),
            ["SMTP_FROM"] = "digest@killtoken.test",
        };
        foreach (var (key, value) in extra)
        {
            settings[key] = value;
        }

        return GatewayHost.StartAsync(settings);
    }

    /// <summary>A fresh owner asks for the test digest: what <c>emailDelivery</c> said, to whom, and how long the request took.</summary>
    private static async Task<(string Delivery, string Email, TimeSpan Elapsed)> TestDigestAsync(GatewayHost host)
    {
        var tenant = await host.CreateTenantAsync();
        var me = await GatewayHost.ReadJsonAsync(await tenant.SendAsync(HttpMethod.Get, "api/me", session: true), 200);
        var clock = Stopwatch.StartNew();
        var digest = await GatewayHost.ReadJsonAsync(
            await tenant.SendAsync(HttpMethod.Post, $"api/analytics/monthly-digest/test?workspaceId={tenant.WorkspaceId}", session: true), 200);
        return (digest["emailDelivery"]!.GetValue<string>(), me["user"]!["email"]!.GetValue<string>(), clock.Elapsed);
    }

    /// <summary>The digest mail's failure as logged: the error's type name, nothing the server said.</summary>
    private static void AssertFailureLogged(GatewayHost host, params string[] errorTypes) =>
        Assert.IsTrue(host.Logs.Lines.Any(l => l.Contains("Digest mail", StringComparison.Ordinal) && errorTypes.Any(t => l.Contains("failed: " + t, StringComparison.Ordinal))),
            $"expected a digest mail failure of type {string.Join(" or ", errorTypes)}; logged: "
            + string.Join(" | ", host.Logs.Lines.Where(l => l.Contains("Digest mail", StringComparison.Ordinal))));

    private static void AssertNoPasswordLogged(GatewayHost host) =>
        Assert.IsFalse(host.Logs.Lines.Any(l => l.Contains(Password, StringComparison.Ordinal)), "a log line carries SMTP_PASS");

    [TestMethod]
    public async Task SecureTls_AgainstAnImplicitTlsServer_SendsOverTls()
    {
        using var smtp = await SmtpTestServer.StartAsync(SmtpServerMode.Tls, _loopback);
        await using var host = await StartGatewayAsync(smtp.Port, ("SMTP_SECURE", "tls"), ("SMTP_CA_FILE", _ca.CaFile));

        var (delivery, email, _) = await TestDigestAsync(host);

        Assert.AreEqual("sent", delivery);
        var mail = (await smtp.WaitForAsync(1)).Single();
        Assert.AreEqual(email, mail.To.Single());
        Assert.IsTrue(mail.Secure, "the session was TLS");
    }

    [TestMethod]
    public async Task DefaultStartTls_WithLogin_AuthenticatesOnlyAfterTheUpgrade()
    {
        using var smtp = await SmtpTestServer.StartAsync(SmtpServerMode.StartTls, _loopback, (User, Password));
        // No SMTP_SECURE: starttls is the default. The server would accept AUTH before STARTTLS too, so an early one shows.
        await using var host = await StartGatewayAsync(smtp.Port, ("SMTP_USER", User), ("SMTP_PASS", Password), ("SMTP_CA_FILE", _ca.CaFile));

        var (delivery, _, _) = await TestDigestAsync(host);

        Assert.AreEqual("sent", delivery);
        var mail = (await smtp.WaitForAsync(1)).Single();
        Assert.IsTrue(mail.Secure);
        Assert.AreEqual(User, mail.User);
        var auth = smtp.Auths.Single();
        Assert.IsTrue(auth.Secure, "AUTH came after STARTTLS");
        Assert.IsTrue(auth.Accepted);
        AssertNoPasswordLogged(host);
    }

    [TestMethod]
    public async Task DefaultStartTls_AgainstAServerWithoutStartTls_FailsAndNeverSendsTheCredentials()
    {
        // This server offers AUTH in clear text and no STARTTLS: a client that falls back would hand it the password.
        using var smtp = await SmtpTestServer.StartAsync(SmtpServerMode.Plain);
        await using var host = await StartGatewayAsync(smtp.Port, ("SMTP_USER", User), ("SMTP_PASS", Password));

        var (delivery, _, _) = await TestDigestAsync(host);

        Assert.AreEqual("failed", delivery);
        await Task.Delay(300); // let a (wrong) AUTH or message line arrive from the server process
        Assert.IsEmpty(smtp.Auths, "credentials reached a server that offered no STARTTLS");
        Assert.IsEmpty(smtp.Messages);
        AssertFailureLogged(host, "NotSupportedException"); // MailKit: the server does not support STARTTLS
        AssertNoPasswordLogged(host);
    }

    [TestMethod]
    public async Task SecureNone_SetExplicitly_SendsInClearText()
    {
        using var smtp = await SmtpTestServer.StartAsync(SmtpServerMode.Plain, requiredLogin: (User, Password));
        await using var host = await StartGatewayAsync(smtp.Port, ("SMTP_SECURE", "none"), ("SMTP_USER", User), ("SMTP_PASS", Password));

        var (delivery, email, _) = await TestDigestAsync(host);

        Assert.AreEqual("sent", delivery);
        var mail = (await smtp.WaitForAsync(1)).Single();
        Assert.AreEqual(email, mail.To.Single());
        Assert.IsFalse(mail.Secure);
        Assert.IsFalse(smtp.Auths.Single().Secure, "the operator chose clear text");
        AssertNoPasswordLogged(host);
    }

    [TestMethod]
    public async Task AServerThatAcceptsAndNeverSpeaks_FailsTheMailWithinTheTimeout_NotTheRequest()
    {
        using var blackhole = new TcpListener(IPAddress.Loopback, 0);
        blackhole.Start();
        var held = new System.Collections.Concurrent.ConcurrentBag<TcpClient>();
        using var stop = new CancellationTokenSource();
        var accepting = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    held.Add(await blackhole.AcceptTcpClientAsync(stop.Token)); // accepted, never answered
                }
            }
            catch (OperationCanceledException)
            {
            }
        });
        var port = ((IPEndPoint)blackhole.LocalEndpoint).Port;
        await using (var host = await StartGatewayAsync(port, ("SMTP_TIMEOUT_SECONDS", "2"), ("SMTP_USER", User), ("SMTP_PASS", Password)))
        {
            var (delivery, _, elapsed) = await TestDigestAsync(host);

            Assert.AreEqual("failed", delivery);
            // A behaviour bound, not a performance figure: the old client waited 100 s.
            Assert.IsLessThan(TimeSpan.FromSeconds(30), elapsed, $"the request took {elapsed}");
            Assert.IsNotEmpty(held, "the gateway did connect");
            AssertFailureLogged(host, "TimeoutException", "IOException");
            AssertNoPasswordLogged(host);
        }

        await stop.CancelAsync();
        await accepting;
        foreach (var client in held)
        {
            client.Dispose();
        }
    }

    [TestMethod]
    public async Task InvalidSmtpSettings_StopStartUp_NamingEachSetting()
    {
        var missing = Path.Combine(Path.GetTempPath(), "killtoken-tests", "no-such-ca-" + Guid.NewGuid().ToString("N") + ".pem");

        var error = await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => StartGatewayAsync(2525,
            ("SMTP_SECURE", "ssl"), ("SMTP_TIMEOUT_SECONDS", "0"), ("SMTP_CA_FILE", missing), ("SMTP_PASS", Password)));

        StringAssert.Contains(error.Message, "SMTP_SECURE must be 'starttls', 'tls' or 'none'.");
        StringAssert.Contains(error.Message, "SMTP_TIMEOUT_SECONDS must be a whole number from 1 to 120.");
        StringAssert.Contains(error.Message, "SMTP_CA_FILE");
        Assert.IsFalse(error.Message.Contains(Password, StringComparison.Ordinal));
    }

    [TestMethod]
    public async Task AServerCertificateNotTrusted_WithoutCaFile_Fails()
    {
        using var smtp = await SmtpTestServer.StartAsync(SmtpServerMode.StartTls, _loopback);
        await using var host = await StartGatewayAsync(smtp.Port, ("SMTP_USER", User), ("SMTP_PASS", Password));

        var (delivery, _, _) = await TestDigestAsync(host);

        Assert.AreEqual("failed", delivery);
        await Task.Delay(300);
        Assert.IsEmpty(smtp.Auths, "credentials went to a server whose certificate nobody trusts");
        Assert.IsEmpty(smtp.Messages);
        AssertFailureLogged(host, "SslHandshakeException");
        AssertNoPasswordLogged(host);
    }

    [TestMethod]
    public async Task ACertificateForAnotherName_Fails_EvenWhenItsCaIsTrusted()
    {
        using var smtp = await SmtpTestServer.StartAsync(SmtpServerMode.Tls, _ca.IssueServerCertificate(["mail.other.test"], []));
        await using var host = await StartGatewayAsync(smtp.Port, ("SMTP_SECURE", "tls"), ("SMTP_CA_FILE", _ca.CaFile));

        var (delivery, _, _) = await TestDigestAsync(host);

        Assert.AreEqual("failed", delivery);
        await Task.Delay(300);
        Assert.IsEmpty(smtp.Messages);
        AssertFailureLogged(host, "SslHandshakeException");
    }

    [TestMethod]
    public void SmtpOptions_ToString_RedactsThePassword()
    {
        var text = new SmtpOptions { Host = "mail.example.test", User = User, Password = Password }.ToString();

        Assert.IsFalse(text.Contains(Password, StringComparison.Ordinal), text);
        StringAssert.Contains(text, "redacted");
    }
}
