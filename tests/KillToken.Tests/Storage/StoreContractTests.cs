using System.Security.Cryptography;
using System.Text.Json;
using KillToken.Core.Analytics;
using KillToken.Core.Budgets;
using KillToken.Core.Caching;
using KillToken.Core.Domain;
using KillToken.Core.Idempotency;
using KillToken.Core.Ports;
using KillToken.Core.Security;
using KillToken.Storage.Cosmos;
using KillToken.Tests.TestInfrastructure;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace KillToken.Tests.Storage;

/// <summary>
/// The store contract: what a user would notice, run unchanged against every store (SQLite, Cosmos DB). Each store's
/// class builds its stores through the same DI extension the app uses and hands over the resolved ports. The audit log,
/// which lives in Table Storage beside Cosmos DB, has its own contract (<see cref="AuditLogContractTests"/>).
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
    private IIdempotencyStore Idempotency => Services.GetRequiredService<IIdempotencyStore>();
    private ICacheStore Cache => Services.GetRequiredService<ICacheStore>();
    private IBudgetLedger Ledger => Services.GetRequiredService<IBudgetLedger>();
    private IUsageRollups Rollups => Services.GetRequiredService<IUsageRollups>();
    private IInviteStore Invites => Services.GetRequiredService<IInviteStore>();

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

    [TestMethod]
    public async Task Workspaces_ListMembers_NamesEachWorkspacesOwnMembersOnly()
    {
        var (ada, bob) = (Ids.New("usr"), Ids.New("usr"));
        var adas = NewWorkspace(ada, "Ada's");
        var bobs = NewWorkspace(bob, "Bob's");
        await Workspaces.CreateAsync(adas, Owner(adas, ada));
        await Workspaces.CreateAsync(bobs, Owner(bobs, bob));

        var members = await Workspaces.ListMembersAsync(adas.Id);

        AssertSameJson(Owner(adas, ada), members.Single());
        Assert.AreEqual(bob, (await Workspaces.ListMembersAsync(bobs.Id)).Single().UserId);
        Assert.AreEqual(0, (await Workspaces.ListMembersAsync(Ids.New("ws"))).Count);
        Assert.AreEqual(0, (await Workspaces.ListMembersAsync("not/a plain id")).Count);
    }

    [TestMethod]
    public async Task Memberships_AddChangeAndRemove_ShowInTheWorkspaceAndInTheUsersList()
    {
        var (owner, joiner) = (Ids.New("usr"), Ids.New("usr"));
        var workspace = NewWorkspace(owner, "Team");
        var other = NewWorkspace(joiner, "Joiner's own");
        await Workspaces.CreateAsync(workspace, Owner(workspace, owner));
        await Workspaces.CreateAsync(other, Owner(other, joiner));

        var member = new MembershipRecord { WorkspaceId = workspace.Id, UserId = joiner, Role = WorkspaceRoles.Member, JoinedAt = T0.AddDays(1) };
        await Workspaces.SaveMembershipAsync(member);
        AssertSameJson(member, await Workspaces.GetMembershipAsync(workspace.Id, joiner));
        Assert.AreEqual(WorkspaceRoles.Member, (await Workspaces.ListMembershipsOfUserAsync(joiner)).Single(m => m.WorkspaceId == workspace.Id).Role);
        Assert.AreEqual(2, (await Workspaces.ListMembersAsync(workspace.Id)).Count);

        await Workspaces.SaveMembershipAsync(member with { Role = WorkspaceRoles.Admin });
        Assert.AreEqual(WorkspaceRoles.Admin, (await Workspaces.GetMembershipAsync(workspace.Id, joiner))!.Role);
        Assert.AreEqual(WorkspaceRoles.Admin, (await Workspaces.ListMembershipsOfUserAsync(joiner)).Single(m => m.WorkspaceId == workspace.Id).Role,
            "the user's own list follows a role change");

        Assert.IsTrue(await Workspaces.RemoveMembershipAsync(workspace.Id, joiner));
        Assert.IsNull(await Workspaces.GetMembershipAsync(workspace.Id, joiner));
        CollectionAssert.AreEqual(new[] { other.Id }, (await Workspaces.ListMembershipsOfUserAsync(joiner)).Select(m => m.WorkspaceId).ToArray(),
            "only the workspace left is gone from the user's list");
        Assert.AreEqual(owner, (await Workspaces.ListMembersAsync(workspace.Id)).Single().UserId);
        Assert.IsFalse(await Workspaces.RemoveMembershipAsync(workspace.Id, joiner), "removing twice finds nobody");
        Assert.IsFalse(await Workspaces.RemoveMembershipAsync("not/a plain id", joiner));
    }

    // ---- Invites --------------------------------------------------------------------------------------------

    [TestMethod]
    public async Task Invites_OnePendingPerEmail_FoundByTokenHash_ListedInTheirWorkspaceOnly()
    {
        var (ws, other) = (Ids.New("ws"), Ids.New("ws"));
        var invite = NewInvite(ws, "o'neil+x/y@example.com");
        Assert.IsTrue(await Invites.TryCreateAsync(invite));
        Assert.IsFalse(await Invites.TryCreateAsync(NewInvite(ws, invite.Email)), "a second pending invite for the email is refused");
        Assert.IsTrue(await Invites.TryCreateAsync(NewInvite(other, invite.Email)), "another workspace may invite the same person");
        Assert.IsTrue(await Invites.TryCreateAsync(NewInvite(ws, "someone-else@example.com")));

        AssertSameJson(invite, await Invites.GetAsync(ws, invite.Id));
        AssertSameJson(invite, await Invites.FindByTokenHashAsync(invite.TokenHash));
        Assert.IsNull(await Invites.FindByTokenHashAsync(KeyHash()));
        Assert.IsNull(await Invites.GetAsync(other, invite.Id), "an invite is read in its own workspace only");
        Assert.AreEqual(2, (await Invites.ListPendingAsync(ws)).Count);
        Assert.AreEqual(1, (await Invites.ListPendingAsync(other)).Count);
        Assert.AreEqual(0, (await Invites.ListPendingAsync("not/a plain id")).Count);
    }

    [TestMethod]
    public async Task Invites_ChangesAreGuardedByRevision_ANewTokenReplacesTheOld_AndAnAnsweredInviteFreesTheEmail()
    {
        var ws = Ids.New("ws");
        var invite = NewInvite(ws, $"guest-{Guid.NewGuid():N}@example.com");
        Assert.IsTrue(await Invites.TryCreateAsync(invite));

        var resent = invite with { TokenHash = KeyHash(), ExpiresAt = invite.ExpiresAt.AddDays(3), Revision = 1 };
        Assert.IsTrue(await Invites.TryUpdateAsync(resent, invite.TokenHash));
        Assert.IsNull(await Invites.FindByTokenHashAsync(invite.TokenHash), "the old link stops working");
        AssertSameJson(resent, await Invites.FindByTokenHashAsync(resent.TokenHash));

        var staleAccept = invite with { Status = InviteStatus.Accepted, Revision = 1 };
        Assert.IsFalse(await Invites.TryUpdateAsync(staleAccept), "a change read before the resend loses");
        var accepts = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Invites.TryUpdateAsync(resent with { Status = InviteStatus.Accepted, Revision = 2 })));
        Assert.AreEqual(1, accepts.Count(a => a), "an invite is used once, however many accept at the same time");
        Assert.AreEqual(InviteStatus.Accepted, (await Invites.GetAsync(ws, invite.Id))!.Status);
        Assert.AreEqual(0, (await Invites.ListPendingAsync(ws)).Count, "an answered invite is not pending");

        Assert.IsTrue(await Invites.TryCreateAsync(NewInvite(ws, invite.Email)), "once answered, the email can be invited again");
        Assert.IsFalse(await Invites.TryUpdateAsync(NewInvite(ws, "nobody@example.com") with { Revision = 1 }), "an unknown invite is not created by an update");
    }

    [TestMethod]
    public async Task Invites_ConcurrentInvitesOfOneEmail_CreateExactlyOne()
    {
        var ws = Ids.New("ws");
        var email = $"race-{Guid.NewGuid():N}@example.com";
        var created = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => Invites.TryCreateAsync(NewInvite(ws, email))));
        Assert.AreEqual(1, created.Count(c => c));
        Assert.AreEqual(1, (await Invites.ListPendingAsync(ws)).Count(i => i.Status == InviteStatus.Pending));
    }

    [TestMethod]
    public async Task Workspaces_ListAll_YieldsEveryLiveWorkspaceOnceAcrossPages_AndSkipsSoftDeleted()
    {
        // More than one page (100) of new workspaces, each under its own owner; other tests' workspaces may be listed too.
        var created = Enumerable.Range(0, 130).Select(i => NewWorkspace(Ids.New("usr"), $"All {i}")).ToList();
        await Task.WhenAll(created.Select(w => Workspaces.CreateAsync(w, Owner(w, w.OwnerUserId))));
        var deleted = created[7] with { DeletedAt = T0.AddDays(1), UpdatedAt = T0.AddDays(1) };
        await Workspaces.UpdateAsync(deleted);

        var listed = new List<WorkspaceRecord>();
        await foreach (var workspace in Workspaces.ListAllAsync())
        {
            listed.Add(workspace);
        }

        var ids = listed.Select(w => w.Id).ToList();
        Assert.AreEqual(ids.Count, ids.Distinct(StringComparer.Ordinal).Count(), "no workspace is listed twice");
        Assert.IsTrue(listed.All(w => w.DeletedAt is null), "soft-deleted workspaces are skipped");
        CollectionAssert.DoesNotContain(ids, deleted.Id);
        foreach (var workspace in created.Where(w => w.Id != deleted.Id))
        {
            AssertSameJson(workspace, listed.SingleOrDefault(w => w.Id == workspace.Id));
        }
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

    // ---- Idempotency ----------------------------------------------------------------------------------------

    [TestMethod]
    public async Task Idempotency_FirstCreateHolds_TwinSeesTheHold_CompleteIsReplayed_DeleteFreesTheKey()
    {
        var (ws, projectId, key) = (Ids.New("ws"), Ids.New("prj"), "order-" + Guid.NewGuid().ToString("N"));
        var hold = NewIdempotency(projectId, key, "hash-1", TimeSpan.FromMinutes(5));

        Assert.IsNull(await Idempotency.TryCreateAsync(ws, hold), "the first caller holds the key");
        var twin = await Idempotency.TryCreateAsync(ws, hold with { RequestHash = "hash-2" });
        Assert.IsNotNull(twin, "a twin sees the hold");
        Assert.AreEqual("hash-1", twin.RequestHash);
        Assert.IsNull(twin.Outcome);

        var outcome = new StoredOutcome(200, """{"id":"chatcmpl-1","choices":[]}""", """{"costUsd":0.000435}""");
        await Idempotency.CompleteAsync(ws, hold with { Outcome = outcome, ExpiresAt = DateTimeOffset.UtcNow.AddHours(24) });
        var replay = await Idempotency.TryCreateAsync(ws, hold);
        Assert.IsNotNull(replay);
        Assert.AreEqual(outcome, replay.Outcome, "the stored answer is replayed as it was stored");

        await Idempotency.DeleteAsync(ws, projectId, key);
        Assert.IsNull(await Idempotency.TryCreateAsync(ws, hold with { RequestHash = "hash-3" }), "a deleted key is free again");
        Assert.AreEqual("hash-3", (await Idempotency.TryCreateAsync(ws, hold))?.RequestHash);

        await Idempotency.DeleteAsync(ws, projectId, key);
        await Idempotency.DeleteAsync(ws, projectId, key);
        await Idempotency.DeleteAsync(ws, Ids.New("prj"), "never-used");
    }

    [TestMethod]
    public async Task Idempotency_AnExpiredRecordIsTakenOver()
    {
        var (ws, projectId, key) = (Ids.New("ws"), Ids.New("prj"), "abandoned");
        Assert.IsNull(await Idempotency.TryCreateAsync(ws, NewIdempotency(projectId, key, "crashed", TimeSpan.FromSeconds(-1))));

        // The store's own TTL sweep is lazy: the record's expiresAt decides.
        Assert.IsNull(await Idempotency.TryCreateAsync(ws, NewIdempotency(projectId, key, "fresh", TimeSpan.FromMinutes(5))), "an expired hold is taken over");
        Assert.AreEqual("fresh", (await Idempotency.TryCreateAsync(ws, NewIdempotency(projectId, key, "late", TimeSpan.FromMinutes(5))))?.RequestHash);

        // Many takers of one expired record: exactly one wins, the rest see the winner's record.
        var contested = "contested";
        Assert.IsNull(await Idempotency.TryCreateAsync(ws, NewIdempotency(projectId, contested, "crashed", TimeSpan.FromSeconds(-1))));
        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
            Idempotency.TryCreateAsync(ws, NewIdempotency(projectId, contested, "taker-" + i, TimeSpan.FromMinutes(5)))));
        Assert.AreEqual(1, results.Count(r => r is null), "exactly one taker holds the key");
        var winner = (await Idempotency.TryCreateAsync(ws, NewIdempotency(projectId, contested, "after", TimeSpan.FromMinutes(5))))!.RequestHash;
        Assert.IsTrue(results.Where(r => r is not null).All(r => r!.RequestHash == winner), "the losers saw the winner's record");
    }

    [TestMethod]
    public async Task Idempotency_ConcurrentCreates_ExactlyOneHolds_AndKeysAreScopedToProjectAndWorkspace()
    {
        var (ws, projectId) = (Ids.New("ws"), Ids.New("prj"));
        var results = await Task.WhenAll(Enumerable.Range(0, 30).Select(i =>
            Idempotency.TryCreateAsync(ws, NewIdempotency(projectId, "same-key", "hash-" + i, TimeSpan.FromMinutes(5)))));
        Assert.AreEqual(1, results.Count(r => r is null));
        Assert.AreEqual(1, results.Where(r => r is not null).Select(r => r!.RequestHash).Distinct().Count());

        Assert.IsNull(await Idempotency.TryCreateAsync(ws, NewIdempotency(Ids.New("prj"), "same-key", "other project", TimeSpan.FromMinutes(5))));
        Assert.IsNull(await Idempotency.TryCreateAsync(Ids.New("ws"), NewIdempotency(projectId, "same-key", "other workspace", TimeSpan.FromMinutes(5))));
        Assert.IsNull(await Idempotency.TryCreateAsync(ws, NewIdempotency(projectId, "keys/with?odd#chars\\ and spaces", "odd", TimeSpan.FromMinutes(5))));
        Assert.AreEqual("odd", (await Idempotency.TryCreateAsync(ws, NewIdempotency(projectId, "keys/with?odd#chars\\ and spaces", "x", TimeSpan.FromMinutes(5))))?.RequestHash);
    }

    // ---- Exact cache ---------------------------------------------------------------------------------------

    [TestMethod]
    public async Task Cache_SetThenGet_RoundTrips_UntilItExpires()
    {
        var (ws, key) = (Ids.New("ws"), CacheKey());
        var now = DateTimeOffset.UtcNow;
        var response = new CachedResponse("""{"id":"chatcmpl-1","choices":[{"message":{"content":"hi"}}]}""", 1000, 500, 200, 0.000435m);

        Assert.IsNull(await Cache.GetAsync(ws, key, now));
        await Cache.SetAsync(ws, key, response, now.AddHours(1));

        Assert.AreEqual(response, await Cache.GetAsync(ws, key, now));
        Assert.AreEqual(response, await Cache.GetAsync(ws, key, now.AddMinutes(59)));
        Assert.IsNull(await Cache.GetAsync(ws, key, now.AddHours(1)), "expired at its expiry, whatever the store's sweep did");
        Assert.IsNull(await Cache.GetAsync(ws, CacheKey(), now));

        var newer = response with { ResponseJson = """{"id":"chatcmpl-2"}""", AvoidedCostUsd = null };
        await Cache.SetAsync(ws, key, newer, now.AddHours(2));
        Assert.AreEqual(newer, await Cache.GetAsync(ws, key, now.AddHours(1)), "a write replaces the entry and its expiry");
    }

    [TestMethod]
    public async Task Cache_EntriesNeverCrossWorkspaces()
    {
        var (a, b, key) = (Ids.New("ws"), Ids.New("ws"), CacheKey());
        var now = DateTimeOffset.UtcNow;
        await Cache.SetAsync(a, key, new CachedResponse("""{"owner":"a"}""", 1, 1, 0, 0.01m), now.AddHours(1));

        Assert.IsNull(await Cache.GetAsync(b, key, now));
        await Cache.SetAsync(b, key, new CachedResponse("""{"owner":"b"}""", 2, 2, 0, 0.02m), now.AddHours(1));
        Assert.AreEqual("""{"owner":"a"}""", (await Cache.GetAsync(a, key, now))?.ResponseJson);
        Assert.AreEqual("""{"owner":"b"}""", (await Cache.GetAsync(b, key, now))?.ResponseJson);
    }

    // ---- Budget ledger ---------------------------------------------------------------------------------------

    [TestMethod]
    public async Task Ledger_ReservesWithinTheDailyLimit_RefusesPastIt_AndSettles()
    {
        var (ws, projectId) = (Ids.New("ws"), Ids.New("prj"));
        var periods = BudgetPeriods.At(T0);
        Assert.AreEqual(BudgetUsage.Zero, await Ledger.GetAsync(ws, projectId, periods));

        var (first, afterFirst) = await Ledger.TryReserveAsync(ws, projectId, periods, 0.40m, 1.00m, null);
        Assert.IsTrue(first);
        Assert.AreEqual(new BudgetUsage(0m, 0.40m, 0m, 0.40m), afterFirst);
        Assert.IsTrue((await Ledger.TryReserveAsync(ws, projectId, periods, 0.40m, 1.00m, null)).Reserved);

        var (third, seen) = await Ledger.TryReserveAsync(ws, projectId, periods, 0.40m, 1.00m, null);
        Assert.IsFalse(third, "0.40 + 0.40 + 0.40 passes 1.00");
        Assert.AreEqual(new BudgetUsage(0m, 0.80m, 0m, 0.80m), seen, "a refusal reports the usage and changes nothing");

        await Ledger.SettleAsync(ws, projectId, periods, 0.40m, 0.10m);
        Assert.AreEqual(new BudgetUsage(0.10m, 0.40m, 0.10m, 0.40m), await Ledger.GetAsync(ws, projectId, periods));

        Assert.IsTrue((await Ledger.TryReserveAsync(ws, projectId, periods, 0.50m, 1.00m, null)).Reserved, "0.10 + 0.40 + 0.50 is exactly the limit");
        Assert.IsFalse((await Ledger.TryReserveAsync(ws, projectId, periods, 0.000000001m, 1.00m, null)).Reserved, "a nano-dollar past it is refused");

        await Ledger.SettleAsync(ws, projectId, periods, 0.40m, 0.40m);
        await Ledger.SettleAsync(ws, projectId, periods, 0.50m, 0.123456789m);
        Assert.AreEqual(new BudgetUsage(0.623456789m, 0m, 0.623456789m, 0m), await Ledger.GetAsync(ws, projectId, periods), "settle math is exact");
        Assert.AreEqual(BudgetUsage.Zero, await Ledger.GetAsync(Ids.New("ws"), projectId, periods), "counters belong to the workspace");
    }

    [TestMethod]
    public async Task Ledger_TheMonthlyLimitSpansTheDays_AndEachDayStartsAtZero()
    {
        var (ws, projectId) = (Ids.New("ws"), Ids.New("prj"));
        var (day1, day2) = (BudgetPeriods.At(new DateTimeOffset(2025, 2, 27, 12, 0, 0, TimeSpan.Zero)), BudgetPeriods.At(new DateTimeOffset(2025, 2, 28, 23, 59, 0, TimeSpan.Zero)));

        Assert.IsTrue((await Ledger.TryReserveAsync(ws, projectId, day1, 0.60m, 0.60m, 1.00m)).Reserved);
        await Ledger.SettleAsync(ws, projectId, day1, 0.60m, 0.60m);

        var (refused, seen) = await Ledger.TryReserveAsync(ws, projectId, day2, 0.50m, 0.60m, 1.00m);
        Assert.IsFalse(refused, "the day has room, the month does not");
        Assert.AreEqual(new BudgetUsage(0m, 0m, 0.60m, 0m), seen);
        Assert.IsTrue((await Ledger.TryReserveAsync(ws, projectId, day2, 0.40m, 0.60m, 1.00m)).Reserved);
        Assert.IsTrue((await Ledger.TryReserveAsync(ws, projectId, day2, 0.30m, 5.00m, null)).Reserved, "without a monthly limit only the day counts");

        Assert.AreEqual(new BudgetUsage(0m, 0.70m, 0.60m, 0.70m), await Ledger.GetAsync(ws, projectId, day2));
        Assert.AreEqual(new BudgetUsage(0.60m, 0m, 0.60m, 0.70m), await Ledger.GetAsync(ws, projectId, day1));

        var march = BudgetPeriods.At(new DateTimeOffset(2025, 3, 1, 0, 0, 0, TimeSpan.Zero));
        Assert.AreEqual(BudgetUsage.Zero, await Ledger.GetAsync(ws, projectId, march), "a new month starts at zero");
        Assert.IsTrue((await Ledger.TryReserveAsync(ws, projectId, march, 1.00m, 1.00m, 1.00m)).Reserved);
        Assert.IsFalse((await Ledger.TryReserveAsync(ws, projectId, march, 2.00m, null, 1.50m)).Reserved, "over the monthly limit on an empty month");
        Assert.IsFalse((await Ledger.TryReserveAsync(ws, Ids.New("prj"), march, 2.00m, null, 1.50m)).Reserved, "even on the month's first reservation");
    }

    [TestMethod]
    public async Task Ledger_NoLimitAlwaysReserves_AndANothingToHoldReservationWritesNothing()
    {
        var (ws, projectId) = (Ids.New("ws"), Ids.New("prj"));
        var periods = BudgetPeriods.At(T0);
        Assert.IsTrue((await Ledger.TryReserveAsync(ws, projectId, periods, 1_000m, null, null)).Reserved);
        await Ledger.SettleAsync(ws, projectId, periods, 1_000m, 2.5m);

        var (zero, usage) = await Ledger.TryReserveAsync(ws, projectId, periods, 0m, 2.5m, null);
        Assert.IsTrue(zero, "spend at the limit still fits nothing more");
        Assert.AreEqual(new BudgetUsage(2.5m, 0m, 2.5m, 0m), usage);
        Assert.IsFalse((await Ledger.TryReserveAsync(ws, projectId, periods, 0m, 2.0m, null)).Reserved);

        // Spend settled with no reservation (an unpriced call) still counts.
        var other = Ids.New("prj");
        await Ledger.SettleAsync(ws, other, periods, 0m, 0.25m);
        Assert.AreEqual(new BudgetUsage(0.25m, 0m, 0.25m, 0m), await Ledger.GetAsync(ws, other, periods));
    }

    [TestMethod]
    public async Task Ledger_AHundredConcurrentReservations_NeverPassADailyOrMonthlyLimit()
    {
        var ws = Ids.New("ws");
        var periods = BudgetPeriods.At(T0);
        var (daily, monthly) = (Ids.New("prj"), Ids.New("prj"));

        var dailyResults = await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => Ledger.TryReserveAsync(ws, daily, periods, 0.02m, 1.00m, null)));
        var monthlyResults = await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => Ledger.TryReserveAsync(ws, monthly, periods, 0.02m, null, 0.50m)));

        Assert.AreEqual(50, dailyResults.Count(r => r.Reserved), "exactly as many as fit $1.00");
        Assert.AreEqual(new BudgetUsage(0m, 1.00m, 0m, 1.00m), await Ledger.GetAsync(ws, daily, periods));
        Assert.AreEqual(25, monthlyResults.Count(r => r.Reserved), "exactly as many as fit $0.50");
        Assert.AreEqual(new BudgetUsage(0m, 0.50m, 0m, 0.50m), await Ledger.GetAsync(ws, monthly, periods));
        Assert.IsTrue(dailyResults.Where(r => !r.Reserved).All(r => r.Usage.DayReserved + 0.02m > 1.00m));

        await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => Ledger.SettleAsync(ws, daily, periods, 0.02m, 0.01m)));
        Assert.AreEqual(new BudgetUsage(0.50m, 0m, 0.50m, 0m), await Ledger.GetAsync(ws, daily, periods));
    }

    [TestMethod]
    public async Task Ledger_AnAlertIsClaimedOnce_AndAPeriodClosesOnce()
    {
        var (ws, projectId) = (Ids.New("ws"), Ids.New("prj"));
        var claims = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Ledger.TryClaimAlertAsync(ws, projectId, "day:2025-03-14", 80)));
        Assert.AreEqual(1, claims.Count(c => c), "one email per threshold and period");
        Assert.IsFalse(await Ledger.TryClaimAlertAsync(ws, projectId, "day:2025-03-14", 80));
        Assert.IsTrue(await Ledger.TryClaimAlertAsync(ws, projectId, "day:2025-03-14", 100));
        Assert.IsTrue(await Ledger.TryClaimAlertAsync(ws, projectId, "day:2025-03-15", 80));
        Assert.IsTrue(await Ledger.TryClaimAlertAsync(ws, projectId, "month:2025-03", 80));
        Assert.IsTrue(await Ledger.TryClaimAlertAsync(ws, Ids.New("prj"), "day:2025-03-14", 80));

        var period = "day:" + Guid.NewGuid().ToString("N");
        var closes = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => Ledger.TryMarkClosedAsync(period)));
        Assert.AreEqual(1, closes.Count(c => c));
        Assert.IsFalse(await Ledger.TryMarkClosedAsync(period));
        Assert.IsTrue(await Ledger.TryMarkClosedAsync("month:" + Guid.NewGuid().ToString("N")));
    }

    [TestMethod]
    public async Task Ledger_AGivenBackAlertOrMark_IsTakenAgainOnce_AndAMarkCanBeReadWithoutTakingIt()
    {
        var (ws, projectId) = (Ids.New("ws"), Ids.New("prj"));
        Assert.IsTrue(await Ledger.TryClaimAlertAsync(ws, projectId, "month:2025-03", 80));
        await Ledger.ReleaseAlertAsync(ws, projectId, "month:2025-03", 80);
        await Ledger.ReleaseAlertAsync(ws, projectId, "month:2025-03", 100); // never claimed: nothing to give back, no error
        var again = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => Ledger.TryClaimAlertAsync(ws, projectId, "month:2025-03", 80)));
        Assert.AreEqual(1, again.Count(c => c), "a released alert is claimed once more, by one caller");

        var mark = "digest:2025-03:" + Guid.NewGuid().ToString("N");
        Assert.IsFalse(await Ledger.IsMarkedAsync(mark));
        Assert.IsTrue(await Ledger.TryMarkClosedAsync(mark));
        Assert.IsTrue(await Ledger.IsMarkedAsync(mark));
        Assert.IsTrue(await Ledger.IsMarkedAsync(mark), "reading a mark does not take or change it");
        await Ledger.ReleaseMarkAsync(mark);
        Assert.IsFalse(await Ledger.IsMarkedAsync(mark));
        var retaken = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => Ledger.TryMarkClosedAsync(mark)));
        Assert.AreEqual(1, retaken.Count(c => c));
    }

    // ---- Usage rollups -----------------------------------------------------------------------------------------

    [TestMethod]
    public async Task Rollups_CountEveryAppendedTrace_ByDayRangeAndDimension()
    {
        var ws = Ids.New("ws");
        var one = NewTrace(ws, T0.AddDays(-1), feature: "alpha");
        var two = NewTrace(ws, T0.AddDays(-1), feature: "alpha") with { Status = 502, ErrorCode = "provider_error", InputTokens = 10, OutputTokens = 0, CostUsd = 0.1m, LatencyMs = 0.25, WasFallback = true };
        var three = NewTrace(ws, T0, feature: "beta") with { Status = 429, ErrorCode = "budget_exceeded", InputTokens = 0, OutputTokens = 0, CostUsd = null, Provider = null, FinalModel = null };
        var four = NewTrace(ws, T0.AddDays(2), feature: "alpha");
        foreach (var trace in new[] { one, two, three, four })
        {
            await Traces.AppendAsync(trace);
        }

        var day = await Rollups.QueryAsync(ws, "2025-03-13", "2025-03-13", null);
        var both = UsageDeltaMath.Sum([UsageDelta.From(one), UsageDelta.From(two)]);
        var cell = day.Single();
        Assert.AreEqual(RollupDimensions.Cell, cell.Dimension);
        Assert.AreEqual(new RollupCell(null, "openai", "gpt-4o-mini", "alpha"), RollupCell.Parse(cell.Key), "the cell key round-trips");
        Assert.IsTrue(cell.Day == "2025-03-13" && cell.Totals == both, string.Join("\n", day));
        Assert.AreEqual(1, both.Errors);
        Assert.AreEqual(1, both.Fallbacks);

        var cells = await Rollups.QueryAsync(ws, "2025-03-13", "2025-03-15", RollupDimensions.Cell);
        CollectionAssert.AreEquivalent(new[] { "2025-03-13/alpha", "2025-03-14/beta" }, cells.Select(r => r.Day + "/" + RollupCell.Parse(r.Key).Feature).ToArray());
        var blocked = cells.Single(r => r.Day == "2025-03-14");
        Assert.AreEqual(UsageDelta.From(three), blocked.Totals);
        Assert.AreEqual(new RollupCell(null, null, null, "beta"), RollupCell.Parse(blocked.Key), "a call refused before any provider has no provider or model");
        Assert.AreEqual(1, blocked.Totals.Blocked);

        var month = await Rollups.QueryAsync(ws, "2025-03-01", "2025-03-31", RollupDimensions.Cell);
        CollectionAssert.AreEquivalent(new[] { "2025-03-13", "2025-03-14", "2025-03-16" }, month.Select(r => r.Day).ToArray());
        Assert.AreEqual(0, (await Rollups.QueryAsync(ws, "2025-03-17", "2025-03-31", null)).Count);
        Assert.AreEqual(0, (await Rollups.QueryAsync(Ids.New("ws"), "2025-03-01", "2025-03-31", null)).Count, "rollups belong to the workspace");
    }

    [TestMethod]
    public async Task Rollups_CellsOfAnyName_RoundTrip_AndKeepTheNewestCallsTime()
    {
        var ws = Ids.New("ws");
        const string feature = "q3, \"launch\"\nline two / #?\\ ünïcødé =SUM(A1)";
        var fallback = NewTrace(ws, T0, feature: feature, projectId: "prj_odd") with { FinalProvider = "anthropic", FinalModel = "claude/3.5 \"haiku\"" };
        var later = fallback with { Id = Ids.New("req"), CreatedAt = T0.AddMinutes(5) };
        await Traces.AppendAsync(later);
        await Traces.AppendAsync(fallback);

        var row = (await Rollups.QueryAsync(ws, "2025-03-14", "2025-03-14", RollupDimensions.Cell)).Single();
        Assert.AreEqual(new RollupCell("prj_odd", "anthropic", "claude/3.5 \"haiku\"", feature), RollupCell.Parse(row.Key),
            "the serving provider and model after a fallback, and any character in a name");
        Assert.AreEqual(2, row.Totals.Requests);
        Assert.AreEqual(T0.AddMinutes(5), row.Totals.LastAt, "the newest call's time, whatever the order they were written in");
    }

    [TestMethod]
    public async Task Rollups_ReadAgain_CountCallsWrittenSinceTheLastRead_OnAnyDay()
    {
        var ws = Ids.New("ws");
        await Traces.AppendAsync(NewTrace(ws, T0.AddDays(-2)));
        await Traces.AppendAsync(NewTrace(ws, T0));
        Assert.AreEqual(2, (await Rollups.QueryAsync(ws, "2025-03-10", "2025-03-14", RollupDimensions.Cell)).Sum(r => r.Totals.Requests));

        // A late call of an earlier day, one of a day that had none, and one of the last day: all three count on the next read.
        await Traces.AppendAsync(NewTrace(ws, T0.AddDays(-2).AddHours(1)));
        await Traces.AppendAsync(NewTrace(ws, T0.AddDays(-3)));
        await Traces.AppendAsync(NewTrace(ws, T0.AddHours(1)));
        var rows = await Rollups.QueryAsync(ws, "2025-03-10", "2025-03-14", RollupDimensions.Cell);
        CollectionAssert.AreEquivalent(new[] { "2025-03-11:1", "2025-03-12:2", "2025-03-14:2" }, rows.Select(r => r.Day + ":" + r.Totals.Requests).ToArray());
        Assert.AreEqual(2, (await Rollups.QueryAsync(ws, "2025-03-12", "2025-03-12", RollupDimensions.Cell)).Single().Totals.Requests, "a narrower read agrees");
    }

    [TestMethod]
    public async Task Traces_FilterByServingProvider_AndByAPartOfTheModelName()
    {
        var ws = Ids.New("ws");
        var direct = NewTrace(ws, T0, model: "gpt-4o-mini") with { FinalProvider = "openai" };
        var fellBack = NewTrace(ws, T0.AddSeconds(1), model: "gpt-4o") with { FinalProvider = "anthropic", FinalModel = "claude-3-5-haiku" };
        var other = NewTrace(ws, T0.AddSeconds(2), model: "gpt-4.1") with { FinalProvider = "openai" };
        foreach (var trace in new[] { direct, fellBack, other })
        {
            await Traces.AppendAsync(trace);
        }

        async Task<string[]> Found(TraceQuery query) => [.. (await Traces.QueryAsync(ws, query)).Items.Select(t => t.Id)];
        CollectionAssert.AreEqual(new[] { fellBack.Id }, await Found(new TraceQuery { FinalProvider = "anthropic" }));
        CollectionAssert.AreEqual(new[] { other.Id, direct.Id }, await Found(new TraceQuery { FinalProvider = "openai" }));
        CollectionAssert.AreEqual(new[] { direct.Id }, await Found(new TraceQuery { ModelContains = "MINI" }), "case-insensitive part of the model that answered");
        CollectionAssert.AreEqual(new[] { fellBack.Id }, await Found(new TraceQuery { ModelContains = "haiku" }));
        Assert.AreEqual(0, (await Found(new TraceQuery { ModelContains = "%" })).Length, "no wildcard");
    }

    [TestMethod]
    public async Task Rollups_ConcurrentTracesWithEveryField_AreCountedExactlyOnce()
    {
        var ws = Ids.New("ws");
        // Every field non-zero (more than one patch can carry on Cosmos DB), with money that floats would not add exactly.
        RequestTrace Trace() => NewTrace(ws, T0, projectId: "prj_x") with
        {
            Status = 502, ErrorCode = "provider_error", InputTokens = 1234, OutputTokens = 567, CachedInputTokens = 89, WasteTokens = 10, SavedTokens = 7,
            CostUsd = 0.1m, WasteUsd = 0.2m, PotentialSavedUsd = 0.000000001m, SavedUsd = 0.123456789m, WasFallback = true, LatencyMs = 0.5,
        };

        await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => Traces.AppendAsync(Trace())));

        var expected = UsageDeltaMath.Sum(Enumerable.Repeat(UsageDelta.From(Trace()), 50));
        var rows = await Rollups.QueryAsync(ws, "2025-03-14", "2025-03-14", null);
        Assert.AreEqual(1, rows.Count, string.Join("\n", rows));
        foreach (var row in rows)
        {
            Assert.AreEqual(expected, row.Totals, row.Dimension);
        }

        Assert.AreEqual(5m, rows[0].Totals.CostUsd);
        Assert.AreEqual(0.00000005m, rows[0].Totals.PotentialSavingsUsd);
        Assert.AreEqual(6.17283945m, rows[0].Totals.VerifiedSavingsUsd);
        Assert.AreEqual(50, rows[0].Totals.Errors);
    }

    [TestMethod]
    public async Task Traces_WithASettlement_SettleTheBudgetInTheSameWrite()
    {
        var (ws, projectId) = (Ids.New("ws"), Ids.New("prj"));
        var periods = BudgetPeriods.At(T0);
        Assert.IsTrue((await Ledger.TryReserveAsync(ws, projectId, periods, 0.05m, 1m, null)).Reserved);

        await Traces.AppendAsync(NewTrace(ws, T0, projectId: projectId), new BudgetSettlement(projectId, periods, 0.05m, 0.000435m));

        Assert.AreEqual(new BudgetUsage(0.000435m, 0m, 0.000435m, 0m), await Ledger.GetAsync(ws, projectId, periods));
        Assert.AreEqual(1, (await Traces.QueryAsync(ws, new TraceQuery())).Items.Count);
    }

    // ---- Health ---------------------------------------------------------------------------------------------

    [TestMethod]
    public async Task Health_TheStoreProbeIsReady()
    {
        var store = await RegisteredHealthChecks.RunAsync(Services, "store");

        Assert.AreEqual(HealthStatus.Healthy, store.Status, store.Description);
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

    private static string CacheKey() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));

    private static IdempotencyRecord NewIdempotency(string projectId, string key, string requestHash, TimeSpan expiresIn) => new()
    {
        ProjectId = projectId,
        Key = key,
        RequestHash = requestHash,
        ExpiresAt = DateTimeOffset.UtcNow + expiresIn,
    };

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

    private static InviteRecord NewInvite(string workspaceId, string email) => new()
    {
        Id = Ids.New("inv"),
        WorkspaceId = workspaceId,
        Email = email,
        Role = WorkspaceRoles.Member,
        TokenHash = KeyHash(),
        Status = InviteStatus.Pending,
        ExpiresAt = T0.AddDays(7),
        InvitedByUserId = Ids.New("usr"),
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
        _services = new ServiceCollection().AddSingleton(TimeProvider.System).AddKillTokenSqliteStore(_directory).BuildServiceProvider();
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
        _services = new ServiceCollection().AddSingleton(TimeProvider.System).AddKillTokenCosmosStore(CosmosEmulator.Shared.StoreOptions(_database)).BuildServiceProvider();
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _services.GetRequiredService<CosmosStoreContext>().Client.GetDatabase(_database).DeleteStreamAsync();
        await _services.DisposeAsync();
    }
}
