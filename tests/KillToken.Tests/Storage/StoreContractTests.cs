using System.Security.Cryptography;
using System.Text.Json;
using KillToken.Core.Domain;
using KillToken.Core.Ports;
using KillToken.Core.Security;
using KillToken.Storage.Cosmos;
using KillToken.Tests.TestInfrastructure;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace KillToken.Tests.Storage;

/// <summary>
/// The store contract: what a user would notice, run unchanged against every store (SQLite, Cosmos DB). Each store's
/// class builds its stores through the same DI extension the app uses and hands over the resolved ports.
/// </summary>
public abstract class StoreContractTests
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private static readonly DateTimeOffset T0 = new(2025, 3, 14, 15, 9, 26, TimeSpan.Zero);

    protected abstract IServiceProvider Services { get; }

    private IUserStore Users => Services.GetRequiredService<IUserStore>();
    private IWorkspaceStore Workspaces => Services.GetRequiredService<IWorkspaceStore>();
    private IProjectStore Projects => Services.GetRequiredService<IProjectStore>();
    private ICredentialStore Credentials => Services.GetRequiredService<ICredentialStore>();
    private ITraceStore Traces => Services.GetRequiredService<ITraceStore>();

    // ---- Users ---------------------------------------------------------------------------------------------

    [TestMethod]
    public async Task Users_DuplicateEmailIsRefused_AndTheFirstUserIsFoundByEmailAndId()
    {
        var alice = NewUser();
        var impostor = NewUser(alice.Email);

        Assert.IsTrue(await Users.TryCreateAsync(alice));
        Assert.IsFalse(await Users.TryCreateAsync(impostor), "emails are unique");

        AssertSameJson(alice, await Users.FindByEmailAsync(alice.Email));
        AssertSameJson(alice, await Users.GetAsync(alice.Id));
        Assert.IsNull(await Users.GetAsync(impostor.Id), "a refused sign-up leaves no user behind");
        Assert.IsNull(await Users.FindByEmailAsync("nobody-" + alice.Email));
        Assert.IsNull(await Users.GetAsync(Ids.New("usr")));
    }

    [TestMethod]
    public async Task Users_EmailsWithCharactersIdsCannotHold_StillWorkAndStayUnique()
    {
        var odd = NewUser($"o'neil+{Guid.NewGuid():N}/x?y#z\\w%20@example.com");
        Assert.IsTrue(await Users.TryCreateAsync(odd));
        Assert.IsFalse(await Users.TryCreateAsync(NewUser(odd.Email)));
        AssertSameJson(odd, await Users.FindByEmailAsync(odd.Email));
        Assert.IsNull(await Users.FindByEmailAsync(odd.Email.Replace("/x", "/y", StringComparison.Ordinal)));
    }

    // ---- Workspaces and memberships -------------------------------------------------------------------------

    [TestMethod]
    public async Task Workspaces_CreateWithOwner_MembershipsAreListedForTheUser()
    {
        var user = NewUser();
        Assert.IsTrue(await Users.TryCreateAsync(user));
        var first = NewWorkspace(user.Id, "First");
        var second = NewWorkspace(user.Id, "Second");
        await Workspaces.CreateAsync(first, Owner(first, user.Id));
        await Workspaces.CreateAsync(second, Owner(second, user.Id));

        AssertSameJson(first, await Workspaces.GetAsync(first.Id));
        var membership = await Workspaces.GetMembershipAsync(first.Id, user.Id);
        Assert.IsNotNull(membership);
        Assert.AreEqual(WorkspaceRoles.Owner, membership.Role);
        Assert.AreEqual(user.Id, membership.UserId);

        var mine = await Workspaces.ListMembershipsOfUserAsync(user.Id);
        CollectionAssert.AreEquivalent(new[] { first.Id, second.Id }, mine.Select(m => m.WorkspaceId).ToArray());
        Assert.IsTrue(mine.All(m => m.UserId == user.Id && m.Role == WorkspaceRoles.Owner));

        Assert.IsNull(await Workspaces.GetMembershipAsync(first.Id, Ids.New("usr")));
        Assert.IsNull(await Workspaces.GetAsync(Ids.New("ws")));
        Assert.AreEqual(0, (await Workspaces.ListMembershipsOfUserAsync(Ids.New("usr"))).Count);
    }

    [TestMethod]
    public async Task Workspaces_RenameAndSoftDeletePersist()
    {
        var userId = Ids.New("usr");
        var workspace = NewWorkspace(userId, "Before");
        await Workspaces.CreateAsync(workspace, Owner(workspace, userId));

        var renamed = workspace with { Name = "After", UpdatedAt = T0.AddMinutes(1), DeletedAt = T0.AddMinutes(2) };
        await Workspaces.UpdateAsync(renamed);

        AssertSameJson(renamed, await Workspaces.GetAsync(workspace.Id));
    }

    [TestMethod]
    public async Task Workspaces_ConcurrentlyCreatedForOneUser_AreAllListed()
    {
        var userId = Ids.New("usr");
        var workspaces = Enumerable.Range(0, 8).Select(i => NewWorkspace(userId, $"W{i}")).ToList();

        await Task.WhenAll(workspaces.Select(w => Workspaces.CreateAsync(w, Owner(w, userId))));

        var listed = await Workspaces.ListMembershipsOfUserAsync(userId);
        CollectionAssert.AreEquivalent(workspaces.Select(w => w.Id).ToArray(), listed.Select(m => m.WorkspaceId).ToArray(),
            "no membership may be lost to a concurrent write");
    }

    // ---- Projects ---------------------------------------------------------------------------------------------

    [TestMethod]
    public async Task Projects_CreateGetListAndFindByKeyHash()
    {
        var (workspaceA, workspaceB) = (Ids.New("ws"), Ids.New("ws"));
        var one = NewProject(workspaceA, "one") with { DailyBudgetUsd = 12.5m, MonthlyBudgetUsd = 300m, FallbackModel = "gpt-4o-mini", AlertEmail = "ops@example.com" };
        var two = NewProject(workspaceA, "two");
        var other = NewProject(workspaceB, "other");
        foreach (var project in new[] { one, two, other })
        {
            await Projects.CreateAsync(project);
        }

        AssertSameJson(one, await Projects.GetAsync(one.Id));
        AssertSameJson(one, await Projects.FindByKeyHashAsync(one.KeyHash));
        AssertSameJson(other, await Projects.FindByKeyHashAsync(other.KeyHash));
        CollectionAssert.AreEquivalent(new[] { one.Id, two.Id }, (await Projects.ListAsync(workspaceA)).Select(p => p.Id).ToArray());
        CollectionAssert.AreEquivalent(new[] { other.Id }, (await Projects.ListAsync(workspaceB)).Select(p => p.Id).ToArray());

        Assert.IsNull(await Projects.GetAsync(Ids.New("prj")));
        Assert.IsNull(await Projects.FindByKeyHashAsync(KeyHash()));
        Assert.AreEqual(0, (await Projects.ListAsync(Ids.New("ws"))).Count);
    }

    [TestMethod]
    public async Task Projects_RegeneratedKey_OldHashStopsResolvingAtOnce()
    {
        var project = NewProject(Ids.New("ws"), "rotating");
        await Projects.CreateAsync(project);

        var regenerated = project with { KeyHash = KeyHash(), KeyPreview = "kt_live_new123…", UpdatedAt = T0.AddHours(1) };
        await Projects.UpdateAsync(regenerated, project.KeyHash);

        Assert.IsNull(await Projects.FindByKeyHashAsync(project.KeyHash), "the old key must fail on the very next request");
        AssertSameJson(regenerated, await Projects.FindByKeyHashAsync(regenerated.KeyHash));
        AssertSameJson(regenerated, await Projects.GetAsync(project.Id));

        var again = regenerated with { KeyHash = KeyHash() };
        await Projects.UpdateAsync(again, regenerated.KeyHash);
        Assert.IsNull(await Projects.FindByKeyHashAsync(regenerated.KeyHash));
        Assert.IsNull(await Projects.FindByKeyHashAsync(project.KeyHash));
        Assert.AreEqual(again.Id, (await Projects.FindByKeyHashAsync(again.KeyHash))?.Id);
    }

    [TestMethod]
    public async Task Projects_DeactivationAndSettingsPersist()
    {
        var project = NewProject(Ids.New("ws"), "live");
        await Projects.CreateAsync(project);

        var deactivated = project with { Active = false, Name = "paused", DailyBudgetUsd = 1.25m, Scopes = [ApiKeyScopes.Chat], UpdatedAt = T0.AddDays(1) };
        await Projects.UpdateAsync(deactivated);

        AssertSameJson(deactivated, await Projects.GetAsync(project.Id));
        AssertSameJson(deactivated, (await Projects.ListAsync(project.WorkspaceId)).Single());
        var byKey = await Projects.FindByKeyHashAsync(project.KeyHash);
        Assert.IsNotNull(byKey, "the key still names the project; the authenticator refuses it as inactive");
        Assert.IsFalse(byKey.Active);
    }

    // ---- Credentials -----------------------------------------------------------------------------------------

    [TestMethod]
    public async Task Credentials_CreateGetListUpdateDelete()
    {
        var workspaceId = Ids.New("ws");
        var openai = NewCredential(workspaceId, "openai");
        var compatible = NewCredential(workspaceId, "openai_compatible") with
        {
            Config = new Dictionary<string, string> { ["baseUrl"] = "https://models.example.com/v1", ["region"] = "eu" },
        };
        await Credentials.CreateAsync(openai);
        await Credentials.CreateAsync(compatible);

        AssertSameJson(compatible, await Credentials.GetAsync(workspaceId, compatible.Id));
        CollectionAssert.AreEquivalent(new[] { openai.Id, compatible.Id }, (await Credentials.ListAsync(workspaceId)).Select(c => c.Id).ToArray());

        var rotated = openai with { Status = CredentialStatus.Disabled, SecretVersion = "v2", KeyPreview = "sk-…9999", Label = "rotated", UpdatedAt = T0.AddHours(2) };
        await Credentials.UpdateAsync(rotated);
        AssertSameJson(rotated, await Credentials.GetAsync(workspaceId, openai.Id));

        Assert.IsTrue(await Credentials.DeleteAsync(workspaceId, compatible.Id));
        Assert.IsNull(await Credentials.GetAsync(workspaceId, compatible.Id));
        Assert.IsFalse(await Credentials.DeleteAsync(workspaceId, compatible.Id), "deleting twice finds nothing the second time");
        CollectionAssert.AreEqual(new[] { openai.Id }, (await Credentials.ListAsync(workspaceId)).Select(c => c.Id).ToArray());
        Assert.IsNull(await Credentials.GetAsync(workspaceId, Ids.New("cred")));
    }

    // ---- Workspace isolation ------------------------------------------------------------------------------

    [TestMethod]
    public async Task Isolation_AnotherWorkspaceSeesNoCredentialTraceOrProject()
    {
        var (a, b) = (Ids.New("ws"), Ids.New("ws"));
        var userId = Ids.New("usr");
        var credential = NewCredential(a, "openai");
        var trace = NewTrace(a, T0);
        var project = NewProject(a, "a's");
        await Workspaces.CreateAsync(NewWorkspace(userId, "A") with { Id = a }, new MembershipRecord { WorkspaceId = a, UserId = userId, Role = WorkspaceRoles.Owner, JoinedAt = T0 });
        await Credentials.CreateAsync(credential);
        await Traces.AppendAsync(trace);
        await Projects.CreateAsync(project);

        Assert.IsNull(await Credentials.GetAsync(b, credential.Id));
        Assert.AreEqual(0, (await Credentials.ListAsync(b)).Count);
        Assert.IsFalse(await Credentials.DeleteAsync(b, credential.Id));
        Assert.IsNotNull(await Credentials.GetAsync(a, credential.Id), "a delete through another workspace must not touch it");

        Assert.IsNull(await Traces.GetAsync(b, trace.Id));
        Assert.AreEqual(0, (await Traces.QueryAsync(b, new TraceQuery())).Items.Count);
        Assert.AreEqual(0, (await Projects.ListAsync(b)).Count);
        Assert.IsNull(await Workspaces.GetMembershipAsync(b, userId));

        Assert.IsNotNull(await Traces.GetAsync(a, trace.Id));
        Assert.AreEqual(1, (await Traces.QueryAsync(a, new TraceQuery())).Items.Count);
    }

    // ---- Traces -------------------------------------------------------------------------------------------

    [TestMethod]
    public async Task Traces_AppendThenGet_RoundTripsEveryField()
    {
        var trace = NewTrace(Ids.New("ws"), T0) with
        {
            ProjectId = Ids.New("prj"),
            WasFallback = true,
            Stream = false,
            ErrorCode = "provider_error",
            Status = 502,
            CachedInputTokens = 200,
            WasteTokens = 7,
            SavedTokens = 3,
            SavedUsd = 0.0001m,
            ProviderLatencyMs = 10.25,
            OverheadMs = 2.25,
            TemplateId = "tpl_1",
        };
        await Traces.AppendAsync(trace);

        AssertSameJson(trace, await Traces.GetAsync(trace.WorkspaceId, trace.Id));
        Assert.IsNull(await Traces.GetAsync(trace.WorkspaceId, Ids.New("req")));
        Assert.IsNull(await Traces.GetAsync(trace.WorkspaceId, "../" + trace.Id), "ids from request paths are only ids");
    }

    [TestMethod]
    public async Task Traces_QueryByEachFilter_NewestFirst()
    {
        var ws = Ids.New("ws");
        var (p1, p2) = (Ids.New("prj"), Ids.New("prj"));
        var t1 = NewTrace(ws, T0.AddSeconds(1), "openai", "gpt-4o-mini", "measure_only", "miss", "alpha", p1);
        var t2 = NewTrace(ws, T0.AddSeconds(2), "anthropic", "claude-3-5-haiku", "measure_only", "hit", "beta", p2);
        var t3 = NewTrace(ws, T0.AddSeconds(3), "openai", "gpt-4o", "balanced", "miss", "alpha", p2);
        var t4 = NewTrace(ws, T0.AddSeconds(4), "openai", "gpt-4o-mini", "measure_only", "hit", "beta", p1);
        foreach (var trace in new[] { t2, t4, t1, t3 })
        {
            await Traces.AppendAsync(trace);
        }

        async Task Expect(TraceQuery query, params RequestTrace[] expected)
        {
            var page = await Traces.QueryAsync(ws, query);
            CollectionAssert.AreEqual(expected.Select(t => t.Id).ToArray(), page.Items.Select(t => t.Id).ToArray(), JsonSerializer.Serialize(query, Json));
            Assert.IsNull(page.NextCursor);
        }

        await Expect(new TraceQuery(), t4, t3, t2, t1);
        await Expect(new TraceQuery { Provider = "openai" }, t4, t3, t1);
        await Expect(new TraceQuery { Model = "gpt-4o-mini" }, t4, t1);
        await Expect(new TraceQuery { Mode = "balanced" }, t3);
        await Expect(new TraceQuery { CacheStatus = "hit" }, t4, t2);
        await Expect(new TraceQuery { Feature = "alpha" }, t3, t1);
        await Expect(new TraceQuery { ProjectId = p2 }, t3, t2);
        await Expect(new TraceQuery { From = t2.CreatedAt, To = t3.CreatedAt }, t3, t2);
        await Expect(new TraceQuery { From = t4.CreatedAt }, t4);
        await Expect(new TraceQuery { To = t1.CreatedAt }, t1);
        await Expect(new TraceQuery { Provider = "openai", Feature = "beta", ProjectId = p1 }, t4);
        await Expect(new TraceQuery { Provider = "gemini" });
        AssertSameJson(t2, (await Traces.QueryAsync(ws, new TraceQuery { Provider = "anthropic" })).Items.Single());
    }

    [TestMethod]
    public async Task Traces_PagesWithACursor_NewestFirst_WithoutRepeatsOrGaps()
    {
        var ws = Ids.New("ws");
        // 22 traces, three to a timestamp: ties must still page in one stable order.
        var traces = Enumerable.Range(0, 22).Select(i => NewTrace(ws, T0.AddSeconds(i / 3), feature: i % 2 == 0 ? "even" : "odd")).ToList();
        foreach (var trace in traces.OrderBy(_ => Random.Shared.Next()))
        {
            await Traces.AppendAsync(trace);
        }

        var expected = traces.OrderByDescending(t => t.CreatedAt.UtcTicks).ThenByDescending(t => t.Id, StringComparer.Ordinal).Select(t => t.Id).ToList();
        var (seen, pages) = await ReadAllAsync(ws, new TraceQuery { Limit = 5 });
        CollectionAssert.AreEqual(expected, seen, "newest first, ties by id, no repeats or gaps");
        Assert.AreEqual(5, pages);

        var (even, evenPages) = await ReadAllAsync(ws, new TraceQuery { Limit = 4, Feature = "even" });
        CollectionAssert.AreEqual(expected.Where(id => traces.Single(t => t.Id == id).Feature == "even").ToList(), even);
        Assert.AreEqual(3, evenPages, "11 even traces in pages of 4");

        var (exact, exactPages) = await ReadAllAsync(ws, new TraceQuery { Limit = 11, Feature = "odd" });
        Assert.AreEqual(11, exact.Count);
        Assert.AreEqual(1, exactPages, "a page that ends exactly at the last trace has no next cursor");
    }

    [TestMethod]
    public async Task Traces_ACursorTheStoreDidNotIssue_IsRefused()
    {
        var ws = Ids.New("ws");
        await Traces.AppendAsync(NewTrace(ws, T0));
        foreach (var bad in new[] { "not-a-cursor", "%%%", "AAAA", new string('x', 500), Convert.ToBase64String("12|"u8.ToArray()) })
        {
            await Assert.ThrowsExactlyAsync<InvalidCursorException>(() => Traces.QueryAsync(ws, new TraceQuery { Cursor = bad }), bad);
        }
    }

    // ---- Health ---------------------------------------------------------------------------------------------

    [TestMethod]
    public async Task Health_TheStoreProbeIsReady()
    {
        var results = new List<HealthCheckResult>();
        foreach (var probe in Services.GetServices<IHealthProbe>())
        {
            results.Add(await probe.CheckAsync());
        }

        var store = results.Single(r => r.Name == "store");
        Assert.IsTrue(store.Healthy, store.Detail);
    }

    // ---- Helpers ----------------------------------------------------------------------------------------------

    private async Task<(List<string> Ids, int Pages)> ReadAllAsync(string workspaceId, TraceQuery query)
    {
        var ids = new List<string>();
        var pages = 0;
        string? cursor = null;
        do
        {
            var page = await Traces.QueryAsync(workspaceId, query with { Cursor = cursor });
            Assert.IsTrue(page.Items.Count <= query.Limit);
            ids.AddRange(page.Items.Select(t => t.Id));
            cursor = page.NextCursor;
            Assert.IsTrue(++pages < 100, "paging must end");
        }
        while (cursor is not null);

        return (ids, pages);
    }

    private static void AssertSameJson<T>(T expected, T? actual) where T : class
    {
        Assert.IsNotNull(actual);
        Assert.AreEqual(JsonSerializer.Serialize(expected, Json), JsonSerializer.Serialize(actual, Json));
    }

    private static string KeyHash() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));

    private static UserRecord NewUser(string? email = null) => new()
    {
        Id = Ids.New("usr"),
        Email = email ?? $"user-{Guid.NewGuid():N}@example.com",
        Name = "Ada",
        PasswordHash = "pbkdf2-sha256$210000$c2FsdA==$aGFzaA==",
        CreatedAt = T0,
    };

    private static WorkspaceRecord NewWorkspace(string ownerUserId, string name) => new()
    {
        Id = Ids.New("ws"),
        Name = name,
        OwnerUserId = ownerUserId,
        CreatedAt = T0,
        UpdatedAt = T0,
    };

    private static MembershipRecord Owner(WorkspaceRecord workspace, string userId) =>
        new() { WorkspaceId = workspace.Id, UserId = userId, Role = WorkspaceRoles.Owner, JoinedAt = T0 };

    private static ProjectRecord NewProject(string workspaceId, string name) => new()
    {
        Id = Ids.New("prj"),
        WorkspaceId = workspaceId,
        Name = name,
        KeyHash = KeyHash(),
        KeyPreview = "kt_live_abc123…",
        Scopes = ApiKeyScopes.NewProjectDefault,
        CreatedAt = T0,
        UpdatedAt = T0,
    };

    private static CredentialRecord NewCredential(string workspaceId, string provider)
    {
        var id = Ids.New("cred");
        return new()
        {
            Id = id,
            WorkspaceId = workspaceId,
            Provider = provider,
            Label = "main",
            Status = CredentialStatus.Active,
            KeyPreview = "sk-…abcd",
            SecretName = "kt-" + id.Replace('_', '-'),
            SecretVersion = "v1",
            CreatedAt = T0,
            UpdatedAt = T0,
        };
    }

    private static RequestTrace NewTrace(string workspaceId, DateTimeOffset at, string provider = "openai", string model = "gpt-4o-mini",
        string mode = "measure_only", string cache = "miss", string feature = "(untagged)", string? projectId = null) => new()
    {
        Id = Ids.New("req"),
        WorkspaceId = workspaceId,
        ProjectId = projectId,
        CreatedAt = at,
        Endpoint = "chat",
        Provider = provider,
        Model = model,
        FinalModel = model,
        OptimizationMode = mode,
        Feature = feature,
        Status = 200,
        InputTokens = 1000,
        OutputTokens = 500,
        TotalTokens = 1500,
        CostUsd = 0.000435m,
        CostStatus = "priced",
        CacheStatus = cache,
        Idempotency = "none",
        LatencyMs = 12.5,
    };
}

[TestClass]
public sealed class SqliteStoreContractTests : StoreContractTests
{
    private static string _directory = null!;
    private static ServiceProvider _services = null!;

    protected override IServiceProvider Services => _services;

    [ClassInitialize]
    public static void Start(TestContext _)
    {
        _directory = Path.Combine(Path.GetTempPath(), "killtoken-tests", "contract-" + Guid.NewGuid().ToString("N"));
        _services = new ServiceCollection().AddKillTokenSqliteStore(_directory).BuildServiceProvider();
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _services.DisposeAsync();
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

[TestClass]
public sealed class CosmosStoreContractTests : StoreContractTests
{
    private static string _database = null!;
    private static ServiceProvider _services = null!;

    protected override IServiceProvider Services => _services;

    [ClassInitialize]
    public static void Start(TestContext _)
    {
        _database = CosmosEmulator.NewDatabaseName("contract");
        _services = new ServiceCollection().AddKillTokenCosmosStore(CosmosEmulator.Shared.StoreOptions(_database)).BuildServiceProvider();
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _services.GetRequiredService<CosmosStoreContext>().Client.GetDatabase(_database).DeleteStreamAsync();
        await _services.DisposeAsync();
    }
}
