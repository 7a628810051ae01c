using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using KillToken.Core.Ports;
using KillToken.Storage.Sqlite;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace KillToken.Storage.LocalVault;

/// <summary>
/// The embedded vault: AES-256-GCM envelope encryption. Each secret version gets its own random data key;
/// the data key is wrapped by the master key (KILLTOKEN_ENCRYPTION_KEY or the generated file), whose id is kept
/// beside it so the master key can be rotated by re-wrapping data keys, not re-encrypting every secret.
/// </summary>
public sealed class LocalSecretVault : ISecretVault, IHealthCheck
{
    private const byte FormatVersion = 1;
    private const int NonceSize = 12;
    private const int TagSize = 16;
    private const int KeySize = 32;
    private readonly SqliteDatabase _db;
    private readonly byte[] _masterKey;
    private readonly byte[] _masterKeyId;

    public LocalSecretVault(SqliteDatabase db, byte[] masterKey)
    {
        ArgumentNullException.ThrowIfNull(masterKey);
        if (masterKey.Length != KeySize)
        {
            throw new ArgumentException("The vault master key must be 32 bytes (64 hex characters).", nameof(masterKey));
        }

        _db = db;
        _masterKey = masterKey;
        _masterKeyId = SHA256.HashData(masterKey)[..8];
    }

    public Task<string> SetAsync(string name, string value, CancellationToken cancellationToken = default)
    {
        var version = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        var envelope = Seal(name, version, Encoding.UTF8.GetBytes(value));
        return _db.WriteAsync(async connection =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "INSERT INTO vault_secrets (name, version, envelope, created_at) VALUES ($name, $version, $envelope, $at)";
            command.Parameters.AddWithValue("$name", name);
            command.Parameters.AddWithValue("$version", version);
            command.Parameters.AddWithValue("$envelope", envelope);
            command.Parameters.AddWithValue("$at", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            await command.ExecuteNonQueryAsync(cancellationToken);
            return version;
        }, cancellationToken);
    }

    public async Task<string?> GetAsync(string name, string version, CancellationToken cancellationToken = default)
    {
        // Versions never change, so the sealed envelope is remembered (until the next write); it is opened on every use.
        var envelope = await _db.ReadRememberedAsync("vault:" + name + "/" + version, async connection =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT envelope FROM vault_secrets WHERE name = $name AND version = $version";
            command.Parameters.AddWithValue("$name", name);
            command.Parameters.AddWithValue("$version", version);
            return (byte[]?)await command.ExecuteScalarAsync(cancellationToken);
        });
        return envelope is null ? null : Encoding.UTF8.GetString(Open(name, version, envelope));
    }

    public Task DeleteAsync(string name, CancellationToken cancellationToken = default) =>
        _db.WriteAsync(async connection =>
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "DELETE FROM vault_secrets WHERE name = $name";
            command.Parameters.AddWithValue("$name", name);
            return await command.ExecuteNonQueryAsync(cancellationToken);
        }, cancellationToken);

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        // A round trip through the cipher proves the master key is usable, without touching stored secrets.
        var probe = Open("probe", "0", Seal("probe", "0", "ok"u8.ToArray()));
        return Task.FromResult(new HealthCheckResult(
            probe.AsSpan().SequenceEqual("ok"u8) ? HealthStatus.Healthy : HealthStatus.Unhealthy, "local AES-256-GCM"));
    }

    // Layout: [format][master key id:8][wrap nonce:12][wrapped data key:32][wrap tag:16][nonce:12][tag:16][ciphertext]
    private byte[] Seal(string name, string version, byte[] plaintext)
    {
        var dataKey = RandomNumberGenerator.GetBytes(KeySize);
        var aad = Aad(name, version);
        var envelope = new byte[1 + 8 + NonceSize + KeySize + TagSize + NonceSize + TagSize + plaintext.Length];
        var span = envelope.AsSpan();
        span[0] = FormatVersion;
        _masterKeyId.CopyTo(span[1..]);
        var wrapNonce = span.Slice(9, NonceSize);
        var wrapped = span.Slice(9 + NonceSize, KeySize);
        var wrapTag = span.Slice(9 + NonceSize + KeySize, TagSize);
        var nonce = span.Slice(9 + NonceSize + KeySize + TagSize, NonceSize);
        var tag = span.Slice(9 + (2 * NonceSize) + KeySize + TagSize, TagSize);
        var ciphertext = span[(9 + (2 * NonceSize) + KeySize + (2 * TagSize))..];

        RandomNumberGenerator.Fill(wrapNonce);
        RandomNumberGenerator.Fill(nonce);
        using (var kek = new AesGcm(_masterKey, TagSize))
        {
            kek.Encrypt(wrapNonce, dataKey, wrapped, wrapTag, aad);
        }

        using (var dek = new AesGcm(dataKey, TagSize))
        {
            dek.Encrypt(nonce, plaintext, ciphertext, tag, aad);
        }

        CryptographicOperations.ZeroMemory(dataKey);
        return envelope;
    }

    private byte[] Open(string name, string version, byte[] envelope)
    {
        var span = envelope.AsSpan();
        if (span.Length < 9 + (2 * NonceSize) + KeySize + (2 * TagSize) || span[0] != FormatVersion)
        {
            throw new CryptographicException("Unknown vault envelope format.");
        }

        if (!span.Slice(1, 8).SequenceEqual(_masterKeyId))
        {
            throw new CryptographicException("This secret was sealed with a different master key.");
        }

        var aad = Aad(name, version);
        var dataKey = new byte[KeySize];
        using (var kek = new AesGcm(_masterKey, TagSize))
        {
            kek.Decrypt(span.Slice(9, NonceSize), span.Slice(9 + NonceSize, KeySize), span.Slice(9 + NonceSize + KeySize, TagSize), dataKey, aad);
        }

        var offset = 9 + (2 * NonceSize) + KeySize + (2 * TagSize);
        var plaintext = new byte[span.Length - offset];
        using (var dek = new AesGcm(dataKey, TagSize))
        {
            dek.Decrypt(span.Slice(9 + NonceSize + KeySize + TagSize, NonceSize), span[offset..], span.Slice(offset - TagSize, TagSize), plaintext, aad);
        }

        CryptographicOperations.ZeroMemory(dataKey);
        return plaintext;
    }

    /// <summary>Binds a ciphertext to its name and version, so rows cannot be swapped.</summary>
    private static byte[] Aad(string name, string version)
    {
        var bytes = Encoding.UTF8.GetBytes(name + "\n" + version);
        var aad = new byte[bytes.Length + 4];
        BinaryPrimitives.WriteInt32BigEndian(aad, bytes.Length);
        bytes.CopyTo(aad, 4);
        return aad;
    }
}
