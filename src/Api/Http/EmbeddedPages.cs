using System.Reflection;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;

namespace KillToken.Api.Http;

/// <summary>A file built into an assembly and served as it is: its bytes, media type and entity tag.</summary>
public sealed record EmbeddedFile(byte[] Content, string ContentType, string ETag);

/// <summary>
/// What the web pages both hosts serve from embedded files share (the dashboard, the API reference): reading the
/// resources, their media types and entity tags, and the headers every page answer carries.
/// </summary>
public static class EmbeddedPages
{
    /// <summary>Every resource of <paramref name="assembly"/> under <paramref name="prefix"/>, by its name after the prefix.</summary>
    public static Dictionary<string, EmbeddedFile> Load(Assembly assembly, string prefix)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        var files = new Dictionary<string, EmbeddedFile>(StringComparer.Ordinal);
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith(prefix, StringComparison.Ordinal)))
        {
            var content = Read(assembly, resource);
            var name = resource[prefix.Length..];
            files[name] = new EmbeddedFile(content, ContentTypeOf(name), ETagOf(content));
        }

        return files;
    }

    public static byte[] Read(Assembly assembly, string resource)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        using var stream = assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"The embedded resource '{resource}' is missing from {assembly.GetName().Name}.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    public static string ETagOf(byte[] content) => $"\"{Convert.ToHexStringLower(SHA256.HashData(content))[..32]}\"";

    public static string ContentTypeOf(string name) => Path.GetExtension(name) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".txt" => "text/plain; charset=utf-8",
        ".svg" => "image/svg+xml",
        _ => "application/octet-stream",
    };

    /// <summary>
    /// The page headers (policy, no sniffing, no framing, no referrer: invite links carry a token) and caching; with an
    /// entity tag the browser already holds, the 304 to answer instead of the body.
    /// </summary>
    public static IResult? WriteHeaders(HttpContext context, string policy, string cache, string? etag)
    {
        ArgumentNullException.ThrowIfNull(context);
        var headers = context.Response.Headers;
        headers.ContentSecurityPolicy = policy;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        headers.CacheControl = cache;
        if (etag is null)
        {
            return null;
        }

        headers.ETag = etag;
        return context.Request.Headers.IfNoneMatch.ToString() == etag ? Results.StatusCode(StatusCodes.Status304NotModified) : null;
    }
}
