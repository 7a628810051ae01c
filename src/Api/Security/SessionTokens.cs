using System.Security.Claims;
using KillToken.Core.Gateway;
using Microsoft.AspNetCore.Http;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace KillToken.Api.Security;

/// <summary>Dashboard sessions: short-lived HS256 JWTs. Rotating the secret signs everyone out.</summary>
public sealed class SessionTokens
{
    public const string Issuer = "killtoken";
    public const string Audience = "killtoken-dashboard";
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(12);

    private readonly JsonWebTokenHandler _handler = new() { MapInboundClaims = false };
    private readonly SymmetricSecurityKey _key;
    private readonly TimeProvider _time;
    private readonly TokenValidationParameters _validation;

    public SessionTokens(byte[] signingKey, TimeProvider time)
    {
        _key = new SymmetricSecurityKey(signingKey);
        _time = time;
        _validation = new TokenValidationParameters
        {
            ValidIssuer = Issuer,
            ValidAudience = Audience,
            IssuerSigningKey = _key,
            ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
            ClockSkew = TimeSpan.FromSeconds(30),
            LifetimeValidator = (notBefore, expires, _, _) =>
            {
                var now = _time.GetUtcNow().UtcDateTime;
                return expires is { } e && e > now.AddSeconds(-30) && (notBefore is null || notBefore <= now.AddSeconds(30));
            },
        };
    }

    public string Issue(string userId, string email)
    {
        var now = _time.GetUtcNow().UtcDateTime;
        return _handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = Audience,
            // jti: two sessions issued in the same second are still two different tokens (one can be told from the other
            // in logs and scans, and a future revocation list has something to name).
            Subject = new ClaimsIdentity([new Claim("sub", userId), new Claim("email", email), new Claim("jti", Guid.NewGuid().ToString("N"))]),
            IssuedAt = now,
            NotBefore = now,
            Expires = now + Lifetime,
            SigningCredentials = new SigningCredentials(_key, SecurityAlgorithms.HmacSha256),
        });
    }

    /// <summary>The user id of a valid <c>Authorization: Bearer</c> session token, or a 401.</summary>
    public async Task<(string? UserId, GatewayError? Error)> AuthenticateAsync(HttpRequest request)
    {
        var authorization = request.Headers.Authorization.ToString();
        if (!authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return (null, new GatewayError(401, ErrorCodes.Unauthenticated, "Sign in: send the session token as 'Authorization: Bearer <token>'."));
        }

        var token = authorization["Bearer ".Length..].Trim();
        if (token.StartsWith("kt_", StringComparison.Ordinal))
        {
            return (null, new GatewayError(401, ErrorCodes.Unauthenticated, "This route needs a dashboard session, not a project API key."));
        }

        var result = await _handler.ValidateTokenAsync(token, _validation);
        if (!result.IsValid || !result.Claims.TryGetValue("sub", out var sub) || sub is not string userId)
        {
            return (null, new GatewayError(401, ErrorCodes.Unauthenticated, "The session is invalid or has expired; sign in again."));
        }

        return (userId, null);
    }
}
