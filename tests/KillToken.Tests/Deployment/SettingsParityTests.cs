using System.Text.Json;
using System.Text.RegularExpressions;
using KillToken.Api.Hosting;
using KillToken.Tests.TestInfrastructure;

namespace KillToken.Tests.Deployment;

/// <summary>
/// Keeps the places that name settings and routes in step: <see cref="SettingNames.All"/> (what the code reads),
/// local.settings.sample.json, the Bicep app settings, host.json, and the shape of the Functions layer (one expression per
/// function, read here as text; the route tables themselves are compared as built, in FunctionsRouteTableTests).
/// </summary>
[TestClass]
public sealed partial class SettingsParityTests
{
    /// <summary>
    /// Read by the code but deliberately absent from the Azure deployment: they exist only for the embedded store
    /// and the Cosmos DB emulator.
    /// </summary>
    private static readonly string[] LocalOnlySettings =
    [
        SettingNames.DataDir,                // folder of the embedded SQLite store and its generated keys
        SettingNames.EncryptionKey,          // master key of the local vault (Azure uses Key Vault)
        SettingNames.CosmosConnectionString, // key-based emulator connection (Azure uses COSMOS_ENDPOINT + identity)
    ];

    /// <summary>Settings owned by the Functions host or the platform, not read by KillToken's code.</summary>
    private static readonly string[] HostSettingPrefixes =
    [
        "AzureWebJobs",           // AzureWebJobsStorage, AzureWebJobsStorage__accountName, __credential, …
        "APPLICATIONINSIGHTS_",   // APPLICATIONINSIGHTS_CONNECTION_STRING, APPLICATIONINSIGHTS_AUTHENTICATION_STRING
        "FUNCTIONS_",             // FUNCTIONS_WORKER_RUNTIME, FUNCTIONS_EXTENSION_VERSION
        "WEBSITE_",               // App Service platform settings
    ];

    private static readonly string RepoRoot = Repository.Root;

    [TestMethod]
    public void EverySetting_IsInLocalSettingsSample()
    {
        var values = LocalSettingsValues();
        var missing = SettingNames.All.Where(name => !values.ContainsKey(name)).ToList();
        Assert.IsEmpty(missing,
            $"local.settings.sample.json 'Values' lacks settings the code reads (SettingNames.All): {string.Join(", ", missing)}. "
            + "Add each with a safe local value (empty string when the default applies).");
    }

    [TestMethod]
    public void LocalSettingsSample_ValuesAreStringsAndKnown()
    {
        using var document = ReadJson("local.settings.sample.json");
        var values = document.RootElement.GetProperty("Values");
        var notStrings = values.EnumerateObject().Where(p => p.Value.ValueKind != JsonValueKind.String).Select(p => p.Name).ToList();
        Assert.IsEmpty(notStrings,
            $"local.settings.sample.json 'Values' must all be JSON strings (the Functions host rejects others): {string.Join(", ", notStrings)}.");

        var unknown = values.EnumerateObject().Select(p => p.Name).Where(name => !IsKnownSetting(name)).ToList();
        Assert.IsEmpty(unknown,
            $"local.settings.sample.json has keys that are neither in SettingNames.All nor Functions host/platform settings: {string.Join(", ", unknown)}. "
            + "Add them to SettingNames (and infra/main.bicep), or remove them.");
    }

    [TestMethod]
    public void LocalSettingsSample_PortMatchesSelfHost()
    {
        using var document = ReadJson("local.settings.sample.json");
        var port = document.RootElement.GetProperty("Host").GetProperty("LocalHttpPort").GetInt32();
        Assert.AreEqual(new Uri(KillToken.SelfHost.Program.DefaultUrl).Port, port,
            "local.settings.sample.json Host.LocalHttpPort must equal the self-host's default port, so URLs are the same under `func start`.");
    }

    [TestMethod]
    public void EveryDeployedSetting_IsInBicep()
    {
        var bicep = BicepAppSettingNames();
        var missing = SettingNames.All.Except(LocalOnlySettings).Where(name => !bicep.Contains(name)).ToList();
        Assert.IsEmpty(missing,
            $"infra (main.bicep or infra/app/*.bicep) sets no app setting for: {string.Join(", ", missing)}. "
            + "Add each to `appSettings` in infra/main.bicep, or, if it only makes sense locally, to LocalOnlySettings in this test with a reason.");
    }

    [TestMethod]
    public void EveryBicepAppSetting_IsReadByTheCodeOrTheHost()
    {
        var bicep = BicepAppSettingNames();
        Assert.IsNotEmpty(bicep, "Found no app settings in infra/*.bicep; the parser in this test no longer matches how they are written.");
        var unknown = bicep.Where(name => !IsKnownSetting(name)).Order(StringComparer.Ordinal).ToList();
        Assert.IsEmpty(unknown,
            $"infra sets app settings that nothing reads: {string.Join(", ", unknown)}. "
            + "Add them to SettingNames (and local.settings.sample.json), or remove them from the Bicep.");

        var localOnly = LocalOnlySettings.Where(bicep.Contains).ToList();
        Assert.IsEmpty(localOnly,
            $"infra sets local-only settings: {string.Join(", ", localOnly)}. Remove them from the Bicep, or from LocalOnlySettings in this test.");
    }

    [TestMethod]
    public void InAzure_TheAuditLogsTableService_IsReachedByTheAppsIdentity()
    {
        var bicep = BicepAppSettingNames();
        Assert.IsTrue(bicep.Contains(SettingNames.AzureWebJobsStorageTableServiceUri) || bicep.Contains(SettingNames.AzureWebJobsStorageAccountName),
            $"KILLTOKEN_STORE=cosmos keeps the audit log in the host's Table service: infra must set {SettingNames.AzureWebJobsStorageTableServiceUri} "
            + $"or {SettingNames.AzureWebJobsStorageAccountName}, or the app does not start.");
        Assert.IsFalse(bicep.Contains(SettingNames.AzureWebJobsStorage), "no storage connection string in Azure: the account has shared keys off.");
        var rbac = File.ReadAllText(Path.Combine(RepoRoot, "infra", "app", "rbac.bicep"));
        StringAssert.Contains(rbac, "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3", "the app's identity needs Storage Table Data Contributor on the account.");
    }

    [TestMethod]
    public void InAzure_TelemetryGoesToWorkspaceBasedApplicationInsights_WithTheAppsIdentity()
    {
        var bicep = BicepAppSettingNames();
        Assert.IsTrue(bicep.Contains(SettingNames.ApplicationInsightsConnectionString),
            $"infra must set {SettingNames.ApplicationInsightsConnectionString}: it is what turns the app's trace and metric export on in Azure.");
        Assert.IsTrue(bicep.Contains(SettingNames.ApplicationInsightsAuthenticationString),
            $"the component has local auth off: infra must set {SettingNames.ApplicationInsightsAuthenticationString}=Authorization=AAD so the exporter signs in.");
        var main = File.ReadAllText(Path.Combine(RepoRoot, "infra", "main.bicep"));
        StringAssert.Contains(main, "APPLICATIONINSIGHTS_CONNECTION_STRING: monitoring.outputs.connectionString", "the setting is wired from the component's connection string");
        var monitoring = File.ReadAllText(Path.Combine(RepoRoot, "infra", "app", "monitoring.bicep"));
        StringAssert.Contains(monitoring, "Microsoft.OperationalInsights/workspaces", "a Log Analytics workspace");
        StringAssert.Contains(monitoring, "Microsoft.Insights/components", "an Application Insights component");
        StringAssert.Contains(monitoring, "WorkspaceResourceId: logAnalytics.id", "workspace-based, as the Functions azd templates make it");
        var rbac = File.ReadAllText(Path.Combine(RepoRoot, "infra", "app", "rbac.bicep"));
        StringAssert.Contains(rbac, "3913510d-42f4-4e42-8a64-420c390055eb", "the app's identity needs Monitoring Metrics Publisher on the component to send telemetry.");
    }

    [TestMethod]
    public void LocalSettingsSample_LeavesTheOtlpEndpointEmpty()
    {
        var values = LocalSettingsValues();
        Assert.IsTrue(values.TryGetValue(SettingNames.OtlpEndpoint, out var endpoint),
            $"local.settings.sample.json documents {SettingNames.OtlpEndpoint} (empty: nothing is exported until a collector is named).");
        Assert.AreEqual(string.Empty, endpoint, "a sample that exports by default would dial a collector nobody started");
    }

    [TestMethod]
    public void HostJson_HasEmptyRoutePrefix()
    {
        using var document = ReadJson("host.json");
        var root = document.RootElement;
        Assert.AreEqual("2.0", root.GetProperty("version").GetString(), "host.json must declare version 2.0.");
        var prefix = root.TryGetProperty("extensions", out var extensions)
            && extensions.TryGetProperty("http", out var http)
            && http.TryGetProperty("routePrefix", out var value)
                ? value.GetString()
                : null;
        Assert.IsNotNull(prefix, "host.json needs extensions.http.routePrefix (\"\"), or every Functions URL gets the default 'api/' prefix.");
        Assert.AreEqual(string.Empty, prefix,
            "host.json extensions.http.routePrefix must be \"\" so the Functions host serves the same URLs as the self-host.");
    }

    [TestMethod]
    public void EveryFunction_IsOneExpressionWithAUniqueName()
    {
        var functions = FunctionRoutes();
        Assert.IsNotEmpty(functions, "Found no [Function(…)] HTTP triggers in src/Functions/*.cs.");

        var blockBodies = functions.Where(f => !f.IsExpressionBodied).Select(f => $"{f.File}: {f.Name}").ToList();
        Assert.IsEmpty(blockBodies,
            "Functions must be a single expression delegating to the shared handler (`=> handler.XAsync(req.HttpContext, …).AsAction();`), "
            + "so the two hosts cannot drift; logic belongs in src/Api/Handlers. Not one expression: " + string.Join(", ", blockBodies));

        var anonymous = functions.Where(f => !f.IsAnonymous).Select(f => $"{f.File}: {f.Name}").ToList();
        Assert.IsEmpty(anonymous,
            "HTTP functions must use AuthorizationLevel.Anonymous: KillToken authenticates requests itself (API keys, sessions). Not anonymous: "
            + string.Join(", ", anonymous));

        var duplicates = FunctionNames().GroupBy(n => n, StringComparer.OrdinalIgnoreCase).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.IsEmpty(duplicates, $"Function names must be unique across the app (the host refuses duplicates): {string.Join(", ", duplicates)}.");
    }

    // ---- settings ----

    private static bool IsKnownSetting(string name) =>
        SettingNames.All.Contains(name)
        || SettingNames.ProviderBaseUrls.Contains(name)
        || SettingNames.Telemetry.Contains(name)
        || HostSettingPrefixes.Any(prefix => name.StartsWith(prefix, StringComparison.Ordinal));

    private static Dictionary<string, string?> LocalSettingsValues()
    {
        using var document = ReadJson("local.settings.sample.json");
        Assert.IsTrue(document.RootElement.TryGetProperty("Values", out var values), "local.settings.sample.json has no 'Values' object.");
        return values.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString() : null, StringComparer.Ordinal);
    }

    /// <summary>
    /// App setting names in every .bicep file under infra/, in the two shapes Bicep uses for them: keys of an object
    /// literal assigned to <c>appSettings</c> (<c>var appSettings = { NAME: value }</c>, <c>appSettings: { … }</c>, as main.bicep
    /// does) and <c>{ name: 'NAME', value: … }</c> items of a <c>siteConfig.appSettings</c> array.
    /// </summary>
    private static HashSet<string> BicepAppSettingNames()
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        var files = Directory.GetFiles(Path.Combine(RepoRoot, "infra"), "*.bicep", SearchOption.AllDirectories);
        Assert.IsNotEmpty(files, "No .bicep files under infra/.");
        foreach (var file in files)
        {
            var lines = File.ReadAllLines(file);
            for (var i = 0; i < lines.Length; i++)
            {
                if (AppSettingsObjectStart().IsMatch(lines[i]))
                {
                    i = ReadObjectKeys(lines, i, names);
                }
            }

            foreach (Match match in NameValueItem().Matches(string.Join('\n', lines)))
            {
                names.Add(match.Groups["name"].Value);
            }
        }

        return names;
    }

    /// <summary>Adds the top-level keys of the object literal opened on <paramref name="start"/>; returns its last line.</summary>
    private static int ReadObjectKeys(string[] lines, int start, HashSet<string> names)
    {
        var depth = 0;
        for (var i = start; i < lines.Length; i++)
        {
            var line = BicepString().Replace(StripComment(lines[i]), "''");
            if (i > start && depth == 1 && ObjectKey().Match(line) is { Success: true } key)
            {
                names.Add(key.Groups["key"].Value);
            }

            depth += line.Count(c => c == '{') - line.Count(c => c == '}');
            if (depth <= 0)
            {
                return i;
            }
        }

        Assert.Fail($"Unclosed appSettings object starting at line {start + 1} of a .bicep file.");
        return lines.Length;
    }

    private static string StripComment(string line)
    {
        var index = line.IndexOf("//", StringComparison.Ordinal);
        return index >= 0 && !line[..index].Contains('\'') ? line[..index] : line;
    }

    [GeneratedRegex(@"^\s*(?:var\s+appSettings\s*=|appSettings\s*:)\s*\{")]
    private static partial Regex AppSettingsObjectStart();

    [GeneratedRegex(@"^\s*'?(?<key>[A-Za-z_][A-Za-z0-9_]*)'?\s*:")]
    private static partial Regex ObjectKey();

    [GeneratedRegex(@"'(?:[^'\\]|\\.)*'")]
    private static partial Regex BicepString();

    [GeneratedRegex(@"\bname\s*:\s*'(?<name>[A-Za-z_][A-Za-z0-9_]*)'\s*[\r\n,]+\s*value\s*:")]
    private static partial Regex NameValueItem();

    // ---- routes ----

    private sealed record FunctionRoute(string File, string Name, string Route, bool IsExpressionBodied, bool IsAnonymous);

    /// <summary>Every <c>[Function(…)]</c> HTTP trigger in src/Functions/*.cs, one per method and verb.</summary>
    private static List<FunctionRoute> FunctionRoutes()
    {
        var routes = new List<FunctionRoute>();
        foreach (var (file, text) in AzureFunctionsSources())
        {
            foreach (var chunk in FunctionChunks(text))
            {
                var trigger = HttpTrigger().Match(chunk.Text);
                if (!trigger.Success)
                {
                    continue;
                }

                // Up to the first ';': an expression body is `=> …;` with no block opened before it.
                var declaration = chunk.Text[..Math.Max(chunk.Text.IndexOf(';', StringComparison.Ordinal), 0)];
                var isExpression = declaration.Contains("=>", StringComparison.Ordinal) && !declaration.Contains('{', StringComparison.Ordinal);
                var isAnonymous = trigger.Groups["level"].Value == "Anonymous";
                foreach (Match verb in QuotedWord().Matches(trigger.Groups["verbs"].Value))
                {
                    routes.Add(new FunctionRoute(file, chunk.Name, $"{verb.Groups[1].Value.ToUpperInvariant()} Routes.{trigger.Groups["route"].Value}", isExpression, isAnonymous));
                }
            }
        }

        return routes;
    }

    private static IEnumerable<string> FunctionNames() =>
        AzureFunctionsSources().SelectMany(source => FunctionChunks(source.Text)).Select(chunk => chunk.Name);

    /// <summary>Splits a source at each <c>[Function(…)]</c>; each chunk runs to the next one (or the end).</summary>
    private static IEnumerable<(string Name, string Text)> FunctionChunks(string text)
    {
        var matches = FunctionAttribute().Matches(text);
        for (var i = 0; i < matches.Count; i++)
        {
            var end = i + 1 < matches.Count ? matches[i + 1].Index : text.Length;
            var name = matches[i].Groups["nameof"].Success ? matches[i].Groups["nameof"].Value : matches[i].Groups["literal"].Value;
            yield return (name, text[(matches[i].Index + matches[i].Length)..end]);
        }
    }

    private static List<(string File, string Text)> AzureFunctionsSources()
    {
        var folder = Path.Combine(RepoRoot, "src", "Functions");
        Assert.IsTrue(Directory.Exists(folder), $"Missing {folder}.");
        return Directory.GetFiles(folder, "*.cs").Order(StringComparer.Ordinal)
            .Select(path => (Path.GetFileName(path), File.ReadAllText(path)))
            .ToList();
    }

    [GeneratedRegex(@"\[Function\(\s*(?:nameof\((?<nameof>\w+)\)|""(?<literal>[^""]+)"")\s*\)\]")]
    private static partial Regex FunctionAttribute();

    [GeneratedRegex(@"\[HttpTrigger\(\s*AuthorizationLevel\.(?<level>\w+)\s*,(?<verbs>[^\]]*?)Route\s*=\s*Routes\.(?<route>\w+)\s*\)\]")]
    private static partial Regex HttpTrigger();

    [GeneratedRegex(@"""(\w+)""")]
    private static partial Regex QuotedWord();

    // ---- files ----

    private static JsonDocument ReadJson(string relativePath)
    {
        var path = Path.Combine(RepoRoot, relativePath);
        Assert.IsTrue(File.Exists(path), $"Missing {relativePath} at the repository root ({RepoRoot}).");
        return JsonDocument.Parse(File.ReadAllText(path), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
    }
}
