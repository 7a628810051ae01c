namespace KillToken.Testing.FunctionsHost;

/// <summary>How long each startup step took to finish, every one measured from the worker process's start.</summary>
public sealed record StartupTimings(TimeSpan StreamStarted, TimeSpan WorkerInitialized, TimeSpan FunctionsLoaded);
