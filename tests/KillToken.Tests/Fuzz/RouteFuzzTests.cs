using System.Reflection;
using System.Text.Json.Nodes;

namespace KillToken.Tests.Fuzz;

/// <summary>
/// Fuzzes every endpoint of the running self-host (read from its endpoint data source, so a route mapped later is fuzzed
/// with no change here) with malformed bodies, wrong field types, content types and lengths, hostile query values,
/// garbage and foreign credentials and ids, and the gateway's own headers with junk — filled with the real ids of a
/// signed-up tenant. Every answer must be: never a 5xx; every 4xx in the route's error shape (the contract's
/// <c>{error:{code,message,requestId}}</c>, or the native one on the OpenAI, Anthropic and Gemini wrapper routes);
/// for a refused request, nothing stored (the tenant's user, workspaces, projects, credentials and prices read through the
/// management API are unchanged, no user is created) and no call to the (fake) provider.
/// <para>
/// Each test runs a deterministic sweep (every endpoint × its family's inputs; in CI a seeded sample where the full
/// product is large) and then a random phase. Environment:
/// <list type="bullet">
/// <item><c>KILLTOKEN_FUZZ_ITERATIONS</c> — random cases per test (default 40, the CI setting; the all-inputs mix runs five
/// times as many). A larger value also makes
/// every sweep exhaustive (every corruption on every route, every field × every wrong type, every garbage id, every
/// header value): e.g. <c>KILLTOKEN_FUZZ_ITERATIONS=5000</c> for a long run.</item>
/// <item><c>KILLTOKEN_FUZZ_SEED</c> — the run's seed (default: a fixed CI seed, so CI is repeatable; <c>random</c> for a
/// fresh one; printed in every failure message with the command line that replays the run).</item>
/// <item><c>KILLTOKEN_FUZZ_SECONDS</c> — wall-clock cap of each test's random phase (CI: 3 s; exhaustive runs: 1 h).</item>
/// <item><c>KILLTOKEN_FUZZ_REPORT</c> — a file to append every failure to, tab-separated.</item>
/// </list>
/// </para>
/// </summary>
[TestClass]
public sealed class RouteFuzzTests
{
    private static FuzzWorld _world = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _) => _world = await FuzzWorld.StartAsync();

    [ClassCleanup]
    public static async Task StopAsync() => await _world.DisposeAsync();

    private static IReadOnlyList<RouteSpec> Endpoints => _world.Endpoints;

    private static FuzzContext Context => new(_world.Tenant, "plan");

    [TestMethod]
    public void EveryRouteInTheRouteTable_IsServedAndFuzzed()
    {
        var problems = new List<string>();
        var table = FuzzRoutes.Table();
        var served = Endpoints.Select(e => e.Pattern).ToHashSet(StringComparer.Ordinal);
        problems.AddRange(table.Where(r => !served.Contains(r.Value))
            .Select(r => $"Routes.{r.Key} (\"{r.Value}\") is in the route table but the self-host serves no endpoint for it"));
        problems.AddRange(Endpoints.Where(e => !table.Values.Contains(e.Pattern))
            .Select(e => $"{e.Name} is served but is not a constant of Routes"));
        problems.AddRange(Endpoints.Where(e => !e.Catalogued)
            .Select(e => $"{e.Name} is fuzzed only with what its path implies: describe it in FuzzRoutes (its valid body, query, whether it reads a body)"));
        problems.AddRange(Endpoints.SelectMany(e => e.Parameters.Where(p => !FuzzRoutes.KnownParameters.Contains(p))
            .Select(p => $"{e.Name} has a parameter {{{p}}} the fuzzer cannot fill with a real id: teach FuzzWorld.RealId about it")));
        problems.AddRange(Endpoints.Where(e => e.ReadsBody && e.ValidBody is null)
            .Select(e => $"{e.Name} reads a body but FuzzRoutes has no valid body for it, so its fields are not mutated"));

        var plans = new Dictionary<string, IEnumerable<FuzzCase>>
        {
            ["bodies"] = FuzzPlans.Bodies(Endpoints),
            ["contents"] = FuzzPlans.Contents(Endpoints),
            ["queries"] = FuzzPlans.Queries(Endpoints),
            ["headers"] = FuzzPlans.Headers(Endpoints),
        };
        foreach (var (family, cases) in plans)
        {
            var covered = cases.Select(c => c.Route.Name).ToHashSet(StringComparer.Ordinal);
            problems.AddRange(Endpoints.Where(e => !covered.Contains(e.Name)).Select(e => $"{e.Name} is missing from the {family} sweep"));
        }

        var withIds = FuzzPlans.Ids(Endpoints).Select(c => c.Route.Name).ToHashSet(StringComparer.Ordinal);
        problems.AddRange(Endpoints.Where(e => e.Parameters.Count > 0 && !withIds.Contains(e.Name)).Select(e => $"{e.Name} is missing from the ids sweep"));
        var withFields = FuzzPlans.Fields(Endpoints, Context).Select(c => c.Route.Name).ToHashSet(StringComparer.Ordinal);
        problems.AddRange(Endpoints.Where(e => e.ValidBody is not null && !withFields.Contains(e.Name)).Select(e => $"{e.Name} is missing from the field sweep"));

        // The per-wrapper reproduction must list every wrapper route that takes a body.
        var reproduced = typeof(MalformedInputReproductionTests).GetMethod(nameof(MalformedInputReproductionTests.WrapperRoute_WithDuplicateKeys_Is400InItsNativeErrorShape))!
            .GetCustomAttributes<DataRowAttribute>().Select(d => (string)d.Data[0]!).ToHashSet(StringComparer.Ordinal);
        problems.AddRange(Endpoints.Where(e => e.Shape != ErrorShape.Contract && e.ReadsBody && !reproduced.Contains(e.Pattern))
            .Select(e => $"{e.Name} is a wrapper route missing from WrapperRoute_WithDuplicateKeys_Is400InItsNativeErrorShape's rows"));

        Assert.IsEmpty(problems, string.Join(Environment.NewLine, problems));
    }

    [TestMethod]
    public async Task ValidBodyOfEveryRoute_IsAccepted_SoTheMutationsStartFromAGoodRequest()
    {
        var problems = new List<string>();
        var index = 0;
        foreach (var route in Endpoints.Where(e => e.ValidBody is not null))
        {
            var fuzzCase = new FuzzCase("valid", index++, route);
            var (request, _) = FuzzRunner.Prepare(_world, fuzzCase);
            var answer = await _world.SendAsync(request);
            // Sign-in refuses everyone from one address for a while after 20 failed attempts, which the fuzz makes.
            var throttled = answer.Status == 429 && FuzzRunner.Code(answer.Body) == "too_many_attempts";
            if (answer.Status is < 200 or >= 300 && !throttled)
            {
                problems.Add($"{route.Name} → {answer.Status} {answer.Excerpt}");
            }

            if (route.IsWrite)
            {
                await _world.SettleTenantAsync();
            }
        }

        Assert.IsEmpty(problems, "the valid body of these routes is refused, so their fuzz cases test the wrong thing:" + Environment.NewLine + string.Join(Environment.NewLine, problems));
    }

    [TestMethod]
    public async Task TheTenantSnapshot_SeesEveryKindOfWrite_SoARefusedRequestCannotHideOne()
    {
        var missed = new List<string>();
        foreach (var (method, path, body) in new (string, Func<FuzzTenant, string>, JsonObject)[]
        {
            ("PATCH", t => $"api/workspaces/{t.WorkspaceId}", new JsonObject { ["name"] = "renamed" }),
            ("POST", _ => "api/workspaces", new JsonObject { ["name"] = "second" }),
            ("POST", t => $"api/workspaces/{t.WorkspaceId}/projects", new JsonObject { ["name"] = "another" }),
            ("PATCH", t => $"api/projects/{t.ProjectId}", new JsonObject { ["alertEmail"] = "ops@example.com" }),
            ("PATCH", t => $"api/workspaces/{t.WorkspaceId}/provider-credentials/{t.CredentialId}", new JsonObject { ["label"] = "relabelled" }),
            ("POST", t => $"api/workspaces/{t.WorkspaceId}/provider-credentials", new JsonObject { ["provider"] = "mistral", ["apiKey"] = "mk-0123456789abcdef" }),
            ("PUT", t => $"api/workspaces/{t.WorkspaceId}/pricing", new JsonObject
            {
                ["models"] = new JsonArray(new JsonObject { ["provider"] = "openai", ["model"] = "gpt-4o-mini", ["input"] = 1, ["output"] = 2 }),
            }),
        })
        {
            var tenant = _world.Tenant;
            var before = await _world.SnapshotAsync(tenant);
            var answer = await _world.SendAsync(new Prepared(method, path(tenant), [new("Authorization", "Bearer " + tenant.Token)],
                new Payload(JsonSurgery.Bytes(body), Payload.Json, "a valid write")));
            Assert.IsTrue(answer.Status is >= 200 and < 300, $"{method} {path(tenant)} → {answer.Status} {answer.Excerpt}");
            if (await _world.SnapshotAsync(tenant) == before)
            {
                missed.Add($"{method} /{path(tenant)}");
            }

            await _world.SettleTenantAsync();
        }

        Assert.IsEmpty(missed, "the snapshot does not see these writes: " + string.Join(", ", missed));
    }

    [TestMethod]
    public Task MalformedJsonBodies_OnEveryRoute_AreRefusedWithA4xxInTheRouteErrorShape_AndStoreNothing() =>
        FuzzRunner.RunAsync(_world, nameof(MalformedJsonBodies_OnEveryRoute_AreRefusedWithA4xxInTheRouteErrorShape_AndStoreNothing),
            FuzzPlans.Bodies(Endpoints), (i, rng) => FuzzPlans.RandomBody(Endpoints, i, rng));

    [TestMethod]
    public Task WrongTypeInAnyFieldOfAValidBody_IsNeverAServerError_AndARefusalStoresNothing() =>
        FuzzRunner.RunAsync(_world, nameof(WrongTypeInAnyFieldOfAValidBody_IsNeverAServerError_AndARefusalStoresNothing),
            FuzzPlans.Fields(Endpoints, Context), (i, rng) => FuzzPlans.RandomField(Endpoints, Context, i, rng));

    [TestMethod]
    public Task WrongContentTypeOrLength_OnEveryRoute_IsRefusedCleanly_NotAServerError() =>
        FuzzRunner.RunAsync(_world, nameof(WrongContentTypeOrLength_OnEveryRoute_IsRefusedCleanly_NotAServerError), FuzzPlans.Contents(Endpoints));

    [TestMethod]
    public Task HostileQueryValues_OnEveryRoute_AreRefusedWithA4xxOrIgnored_NeverAServerError() =>
        FuzzRunner.RunAsync(_world, nameof(HostileQueryValues_OnEveryRoute_AreRefusedWithA4xxOrIgnored_NeverAServerError),
            FuzzPlans.Queries(Endpoints), (i, rng) => FuzzPlans.RandomQuery(Endpoints, i, rng));

    [TestMethod]
    public Task GarbageCredentialsAndGatewayHeaders_OnEveryRoute_AreRefusedCleanly_AndServeNothing() =>
        FuzzRunner.RunAsync(_world, nameof(GarbageCredentialsAndGatewayHeaders_OnEveryRoute_AreRefusedCleanly_AndServeNothing),
            FuzzPlans.Headers(Endpoints), (i, rng) => FuzzPlans.RandomHeader(Endpoints, i, rng));

    [TestMethod]
    public Task GarbageAndForeignIds_InEveryPath_AreNotFound_AndNeverReachAnotherWorkspace() =>
        FuzzRunner.RunAsync(_world, nameof(GarbageAndForeignIds_InEveryPath_AreNotFound_AndNeverReachAnotherWorkspace),
            FuzzPlans.Ids(Endpoints), (i, rng) => FuzzPlans.RandomIds(Endpoints, i, rng));

    [TestMethod]
    public Task RandomMixOfBadInputs_OnEveryRoute_IsNeverAServerError_NorAnUnshapedError_NorAWrite() =>
        FuzzRunner.RunAsync(_world, nameof(RandomMixOfBadInputs_OnEveryRoute_IsNeverAServerError_NorAnUnshapedError_NorAWrite),
            [], (i, rng) => FuzzPlans.RandomMix(Endpoints, Context, i, rng), iterationsFactor: 5);
}
