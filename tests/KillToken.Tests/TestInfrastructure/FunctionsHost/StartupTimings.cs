namespace KillToken.Tests.TestInfrastructure.FunctionsHost;

/// <summary>How long each startup step took to finish, every one measured from the worker process's start.</summary>
internal sealed record StartupTimings(TimeSpan StreamStarted, TimeSpan WorkerInitialized, TimeSpan FunctionsLoaded);
