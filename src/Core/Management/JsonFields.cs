using System.Text.Json;
using System.Text.Json.Nodes;
using KillToken.Core.Gateway;

namespace KillToken.Core.Management;

/// <summary>Small readers for management bodies that say exactly which field is wrong.</summary>
internal static class JsonFields
{
    public static bool TryString(JsonObject body, string name, bool required, int maxLength, out string? value, out GatewayError? error)
    {
        value = null;
        error = null;
        if (!body.TryGetPropertyValue(name, out var node) || node is null)
        {
            if (required)
            {
                error = GatewayError.BadRequest(ErrorCodes.ValidationFailed, $"'{name}' is required.");
                return false;
            }

            return true;
        }

        var text = ChatRequestParser.AsString(node);
        if (text is null || (required && string.IsNullOrWhiteSpace(text)) || text.Length > maxLength)
        {
            error = GatewayError.BadRequest(ErrorCodes.ValidationFailed, $"'{name}' must be a string of at most {maxLength} characters.");
            return false;
        }

        value = text.Trim();
        return true;
    }

    /// <summary>A non-negative USD amount, or explicit null (no limit). <paramref name="present"/> tells whether the field was sent.</summary>
    public static bool TryMoney(JsonObject body, string name, out bool present, out decimal? value, out GatewayError? error)
    {
        value = null;
        error = null;
        present = body.TryGetPropertyValue(name, out var node);
        if (!present || node is null)
        {
            return true;
        }

        if (node.GetValueKind() != JsonValueKind.Number || !node.AsValue().TryGetValue<decimal>(out var amount) || amount < 0 || amount > 100_000_000m)
        {
            error = GatewayError.BadRequest(ErrorCodes.ValidationFailed, $"'{name}' must be a non-negative number of USD, or null for no limit.");
            return false;
        }

        value = amount;
        return true;
    }

    public static bool TryStringMap(JsonObject body, string name, out Dictionary<string, string>? map, out GatewayError? error, string code)
    {
        map = null;
        error = null;
        if (!body.TryGetPropertyValue(name, out var node) || node is null)
        {
            return true;
        }

        if (node is not JsonObject obj)
        {
            error = GatewayError.BadRequest(code, $"'{name}' must be an object of strings.");
            return false;
        }

        map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, valueNode) in obj)
        {
            var text = ChatRequestParser.AsString(valueNode);
            if (text is null || text.Length > 8192)
            {
                error = GatewayError.BadRequest(code, $"'{name}.{key}' must be a string.");
                return false;
            }

            map[key] = text;
        }

        return true;
    }
}
