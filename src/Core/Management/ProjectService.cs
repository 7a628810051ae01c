using System.Text.Json.Nodes;
using KillToken.Core.Domain;
using KillToken.Core.Gateway;
using KillToken.Core.Ports;
using KillToken.Core.Security;

namespace KillToken.Core.Management;

/// <summary>Projects and their keys: created with a key shown once, regenerated (old key dies at once), deactivated.</summary>
public sealed class ProjectService(IProjectStore projects, ApiKeyHasher hasher, TimeProvider time)
{
    public async Task<(ProjectRecord? Project, string? ApiKey, GatewayError? Error)> CreateAsync(string workspaceId, JsonObject body, CancellationToken cancellationToken = default)
    {
        if (!JsonFields.TryString(body, "name", true, 100, out var name, out var error))
        {
            return (null, null, error);
        }

        var project = Apply(new ProjectRecord
        {
            Id = Ids.New("prj"),
            WorkspaceId = workspaceId,
            Name = name!,
            KeyHash = string.Empty,
            KeyPreview = string.Empty,
            Scopes = ApiKeyScopes.NewProjectDefault,
            CreatedAt = time.GetUtcNow(),
            UpdatedAt = time.GetUtcNow(),
        }, body, out error);
        if (error is not null)
        {
            return (null, null, error);
        }

        var key = ApiKeyHasher.Generate();
        project = project! with { KeyHash = hasher.Hash(key), KeyPreview = ApiKeyHasher.Preview(key) };
        await projects.CreateAsync(project, cancellationToken);
        return (project, key, null);
    }

    public async Task<(ProjectRecord? Project, GatewayError? Error)> UpdateAsync(ProjectRecord project, JsonObject body, CancellationToken cancellationToken = default)
    {
        var unknown = body.Select(p => p.Key).Except(Editable).FirstOrDefault();
        if (unknown is not null)
        {
            return (null, GatewayError.BadRequest(ErrorCodes.ValidationFailed, $"'{unknown}' cannot be changed here."));
        }

        if (body.ContainsKey("name") && !JsonFields.TryString(body, "name", true, 100, out _, out var nameError))
        {
            return (null, nameError);
        }

        var updated = Apply(project, body, out var error);
        if (error is not null)
        {
            return (null, error);
        }

        if (body.ContainsKey("name"))
        {
            updated = updated! with { Name = ChatRequestParser.AsString(body["name"])!.Trim() };
        }

        updated = updated! with { UpdatedAt = time.GetUtcNow() };
        await projects.UpdateAsync(updated, cancellationToken: cancellationToken);
        return (updated, null);
    }

    public async Task<(ProjectRecord Project, string ApiKey)> RegenerateKeyAsync(ProjectRecord project, CancellationToken cancellationToken = default)
    {
        var key = ApiKeyHasher.Generate();
        var updated = project with { KeyHash = hasher.Hash(key), KeyPreview = ApiKeyHasher.Preview(key), UpdatedAt = time.GetUtcNow() };
        await projects.UpdateAsync(updated, project.KeyHash, cancellationToken);
        return (updated, key);
    }

    public async Task<ProjectRecord> SetActiveAsync(ProjectRecord project, bool active, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(project);
        if (project.Active == active)
        {
            return project; // already so: nothing to write (repeating the call changes nothing, not even updatedAt)
        }

        var updated = project with { Active = active, UpdatedAt = time.GetUtcNow() };
        await projects.UpdateAsync(updated, cancellationToken: cancellationToken);
        return updated;
    }

    private static readonly string[] Editable = ["name", "dailyBudgetUsd", "monthlyBudgetUsd", "fallbackModel", "fallbackProvider", "alertEmail", "scopes"];

    private static ProjectRecord? Apply(ProjectRecord project, JsonObject body, out GatewayError? error)
    {
        if (!JsonFields.TryMoney(body, "dailyBudgetUsd", out var hasDaily, out var daily, out error)
            || !JsonFields.TryMoney(body, "monthlyBudgetUsd", out var hasMonthly, out var monthly, out error)
            || !JsonFields.TryString(body, "fallbackModel", false, 200, out var fallback, out error)
            || !JsonFields.TryString(body, "fallbackProvider", false, 40, out var fallbackProvider, out error)
            || !JsonFields.TryString(body, "alertEmail", false, 254, out var alertEmail, out error))
        {
            return null;
        }

        if (!string.IsNullOrEmpty(fallbackProvider) && !Providers.ProviderId.TryParse(fallbackProvider, out _))
        {
            error = new GatewayError(422, ErrorCodes.ProviderNotSupported, $"'fallbackProvider' must be one of: {string.Join(", ", Providers.ProviderId.All)}.");
            return null;
        }

        if (!string.IsNullOrEmpty(alertEmail) && !alertEmail.Contains('@', StringComparison.Ordinal))
        {
            error = GatewayError.BadRequest(ErrorCodes.ValidationFailed, "'alertEmail' must be an email address.");
            return null;
        }

        var scopes = project.Scopes;
        if (body.TryGetPropertyValue("scopes", out var scopesNode) && scopesNode is not null)
        {
            if (scopesNode is not JsonArray array || array.Any(s => ChatRequestParser.AsString(s) is not { } v || !ApiKeyScopes.Known.Contains(v)))
            {
                error = GatewayError.BadRequest(ErrorCodes.ValidationFailed, $"'scopes' must be an array of: {string.Join(", ", ApiKeyScopes.Known)}.");
                return null;
            }

            scopes = [.. array.Select(s => ChatRequestParser.AsString(s)!).Distinct()];
        }

        return project with
        {
            DailyBudgetUsd = hasDaily ? daily : project.DailyBudgetUsd,
            MonthlyBudgetUsd = hasMonthly ? monthly : project.MonthlyBudgetUsd,
            FallbackModel = body.ContainsKey("fallbackModel") ? NullIfEmpty(fallback) : project.FallbackModel,
            FallbackProvider = body.ContainsKey("fallbackProvider") ? NullIfEmpty(fallbackProvider) : project.FallbackProvider,
            AlertEmail = body.ContainsKey("alertEmail") ? NullIfEmpty(alertEmail) : project.AlertEmail,
            Scopes = scopes,
        };
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
