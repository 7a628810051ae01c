using System.Collections.Frozen;
using KillToken.Api.Http;
using KillToken.Core.Gateway;
using Microsoft.AspNetCore.Http;

namespace KillToken.Api.Handlers;

/// <summary>
/// The dashboard (<c>src/Dashboard</c>, built by the .NET build and embedded in this assembly), served the same by both
/// hosts and from the API's own origin: one HTML document at <c>/</c> and at every invite link, and its script and
/// styles. The app does all its work over the JSON API; the pages hold no data. The policy allows only this origin's own
/// script, styles and connections (no inline script, no CDN), no framing, and no referrer (invite links carry a token).
/// </summary>
public static class DashboardPages
{
    public const string Policy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; "
        + "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    private const string ResourcePrefix = "KillToken.Api.Dashboard.";

    private static readonly FrozenDictionary<string, EmbeddedFile> Assets =
        EmbeddedPages.Load(typeof(DashboardPages).Assembly, ResourcePrefix).ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary><c>/</c>: the dashboard. <paramref name="home"/> is the root route's always-empty token (see Routes.Dashboard).</summary>
    public static Task<IResult> Home(HttpContext context, string? home) =>
        string.IsNullOrEmpty(home) ? Serve(context, "index.html", cache: "no-cache") : NotFound(context);

    /// <summary>
    /// <c>/invites/{token}</c>: the same document (the app reads the token from the address and asks the API), so the
    /// page reveals nothing about a token; a value no token can be is a plain 404. Never cached: the address is a secret.
    /// </summary>
    public static Task<IResult> Invite(HttpContext context, string token) =>
        string.IsNullOrEmpty(token) || token.Length > 100 ? NotFound(context) : Serve(context, "index.html", cache: "no-store");

    /// <summary>
    /// <c>/projects/{project}</c>, the link of a budget alert: the same document, which shows the projects (the API decides
    /// what the signed-in person may see; the page itself holds no data, so any id gets it).
    /// </summary>
    public static Task<IResult> Project(HttpContext context, string project) =>
        string.IsNullOrEmpty(project) || project.Length > 100 ? NotFound(context) : Serve(context, "index.html", cache: "no-cache");

    /// <summary><c>/assets/{file}</c>: the built script and styles; revalidated by ETag, so a new build is never stale.</summary>
    public static Task<IResult> Asset(HttpContext context, string file) =>
        file is "index.html" || !Assets.ContainsKey(file) ? NotFound(context) : Serve(context, file, cache: "no-cache");

    private static Task<IResult> Serve(HttpContext context, string name, string cache)
    {
        ArgumentNullException.ThrowIfNull(context);
        var asset = Assets.GetValueOrDefault(name);
        if (asset is null)
        {
            // Only a build without src/Dashboard/dist gets here (see KillToken.Api.csproj).
            return Task.FromResult(GatewayJson.Error(context, new GatewayError(404, ErrorCodes.NotFound,
                "The dashboard was not built into this gateway: build it with Node.js and npm installed (src/Dashboard).")));
        }

        var notModified = EmbeddedPages.WriteHeaders(context, Policy, cache, cache == "no-store" ? null : asset.ETag);
        return Task.FromResult(notModified ?? Results.Bytes(asset.Content, asset.ContentType));
    }

    private static Task<IResult> NotFound(HttpContext context) => Task.FromResult(GatewayJson.Error(context, GatewayError.NotFound("Page")));
}
