namespace KillToken.Storage.Hosting;

/// <summary>The names <c>/ready</c> reports the storage checks under (its body's <c>checks[].name</c>).</summary>
public static class ReadinessCheckNames
{
    public const string Store = "store";
    public const string Vault = "vault";
}
