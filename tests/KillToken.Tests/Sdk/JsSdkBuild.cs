using KillToken.Tests.TestInfrastructure;

namespace KillToken.Tests.Sdk;

/// <summary>
/// Builds sdk/js (<c>@killtoken/sdk</c>) once per test process, so the SDK's tests and the examples run the source as it
/// is now — <c>npm ci</c> when its node_modules is missing (CI installs it up front), then <c>npm run build</c>
/// (tsc → dist/).
/// Shared by every test that runs the SDK (its own node tests, the examples that use it); classes run two at a time, so
/// the build is behind a gate and a failed build is tried again by the next caller.
/// </summary>
internal static class JsSdkBuild
{
    private static readonly SemaphoreSlim BuildGate = new(1, 1);
    private static bool _built;

    /// <summary>sdk/js in the checkout the tests run from.</summary>
    public static string Folder => Path.Combine(Repository.Root, "sdk", "js");

    /// <summary>dist/index.js and dist/index.d.ts exist and were built from the current sources by this test process.</summary>
    public static async Task EnsureBuiltAsync()
    {
        await BuildGate.WaitAsync();
        try
        {
            if (_built)
            {
                return;
            }

            Assert.IsTrue(File.Exists(Path.Combine(Folder, "package.json")), $"no SDK at {Folder}");
            if (!Directory.Exists(Path.Combine(Folder, "node_modules", "typescript")))
            {
                var install = await ChildProcess.RunAsync("npm", "ci --no-audit --no-fund --loglevel=error", Folder, timeout: TimeSpan.FromMinutes(5));
                Assert.AreEqual(0, install.ExitCode, $"npm ci failed in sdk/js.\nstdout: {install.Stdout}\nstderr: {install.Stderr}");
            }

            var build = await ChildProcess.RunAsync("npm", "run build", Folder, timeout: TimeSpan.FromMinutes(5));
            Assert.AreEqual(0, build.ExitCode, $"npm run build failed in sdk/js.\nstdout: {build.Stdout}\nstderr: {build.Stderr}");
            foreach (var file in new[] { "index.js", "index.d.ts" })
            {
                Assert.IsTrue(File.Exists(Path.Combine(Folder, "dist", file)), $"the build made no dist/{file}");
            }

            _built = true;
        }
        finally
        {
            BuildGate.Release();
        }
    }
}
