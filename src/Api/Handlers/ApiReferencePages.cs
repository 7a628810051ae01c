using System.Collections.Frozen;
using System.IO.Compression;
using KillToken.Api.Http;
using KillToken.Api.OpenApi;
using KillToken.Core.Gateway;
using Microsoft.AspNetCore.Http;

namespace KillToken.Api.Handlers;

/// <summary>
/// What a developer reads: the OpenAPI document (<c>/openapi/v1.json</c>), its reference page (<c>/docs</c>, Scalar's
/// bundle as the Scalar.AspNetCore package embeds it, served from here: no CDN), and for coding assistants
/// <c>/llms.txt</c> (a short index) and <c>/llms-full.txt</c> (the complete integration guide). The same for both hosts.
/// </summary>
public static class ApiReferencePages
{
    /// <summary>
    /// Scalar styles itself with inline style elements at run time, so this page (unlike the dashboard) allows inline
    /// styles; scripts and connections stay this origin's own.
    /// </summary>
    public const string Policy =
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
        + "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private const string ResourcePrefix = "KillToken.Api.ApiReference.";

    private static readonly Lazy<FrozenDictionary<string, ReferenceAsset>> Assets = new(LoadAssets);

    public static async Task<IResult> OpenApiDocument(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var json = await OpenApiDocumentSource.GetJsonAsync(context.RequestAborted);
        context.Response.Headers.CacheControl = "no-cache";
        context.Response.Headers.XContentTypeOptions = "nosniff";
        return Results.Bytes(json, "application/json; charset=utf-8");
    }

    public static Task<IResult> Reference(HttpContext context) => Task.FromResult(Serve(context, "index.html"));

    public static Task<IResult> Asset(HttpContext context, string file) =>
        Task.FromResult(file is "index.html" or "llms.txt" or "llms-full.txt" ? NotFound(context) : Serve(context, file));

    public static Task<IResult> LlmsTxt(HttpContext context) => Task.FromResult(Serve(context, "llms.txt"));

    public static Task<IResult> LlmsFullTxt(HttpContext context) => Task.FromResult(Serve(context, "llms-full.txt"));

    private static IResult Serve(HttpContext context, string name)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!Assets.Value.TryGetValue(name, out var asset))
        {
            return NotFound(context);
        }

        var notModified = EmbeddedPages.WriteHeaders(context, Policy, "no-cache", asset.ETag);
        if (notModified is not null)
        {
            return notModified;
        }

        if (asset.Gzipped is { } gzipped)
        {
            context.Response.Headers.Vary = "Accept-Encoding";
            if (context.Request.Headers.AcceptEncoding.ToString().Contains("gzip", StringComparison.OrdinalIgnoreCase))
            {
                context.Response.Headers.ContentEncoding = "gzip";
                return Results.Bytes(gzipped, asset.ContentType);
            }
        }

        return Results.Bytes(asset.Content.Value, asset.ContentType);
    }

    private static IResult NotFound(HttpContext context) => GatewayJson.Error(context, GatewayError.NotFound("Page"));

    private static FrozenDictionary<string, ReferenceAsset> LoadAssets()
    {
        var assets = EmbeddedPages.Load(typeof(ApiReferencePages).Assembly, ResourcePrefix)
            .ToDictionary(f => f.Key, f => new ReferenceAsset(new Lazy<byte[]>(f.Value.Content), null, ContentTypeOf(f.Key), f.Value.ETag), StringComparer.Ordinal);

        // Scalar's standalone bundle, embedded gzip-compressed in Scalar.AspNetCore: sent as it is to browsers that take gzip
        // (all do), unpacked once for a client that does not.
        var bundle = EmbeddedPages.Read(typeof(Scalar.AspNetCore.ScalarOptions).Assembly, "ScalarStaticAssets.scalar.js");
        assets["scalar.js"] = new ReferenceAsset(new Lazy<byte[]>(() => Gunzip(bundle)), bundle, "text/javascript; charset=utf-8", EmbeddedPages.ETagOf(bundle));
        return assets.ToFrozenDictionary(StringComparer.Ordinal);
    }

    private static byte[] Gunzip(byte[] gzipped)
    {
        using var unpacked = new MemoryStream();
        using (var gzip = new GZipStream(new MemoryStream(gzipped), CompressionMode.Decompress))
        {
            gzip.CopyTo(unpacked);
        }

        return unpacked.ToArray();
    }

    /// <summary>llms.txt and llms-full.txt are markdown; everything else as any embedded page.</summary>
    private static string ContentTypeOf(string name) =>
        name.EndsWith(".txt", StringComparison.Ordinal) ? "text/markdown; charset=utf-8" : EmbeddedPages.ContentTypeOf(name);

    private sealed record ReferenceAsset(Lazy<byte[]> Content, byte[]? Gzipped, string ContentType, string ETag);
}
