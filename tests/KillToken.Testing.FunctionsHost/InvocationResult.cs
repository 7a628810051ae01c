namespace KillToken.Testing.FunctionsHost;

/// <summary>One InvocationResponse from the worker: which function, its status, and the exception it reported if any.</summary>
public sealed record InvocationResult(string FunctionName, string InvocationId, string Status, string? ExceptionMessage)
{
    public bool Succeeded => Status == "Success";
}
