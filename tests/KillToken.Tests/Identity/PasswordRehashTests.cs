using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using KillToken.Core.Domain;
using KillToken.Core.Ports;
using KillToken.Tests.TestInfrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace KillToken.Tests.Identity;

/// <summary>Passwords at OWASP's PBKDF2-SHA256 figure (600,000 iterations); older hashes upgraded on the next sign-in.</summary>
[TestClass]
public sealed class PasswordRehashTests
{
    private const string Password = "correct horse battery";

    [TestMethod]
    public async Task SignUp_StoresAHashAt600000Iterations()
    {
        await using var host = await GatewayHost.StartAsync();
        var email = $"new-{Guid.NewGuid():N}@example.com";
        await host.SignUpAsync(email);

        var stored = await host.Services.GetRequiredService<IUserStore>().FindByEmailAsync(email);

        StringAssert.StartsWith(stored!.PasswordHash, "pbkdf2-sha256$600000$");
    }

    [TestMethod]
    public async Task SignIn_WithAHashFromTheOldWorkFactor_Succeeds_AndReplacesItWithToday()
    {
        await using var host = await GatewayHost.StartAsync();
        var users = host.Services.GetRequiredService<IUserStore>();
        var email = $"old-{Guid.NewGuid():N}@example.com";
        var legacy = LegacyHash(Password, 210_000);
        Assert.IsTrue(await users.TryCreateAsync(new UserRecord
        {
            Id = $"usr_{Guid.NewGuid():N}"[..24],
            Email = email,
            Name = "Old account",
            PasswordHash = legacy,
            CreatedAt = DateTimeOffset.UtcNow,
        }));

        var wrong = await host.Client.PostAsJsonAsync("api/auth/login", new { email, password = "not the password" });
        Assert.AreEqual(401, (int)wrong.StatusCode);
        Assert.AreEqual(legacy, (await users.FindByEmailAsync(email))!.PasswordHash, "a failed sign-in changes nothing");

        await GatewayHost.ReadJsonAsync(await host.Client.PostAsJsonAsync("api/auth/login", new { email, password = Password }), 200);
        var upgraded = (await users.FindByEmailAsync(email))!.PasswordHash;
        StringAssert.StartsWith(upgraded, "pbkdf2-sha256$600000$");
        Assert.AreNotEqual(legacy, upgraded);

        await GatewayHost.ReadJsonAsync(await host.Client.PostAsJsonAsync("api/auth/login", new { email, password = Password }), 200);
        Assert.AreEqual(upgraded, (await users.FindByEmailAsync(email))!.PasswordHash, "an up-to-date hash is not rewritten");
        Assert.AreEqual(401, (int)(await host.Client.PostAsJsonAsync("api/auth/login", new { email, password = "not the password" })).StatusCode);
    }

    /// <summary>The stored form earlier releases wrote: <c>pbkdf2-sha256$iterations$salt$hash</c>.</summary>
    private static string LegacyHash(string password, int iterations)
    {
        var salt = RandomNumberGenerator.GetBytes(16);
        var hash = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA256, 32);
        return $"pbkdf2-sha256${iterations}${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}";
    }
}
