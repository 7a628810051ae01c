namespace KillToken.Api.Hosting;

/// <summary>
/// Links into the web frontend, built from FRONTEND_URL: <c>{FRONTEND_URL}/{path}</c> with exactly one slash between
/// them, whatever slashes either side has. When FRONTEND_URL is not set every link is null, so a mail or answer leaves
/// the link out instead of showing a broken one — except the invite link, which then points at the gateway itself (the
/// dashboard is served by the same app).
/// </summary>
public sealed class FrontendLinks
{
    private readonly string? _base;

    private FrontendLinks(string? baseUrl, string? origin)
    {
        _base = baseUrl;
        Origin = origin;
    }

    /// <summary>No FRONTEND_URL: no links.</summary>
    public static FrontendLinks None { get; } = new(null, null);

    public bool IsConfigured => _base is not null;

    /// <summary>FRONTEND_URL's origin (<c>scheme://host[:port]</c>, lower case), or null when it is not set.</summary>
    public string? Origin { get; }

    /// <summary>
    /// Reads FRONTEND_URL: an absolute http(s) URL, optionally with a path (a frontend under a sub-path), without user
    /// info, query or fragment (links are made by appending a path). A problem is added to <paramref name="errors"/>,
    /// naming the setting, and no links are made.
    /// </summary>
    public static FrontendLinks Read(string? value, ICollection<string> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (string.IsNullOrWhiteSpace(value))
        {
            return None;
        }

        var text = value.Trim();
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri)
            || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
            || uri.UserInfo.Length > 0 || uri.Query.Length > 0 || uri.Fragment.Length > 0
            || text.Contains('?', StringComparison.Ordinal) || text.Contains('#', StringComparison.Ordinal))
        {
            errors.Add($"{SettingNames.FrontendUrl} must be the absolute http(s) URL of the web frontend, such as https://app.example.com "
                + "(a path is allowed; user info, a query or a fragment is not).");
            return None;
        }

        return new FrontendLinks(text.TrimEnd('/'), CorsOrigins.OriginOf(uri));
    }

    /// <summary>
    /// <c>{FRONTEND_URL}/{path}</c>, or null without FRONTEND_URL. Leading slashes of <paramref name="path"/> are dropped,
    /// so <c>"invites/abc"</c> and <c>"/invites/abc"</c> give the same link, and <c>""</c> or <c>"/"</c> gives the
    /// frontend's root with its trailing slash. The path is used as given: escape each variable segment
    /// (<see cref="Uri.EscapeDataString(string)"/>).
    /// </summary>
    public string? To(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return _base is null ? null : _base + "/" + path.TrimStart('/');
    }

    /// <summary>The dashboard's home: <c>{FRONTEND_URL}/</c>.</summary>
    public string? Dashboard() => To("/");

    /// <summary>A project's page in the dashboard: <c>{FRONTEND_URL}/projects/{projectId}</c>.</summary>
    public string? Project(string projectId)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(projectId);
        return To("projects/" + Uri.EscapeDataString(projectId));
    }

    /// <summary>
    /// The invite link, <c>{FRONTEND_URL}/invites/{token}</c>; without FRONTEND_URL, <c>{ownOrigin}/invites/{token}</c>
    /// (the request's own scheme and host), since an invite without a link cannot be accepted.
    /// </summary>
    public string Invite(string token, string ownOrigin)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(token);
        ArgumentNullException.ThrowIfNull(ownOrigin);
        var path = "invites/" + Uri.EscapeDataString(token);
        return To(path) ?? ownOrigin.TrimEnd('/') + "/" + path;
    }

    public override string ToString() => _base ?? "(no FRONTEND_URL)";
}
