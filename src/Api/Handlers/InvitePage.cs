using KillToken.Api.Http;
using KillToken.Core.Gateway;
using Microsoft.AspNetCore.Http;

namespace KillToken.Api.Handlers;

/// <summary>
/// The page an invite link opens: static HTML, a script and styles embedded in this assembly, served the same by both
/// hosts. The script does the work over the JSON API (show the invite, sign in or up, accept); the page itself holds no
/// data. Its token is in the URL, so nothing may carry that URL elsewhere: no referrer, no caching, no framing, and a
/// Content-Security-Policy that allows only this origin's own script and styles (no inline script).
/// </summary>
public static class InvitePage
{
    private const string Policy =
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private static readonly byte[] Html = Load("invite.html");
    private static readonly byte[] Js = Load("invite.js");
    private static readonly byte[] Css = Load("invite.css");

    /// <summary>
    /// The same page for every token that could be one (the script reads it from the address and asks the API), so the
    /// page reveals nothing about a token; a value no token can be is a plain 404.
    /// </summary>
    public static Task<IResult> Page(HttpContext context, string token) =>
        string.IsNullOrEmpty(token) || token.Length > 100
            ? Task.FromResult(GatewayJson.Error(context, GatewayError.NotFound("Invite")))
            : Serve(context, Html, "text/html; charset=utf-8");

    public static Task<IResult> Script(HttpContext context) => Serve(context, Js, "text/javascript; charset=utf-8");

    public static Task<IResult> Styles(HttpContext context) => Serve(context, Css, "text/css; charset=utf-8");

    private static Task<IResult> Serve(HttpContext context, byte[] content, string contentType)
    {
        ArgumentNullException.ThrowIfNull(context);
        var headers = context.Response.Headers;
        headers.ContentSecurityPolicy = Policy;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        headers.CacheControl = "no-store";
        return Task.FromResult(Results.Bytes(content, contentType));
    }

    private static byte[] Load(string name)
    {
        using var stream = typeof(InvitePage).Assembly.GetManifestResourceStream("KillToken.Api.Pages." + name)
            ?? throw new InvalidOperationException($"The page resource {name} is missing from the build.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
