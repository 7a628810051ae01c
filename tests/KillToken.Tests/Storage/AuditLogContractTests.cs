using System.Text;
using System.Text.Json;
using KillToken.Core.Ports;
using KillToken.Core.Security;
using KillToken.Tests.TestInfrastructure;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace KillToken.Tests.Storage;

/// <summary>
/// The audit log as a user reads it — newest first, paged by cursor, filtered by event and actor, one workspace at a
/// time — run unchanged on each place it lives: the SQLite store (embedded) and Table Storage (KILLTOKEN_STORE=cosmos,
/// here Azurite). Each class builds the log through the app's own registration (<c>AddKillToken</c>) from settings.
/// </summary>
public abstract class AuditLogContractTests
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private static readonly DateTimeOffset T0 = new(2025, 3, 14, 15, 9, 26, TimeSpan.Zero);

    protected abstract IAuditLog Audit { get; }

    [TestMethod]
    public async Task ManyEvents_AreListedNewestFirst_AndEventsOfOneInstantById()
    {
        var ws = Ids.New("ws");
        // Four events at each of eight instants, appended in a shuffled order.
        var events = Enumerable.Range(0, 32).Select(i => Event(ws, T0.AddSeconds(i % 8).AddTicks(i % 8 * 7))).ToList();
        foreach (var e in events.OrderBy(_ => Random.Shared.Next()))
        {
            await Audit.AppendAsync(e);
        }

        var page = await Audit.ListAsync(ws, new AuditQuery { Limit = 100 });

        CollectionAssert.AreEqual(NewestFirst(events), IdsOf(page.Items));
        Assert.IsNull(page.NextCursor, "everything fit on the page");
    }

    [TestMethod]
    [DataRow(7, DisplayName = "pages of 7 over 23 events")]
    [DataRow(1, DisplayName = "pages of 1")]
    [DataRow(23, DisplayName = "one page exactly as long as the log")]
    public async Task Paging_ReturnsEveryEventOnceInOrder_AndTheLastPageHasNoCursor(int limit)
    {
        var ws = Ids.New("ws");
        var events = Enumerable.Range(0, 23).Select(i => Event(ws, T0.AddMinutes(i / 2))).ToList();
        await AppendAllAsync(events);

        var pages = await ReadAllPagesAsync(ws, new AuditQuery { Limit = limit });

        CollectionAssert.AreEqual(NewestFirst(events), IdsOf(pages.SelectMany(p => p.Items)));
        Assert.AreEqual((23 + limit - 1) / limit, pages.Count, "no empty page after the last event");
        Assert.IsTrue(pages.Take(pages.Count - 1).All(p => p.Items.Count == limit && p.NextCursor is not null), "every page but the last is full and continues");
        Assert.IsNull(pages[^1].NextCursor);
    }

    [TestMethod]
    public async Task ALimitOverTheMaximum_GivesAThousand_AndTheRestOnTheNextPage()
    {
        var ws = Ids.New("ws");
        var events = Enumerable.Range(0, 1003).Select(i => Event(ws, T0.AddSeconds(i))).ToList();
        await AppendAllAsync(events);

        var first = await Audit.ListAsync(ws, new AuditQuery { Limit = 5000 });
        var second = await Audit.ListAsync(ws, new AuditQuery { Limit = 5000, Cursor = first.NextCursor });

        Assert.HasCount(1000, first.Items);
        Assert.IsNotNull(first.NextCursor, "three more events exist");
        CollectionAssert.AreEqual(NewestFirst(events), IdsOf(first.Items.Concat(second.Items)));
        Assert.IsNull(second.NextCursor);
    }

    [TestMethod]
    public async Task AnEmptyLog_GivesAnEmptyPageWithoutCursor()
    {
        var page = await Audit.ListAsync(Ids.New("ws"), new AuditQuery());

        Assert.IsEmpty(page.Items);
        Assert.IsNull(page.NextCursor);
    }

    [TestMethod]
    public async Task Filters_ByEvent_ByActor_AndBoth_KeepOnlyMatchingEvents_NewestFirst()
    {
        var ws = Ids.New("ws");
        var events = Enumerable.Range(0, 12).Select(i => Event(ws, T0.AddMinutes(i),
            eventName: i % 3 == 0 ? AuditEvents.ProjectCreated : AuditEvents.ExportDownloaded,
            actorId: i % 2 == 0 ? "usr_ada" : "usr_bob")).ToList();
        await AppendAllAsync(events);

        async Task<string[]> Listed(AuditQuery query) => IdsOf((await Audit.ListAsync(ws, query)).Items);

        CollectionAssert.AreEqual(NewestFirst(events.Where(e => e.Event == AuditEvents.ProjectCreated)), await Listed(new AuditQuery { Event = AuditEvents.ProjectCreated }));
        CollectionAssert.AreEqual(NewestFirst(events.Where(e => e.ActorId == "usr_bob")), await Listed(new AuditQuery { ActorId = "usr_bob" }));
        CollectionAssert.AreEqual(
            NewestFirst(events.Where(e => e.Event == AuditEvents.ExportDownloaded && e.ActorId == "usr_ada")),
            await Listed(new AuditQuery { Event = AuditEvents.ExportDownloaded, ActorId = "usr_ada" }));
        Assert.IsEmpty(await Listed(new AuditQuery { Event = AuditEvents.ProjectCreated, ActorId = "usr_nobody" }));
        Assert.IsEmpty(await Listed(new AuditQuery { Event = AuditEvents.KeyRegenerated }));
    }

    [TestMethod]
    public async Task AFilteredLog_PagesThroughItsMatchesOnly()
    {
        var ws = Ids.New("ws");
        var events = Enumerable.Range(0, 15).Select(i => Event(ws, T0.AddMinutes(i), actorId: i % 3 == 0 ? "usr_ada" : "usr_bob")).ToList();
        await AppendAllAsync(events);

        var pages = await ReadAllPagesAsync(ws, new AuditQuery { ActorId = "usr_ada", Limit = 2 });

        CollectionAssert.AreEqual(NewestFirst(events.Where(e => e.ActorId == "usr_ada")), IdsOf(pages.SelectMany(p => p.Items)));
        CollectionAssert.AreEqual(new[] { 2, 2, 1 }, pages.Select(p => p.Items.Count).ToArray());
        Assert.IsNull(pages[^1].NextCursor);
    }

    [TestMethod]
    public async Task FilterValues_AreMatchedLiterally_QuotesAndAll()
    {
        var ws = Ids.New("ws");
        var quoted = Event(ws, T0, actorId: "usr_o'brien \"q\"");
        var plain = Event(ws, T0.AddMinutes(1), actorId: "usr_plain");
        await AppendAllAsync([quoted, plain]);

        async Task<string[]> ByActor(string actorId) => IdsOf((await Audit.ListAsync(ws, new AuditQuery { ActorId = actorId })).Items);

        CollectionAssert.AreEqual(new[] { quoted.Id }, await ByActor("usr_o'brien \"q\""));
        Assert.IsEmpty(await ByActor("usr_o'brien"));
        Assert.IsEmpty(await ByActor("x' or ActorId ne 'x"), "a filter value cannot widen the query");
        Assert.IsEmpty((await Audit.ListAsync(ws, new AuditQuery { Event = "x' or Event ne 'x" })).Items);
    }

    [TestMethod]
    public async Task ACursorTheLogDidNotIssue_IsRefused()
    {
        var ws = Ids.New("ws");
        await AppendAllAsync([Event(ws, T0), Event(ws, T0.AddMinutes(1))]);
        string Base64Url(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

        foreach (var cursor in new[]
        {
            "not a cursor!", "%%%", Base64Url("hello"), Base64Url("12345|aud_x"), Base64Url(new string('9', 19) + "x" + "aud_x"),
            Base64Url("999999999999999999a|aud_x"), Base64Url(new string('1', 19) + "|" + new string('a', 300)),
        })
        {
            await Assert.ThrowsExactlyAsync<InvalidCursorException>(() => Audit.ListAsync(ws, new AuditQuery { Cursor = cursor }), cursor);
        }
    }

    [TestMethod]
    public async Task Workspaces_SeeOnlyTheirOwnEvents()
    {
        var (ada, bob) = (Ids.New("ws"), Ids.New("ws"));
        var adas = Enumerable.Range(0, 3).Select(i => Event(ada, T0.AddMinutes(i))).ToList();
        var bobs = Enumerable.Range(0, 3).Select(i => Event(bob, T0.AddMinutes(i), actorId: "usr_ada")).ToList();
        await AppendAllAsync([.. adas, .. bobs]);

        CollectionAssert.AreEqual(NewestFirst(adas), IdsOf((await Audit.ListAsync(ada, new AuditQuery())).Items));
        CollectionAssert.AreEqual(NewestFirst(bobs), IdsOf((await Audit.ListAsync(bob, new AuditQuery())).Items));
        Assert.IsEmpty((await Audit.ListAsync(ada, new AuditQuery { ActorId = "usr_ada" })).Items.Where(e => e.WorkspaceId != ada));

        // A cursor from one workspace's log pages only within the other's.
        var bobsCursor = (await Audit.ListAsync(bob, new AuditQuery { Limit = 1 })).NextCursor;
        Assert.IsTrue((await Audit.ListAsync(ada, new AuditQuery { Cursor = bobsCursor })).Items.All(e => e.WorkspaceId == ada));
    }

    [TestMethod]
    [DataRow("a/b")]
    [DataRow("x#y")]
    [DataRow("'")]
    [DataRow("\"")]
    [DataRow("back\\slash")]
    [DataRow("what?")]
    [DataRow("tab\there")]
    [DataRow("nul\0")]
    [DataRow("")]
    [DataRow("ws_x' or PartitionKey ne 'ws_x")]
    public async Task AHostileWorkspaceId_GivesAnEmptyPage(string workspaceId)
    {
        // Some other workspace has events: none of them may show through.
        await Audit.AppendAsync(Event(Ids.New("ws"), T0));

        var page = await Audit.ListAsync(workspaceId, new AuditQuery { Limit = 1000 });
        var filtered = await Audit.ListAsync(workspaceId, new AuditQuery { Event = AuditEvents.ExportDownloaded, ActorId = "usr_ada" });

        Assert.IsEmpty(page.Items);
        Assert.IsNull(page.NextCursor);
        Assert.IsEmpty(filtered.Items);
    }

    [TestMethod]
    public async Task DetailsAndChanges_RoundTripExactly()
    {
        var ws = Ids.New("ws");
        var rich = new AuditEvent(Ids.New("aud"), ws, AuditEvents.ProjectUpdated, AuditEvents.ActorUser, "usr_ada", "prj_1",
            T0.AddTicks(1_234_567), "2001:db8::1",
            new Dictionary<string, string?>
            {
                ["name"] = "Prüfung — 試験 🚀 مرحبا",
                ["quote"] = "she said \"hi\" and 'bye'",
                ["escapes"] = "back\\slash\nnew line\ttab\u0001",
                ["json"] = "{\"a\":[1,2]}",
                ["empty"] = string.Empty,
                ["missing"] = null,
            },
            new Dictionary<string, AuditChange>
            {
                ["name"] = new("Old ünïcode", "Neu 🚀"),
                ["budget"] = new(null, "12.50"),
                ["fallback"] = new("gpt-4o", null),
                ["note"] = new("\"quoted\"", string.Empty),
            });
        var bare = new AuditEvent(Ids.New("aud"), ws, AuditEvents.DigestSent, AuditEvents.ActorSystem, "period_close", null,
            T0.AddMinutes(-1), null, new Dictionary<string, string?>(), null);
        var emptyChanges = bare with { Id = Ids.New("aud"), At = T0.AddMinutes(-2), Target = string.Empty, Changes = new Dictionary<string, AuditChange>() };
        await AppendAllAsync([rich, bare, emptyChanges]);

        var listed = (await Audit.ListAsync(ws, new AuditQuery())).Items;

        Assert.HasCount(3, listed);
        AssertSameJson(rich, listed[0]);
        AssertSameJson(bare, listed[1]);
        AssertSameJson(emptyChanges, listed[2]);
        Assert.AreEqual(rich.At.UtcTicks, listed[0].At.UtcTicks, "the instant to the tick");
        Assert.IsNull(listed[1].Changes, "no changes stays no changes");
        Assert.IsNotNull(listed[2].Changes, "no changed fields stays an empty set");
    }

    [TestMethod]
    public async Task AppendingAnEventTwice_ListsItOnce()
    {
        var ws = Ids.New("ws");
        var once = Event(ws, T0);
        var twice = Event(ws, T0.AddMinutes(1));

        await Audit.AppendAsync(once);
        await Audit.AppendAsync(twice);
        await Audit.AppendAsync(twice);
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Audit.AppendAsync(once)));

        var page = await Audit.ListAsync(ws, new AuditQuery());
        CollectionAssert.AreEqual(new[] { twice.Id, once.Id }, IdsOf(page.Items));
        AssertSameJson(once, page.Items[1]);
    }

    private static AuditEvent Event(string workspaceId, DateTimeOffset at, string eventName = AuditEvents.ExportDownloaded, string actorId = "usr_ada") =>
        new(Ids.New("aud"), workspaceId, eventName, AuditEvents.ActorUser, actorId, "api/analytics/export.csv", at, "127.0.0.1",
            new Dictionary<string, string?> { ["rows"] = "12", ["provider"] = null });

    private async Task AppendAllAsync(IEnumerable<AuditEvent> events)
    {
        // Several at once, as concurrent requests would append them.
        foreach (var chunk in events.Chunk(16))
        {
            await Task.WhenAll(chunk.Select(e => Audit.AppendAsync(e)));
        }
    }

    private async Task<List<AuditPage>> ReadAllPagesAsync(string workspaceId, AuditQuery query)
    {
        var pages = new List<AuditPage>();
        string? cursor = null;
        do
        {
            var page = await Audit.ListAsync(workspaceId, query with { Cursor = cursor });
            pages.Add(page);
            cursor = page.NextCursor;
            Assert.IsLessThan(100, pages.Count, "the cursor must move forward");
        }
        while (cursor is not null);

        return pages;
    }

    private static string[] NewestFirst(IEnumerable<AuditEvent> events) =>
        [.. events.OrderByDescending(e => e.At).ThenBy(e => e.Id, StringComparer.Ordinal).Select(e => e.Id)];

    private static string[] IdsOf(IEnumerable<AuditEvent> events) => [.. events.Select(e => e.Id)];

    private static void AssertSameJson(AuditEvent expected, AuditEvent actual) =>
        Assert.AreEqual(JsonSerializer.Serialize(expected, Json), JsonSerializer.Serialize(actual, Json));

    /// <summary>The app's registration from <paramref name="settings"/>, with a data folder and server keys of its own.</summary>
    protected static ServiceProvider BuildApp(string dataDirectory, Dictionary<string, string?> settings)
    {
        settings["KILLTOKEN_DATA_DIR"] = dataDirectory;
        settings["KILLTOKEN_JWT_SECRET"] = new string('j', 40);
        settings["KILLTOKEN_KEY_PEPPER"] = new string('p', 40);
        settings["KILLTOKEN_ENCRYPTION_KEY"] = new string('a', 64);
        return new ServiceCollection()
            .AddLogging()
            .AddKillToken(new ConfigurationBuilder().AddInMemoryCollection(settings).Build())
            .BuildServiceProvider();
    }

    protected static string NewDataDirectory() => Path.Combine(Path.GetTempPath(), "killtoken-tests", "audit-" + Guid.NewGuid().ToString("N"));
}

[TestClass]
public sealed class SqliteAuditLogContractTests : AuditLogContractTests
{
    private static string _directory = null!;
    private static ServiceProvider _services = null!;

    protected override IAuditLog Audit => _services.GetRequiredService<IAuditLog>();

    [ClassInitialize]
    public static void Start(TestContext _)
    {
        _directory = NewDataDirectory();
        _services = BuildApp(_directory, new() { ["KILLTOKEN_STORE"] = "sqlite" });
        Assert.AreEqual("SqliteAuditLog", _services.GetRequiredService<IAuditLog>().GetType().Name);
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

/// <summary>The log as the app keeps it on KILLTOKEN_STORE=cosmos: Table Storage named by AzureWebJobsStorage (Azurite).</summary>
[TestClass]
public sealed class TableAuditLogContractTests : AuditLogContractTests
{
    private static string _directory = null!;
    private static ServiceProvider _services = null!;

    protected override IAuditLog Audit => _services.GetRequiredService<IAuditLog>();

    [ClassInitialize]
    public static void Start(TestContext _)
    {
        _directory = NewDataDirectory();
        Directory.CreateDirectory(_directory);
        _services = BuildApp(_directory, new()
        {
            ["KILLTOKEN_STORE"] = "cosmos",
            // Never contacted: the audit log is all these tests resolve.
            ["COSMOS_CONNECTION_STRING"] = $"AccountEndpoint=https://127.0.0.1:1/;AccountKey={CosmosEmulator.AccountKey};",
            ["AzureWebJobsStorage"] = AzuriteEmulator.Shared.ConnectionString,
        });
        Assert.AreEqual("TableAuditLog", _services.GetRequiredService<IAuditLog>().GetType().Name);
    }

    [TestMethod]
    public async Task ACursorWithCharactersNoRowKeyHolds_IsRefused()
    {
        var ws = Ids.New("ws");
        await Audit.AppendAsync(new AuditEvent(Ids.New("aud"), ws, AuditEvents.ExportDownloaded, AuditEvents.ActorUser, "usr_ada", null, DateTimeOffset.UtcNow, null,
            new Dictionary<string, string?>()));

        foreach (var key in new[] { "0000000000000000000|aud/x", "0000000000000000000|a#b", "0000000000000000000|tab\t", "0000000000000000000|nul\0" })
        {
            var cursor = Convert.ToBase64String(Encoding.UTF8.GetBytes(key)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
            await Assert.ThrowsExactlyAsync<InvalidCursorException>(() => Audit.ListAsync(ws, new AuditQuery { Cursor = cursor }), key);
        }
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _services.DisposeAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
