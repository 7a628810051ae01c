using System.Text.Json.Serialization;

namespace KillToken.Client;

/// <summary>One OpenAI-style chat message; the gateway translates it to the provider's format.</summary>
public sealed class ChatMessage
{
    /// <summary>A message of <paramref name="role"/> with text <paramref name="content"/>.</summary>
    public ChatMessage(ChatRole role, string content)
    {
        ArgumentNullException.ThrowIfNull(content);
        Role = role;
        Content = content;
    }

    /// <summary>Who speaks.</summary>
    [JsonPropertyName("role")]
    public ChatRole Role { get; }

    /// <summary>The text.</summary>
    [JsonPropertyName("content")]
    public string Content { get; }

    /// <summary>A system message.</summary>
    public static ChatMessage System(string content) => new(ChatRole.System, content);

    /// <summary>A developer message (OpenAI's newer name for system instructions).</summary>
    public static ChatMessage Developer(string content) => new(ChatRole.Developer, content);

    /// <summary>A user message.</summary>
    public static ChatMessage User(string content) => new(ChatRole.User, content);

    /// <summary>An assistant message (an earlier answer, for a multi-turn conversation).</summary>
    public static ChatMessage Assistant(string content) => new(ChatRole.Assistant, content);
}
