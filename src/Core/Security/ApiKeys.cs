using System.Security.Cryptography;
using System.Text;

namespace KillToken.Core.Security;

/// <summary>Project API keys: <c>kt_live_</c> + 40 random base62 characters, stored as an HMAC with a server pepper.</summary>
public sealed class ApiKeyHasher
{
    public const string Prefix = "kt_live_";
    private const int RandomLength = 40;
    private const string Base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    private readonly byte[] _pepper;

    public ApiKeyHasher(byte[] pepper)
    {
        ArgumentNullException.ThrowIfNull(pepper);
        if (pepper.Length < 32)
        {
            throw new ArgumentException("The API key pepper must be at least 32 bytes.", nameof(pepper));
        }

        _pepper = pepper;
    }

    public static string Generate() => Prefix + RandomNumberGenerator.GetString(Base62, RandomLength);

    /// <summary>Shows enough to recognise a key and never enough to use it: <c>kt_live_abc123…</c>.</summary>
    public static string Preview(string key) => key[..Math.Min(key.Length, Prefix.Length + 6)] + "…";

    /// <summary>Cheap shape check so junk never reaches the store.</summary>
    public static bool LooksLikeKey(string? candidate) =>
        candidate is not null
        && candidate.StartsWith("kt_", StringComparison.Ordinal)
        && candidate.Length is >= 16 and <= 200;

    public string Hash(string key) => Convert.ToHexStringLower(HMACSHA256.HashData(_pepper, Encoding.UTF8.GetBytes(key)));
}

/// <summary>
/// Passwords with the framework's PBKDF2 (SHA-256, per-user salt) at OWASP's current work factor. The stored form names
/// its iteration count, so hashes made at an older count still verify and are replaced on the next successful sign-in.
/// </summary>
public static class PasswordHashing
{
    /// <summary>OWASP Password Storage Cheat Sheet's figure for PBKDF2-HMAC-SHA256.</summary>
    public const int Iterations = 600_000;
    private const int SaltSize = 16;
    private const int HashSize = 32;

    public static string Hash(string password)
    {
        var salt = RandomNumberGenerator.GetBytes(SaltSize);
        var hash = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, Iterations, HashAlgorithmName.SHA256, HashSize);
        return $"pbkdf2-sha256${Iterations}${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}";
    }

    public static bool Verify(string password, string stored)
    {
        var parts = stored.Split('$');
        if (parts.Length != 4 || parts[0] != "pbkdf2-sha256" || !int.TryParse(parts[1], out var iterations))
        {
            return false;
        }

        var salt = Convert.FromBase64String(parts[2]);
        var expected = Convert.FromBase64String(parts[3]);
        var actual = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA256, expected.Length);
        return CryptographicOperations.FixedTimeEquals(actual, expected);
    }

    /// <summary>True when <paramref name="stored"/> was made at fewer iterations than today's (or in a form this code no longer writes).</summary>
    public static bool NeedsRehash(string stored)
    {
        ArgumentNullException.ThrowIfNull(stored);
        var parts = stored.Split('$');
        return parts.Length != 4 || parts[0] != "pbkdf2-sha256" || !int.TryParse(parts[1], out var iterations) || iterations < Iterations;
    }

    /// <summary>A hash to verify against when the user does not exist, so timing does not reveal which emails exist.</summary>
    public static string DummyHash { get; } = Hash("killtoken-no-such-user");
}

public static class Ids
{
    private const string Alphabet = "0123456789abcdefghijklmnopqrstuvwxyz";

    /// <summary>A short, URL- and Key-Vault-safe id with a readable prefix: <c>prj_x3k…</c>.</summary>
    public static string New(string prefix) => prefix + "_" + RandomNumberGenerator.GetString(Alphabet, 20);

    /// <summary>
    /// The same shape as <see cref="New"/>, but ids made later sort later: 8 characters of the time in milliseconds
    /// (base 36, good until 2059), then 12 random ones. Request ids are trace keys: written in the order they are made,
    /// each trace lands beside the last one in the store's index instead of in a random page of it.
    /// </summary>
    public static string NewTimeOrdered(string prefix, DateTimeOffset now)
    {
        Span<char> id = stackalloc char[20];
        var milliseconds = (ulong)now.ToUnixTimeMilliseconds();
        for (var i = 7; i >= 0; i--)
        {
            id[i] = Alphabet[(int)(milliseconds % 36)];
            milliseconds /= 36;
        }

        RandomNumberGenerator.GetItems(Alphabet.AsSpan(), id[8..]);
        return string.Concat(prefix, "_", id);
    }
}
