using System.Text.Json.Nodes;
using KillToken.Tests.TestInfrastructure;

namespace KillToken.Tests.Team;

/// <summary>
/// The member rules a team meets: the last owner can neither leave nor be demoted (409 <c>last_owner</c>), ownership is
/// transferred by promoting someone else and then stepping down, an admin cannot touch an owner or grant owner, a
/// member cannot change roles, anyone else may leave, and setting the same role is a no-op.
/// </summary>
[TestClass]
public sealed class MemberEdgeCaseTests
{
    private static GatewayHost _host = null!;
    private static TeamGateway _gateway = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _host = await GatewayHost.StartAsync();
        _gateway = new TeamGateway(_host);
    }

    [ClassCleanup]
    public static async Task StopAsync() => await _host.DisposeAsync();

    private static Task<HttpResponseMessage> SetRoleAsync(Person caller, TeamWorkspace team, Person target, string role) =>
        caller.SendAsync(HttpMethod.Patch, $"api/workspaces/{team.Id}/members/{target.UserId}", new { role });

    private static Task<HttpResponseMessage> RemoveAsync(Person caller, TeamWorkspace team, Person target) =>
        caller.SendAsync(HttpMethod.Delete, $"api/workspaces/{team.Id}/members/{target.UserId}");

    [TestMethod]
    public async Task Members_ListsEveryone_OldestFirst_WithEmailNameRoleAndJoinDate()
    {
        var team = await TeamKit.CreateTeamAsync(_gateway);

        var list = await team.Member.GetAsync($"api/workspaces/{team.Id}/members");

        var data = list["data"]!.AsArray().Select(m => m!.AsObject()).ToList();
        CollectionAssert.AreEqual(new[] { team.Owner.UserId, team.Admin.UserId, team.Member.UserId }, data.Select(m => m["userId"]!.GetValue<string>()).ToArray(), "oldest first");
        CollectionAssert.AreEqual(new[] { "owner", "admin", "member" }, data.Select(m => m["role"]!.GetValue<string>()).ToArray());
        Assert.AreEqual(team.Admin.Email, data[1]["email"]!.GetValue<string>());
        Assert.AreEqual(team.Admin.Name, data[1]["name"]!.GetValue<string>());
        var joined = data.Select(m => DateTimeOffset.Parse(m["joinedAt"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture)).ToList();
        CollectionAssert.AreEqual(joined.OrderBy(j => j).ToList(), joined, "joinedAt ascending");
        Assert.IsTrue(joined.All(j => Math.Abs((DateTimeOffset.UtcNow - j).TotalMinutes) < 10), "joinedAt is when they joined");
    }

    [TestMethod]
    public async Task LastOwner_CannotLeave_NorBeDemoted_409LastOwner()
    {
        var team = await TeamKit.CreateTeamAsync(_gateway);

        await TeamKit.AssertErrorAsync(await RemoveAsync(team.Owner, team, team.Owner), 409, "last_owner", "the last owner leaves");
        await TeamKit.AssertErrorAsync(await SetRoleAsync(team.Owner, team, team.Owner, "admin"), 409, "last_owner", "the last owner demotes itself to admin");
        await TeamKit.AssertErrorAsync(await SetRoleAsync(team.Owner, team, team.Owner, "member"), 409, "last_owner", "the last owner demotes itself to member");

        Assert.AreEqual("owner", (await TeamKit.MembersAsync(team.Owner, team.Id))[team.Owner.UserId]);
        Assert.AreEqual("owner", (await team.Owner.WorkspacesAsync())[team.Id]);
    }

    [TestMethod]
    public async Task OwnershipTransfer_PromoteThenDemoteSelf_AndTheNewOwnerIsNowTheLastOwner()
    {
        var team = await TeamKit.CreateTeamAsync(_gateway);

        var promoted = await TeamKit.JsonAsync(await SetRoleAsync(team.Owner, team, team.Admin, "owner"), 200);
        Assert.AreEqual(team.Admin.UserId, promoted["userId"]!.GetValue<string>());
        Assert.AreEqual("owner", promoted["role"]!.GetValue<string>());
        Assert.AreEqual(team.Admin.Email, promoted["email"]!.GetValue<string>());
        Assert.IsNotNull(promoted["joinedAt"]);
        var members = await TeamKit.MembersAsync(team.Owner, team.Id);
        Assert.AreEqual(2, members.Values.Count(r => r == "owner"), "several owners allowed");

        var demoted = await TeamKit.JsonAsync(await SetRoleAsync(team.Owner, team, team.Owner, "member"), 200);
        Assert.AreEqual("member", demoted["role"]!.GetValue<string>());

        Assert.AreEqual("member", (await team.Owner.WorkspacesAsync())[team.Id]);
        Assert.AreEqual("owner", (await team.Admin.WorkspacesAsync())[team.Id]);
        await TeamKit.AssertErrorAsync(await team.Owner.SendAsync(HttpMethod.Patch, $"api/workspaces/{team.Id}", new { name = "not mine any more" }), 403, "forbidden");
        await TeamKit.AssertErrorAsync(await SetRoleAsync(team.Owner, team, team.Owner, "owner"), 403, "forbidden", "a member cannot promote itself back");
        await TeamKit.AssertErrorAsync(await RemoveAsync(team.Admin, team, team.Admin), 409, "last_owner", "the new owner is the last one");
        await team.Admin.JsonAsync(HttpMethod.Patch, $"api/workspaces/{team.Id}", new { name = team.Name + " (new owner)" }, 200);
    }

    [TestMethod]
    public async Task OwnershipTransfer_PromoteThenLeave()
    {
        var team = await TeamKit.CreateTeamAsync(_gateway);
        await TeamKit.JsonAsync(await SetRoleAsync(team.Owner, team, team.Member, "owner"), 200);

        await TeamKit.AssertStatusAsync(await RemoveAsync(team.Owner, team, team.Owner), 204);

        Assert.IsFalse((await team.Owner.WorkspacesAsync()).ContainsKey(team.Id));
        var members = await TeamKit.MembersAsync(team.Member, team.Id);
        Assert.IsFalse(members.ContainsKey(team.Owner.UserId));
        Assert.AreEqual("owner", members[team.Member.UserId]);
    }

    [TestMethod]
    public async Task SecondOwner_CanDemoteOrRemoveTheFirst()
    {
        var team = await TeamKit.CreateTeamAsync(_gateway);
        await TeamKit.JsonAsync(await SetRoleAsync(team.Owner, team, team.Admin, "owner"), 200);

        await TeamKit.JsonAsync(await SetRoleAsync(team.Admin, team, team.Owner, "admin"), 200);
        await TeamKit.AssertErrorAsync(await SetRoleAsync(team.Admin, team, team.Admin, "admin"), 409, "last_owner");
        await TeamKit.AssertStatusAsync(await RemoveAsync(team.Admin, team, team.Owner), 204);

        Assert.IsFalse((await TeamKit.MembersAsync(team.Admin, team.Id)).ContainsKey(team.Owner.UserId));
    }

    [TestMethod]
    public async Task Admin_CannotTouchAnOwner_NorGrantOwner_403()
    {
        var team = await TeamKit.CreateTeamAsync(_gateway);

        await TeamKit.AssertErrorAsync(await SetRoleAsync(team.Admin, team, team.Owner, "admin"), 403, "forbidden", "admin demotes the owner");
        await TeamKit.AssertErrorAsync(await SetRoleAsync(team.Admin, team, team.Owner, "member"), 403, "forbidden", "admin demotes the owner");
        await TeamKit.AssertErrorAsync(await RemoveAsync(team.Admin, team, team.Owner), 403, "forbidden", "admin removes the owner");
        await TeamKit.AssertErrorAsync(await SetRoleAsync(team.Admin, team, team.Member, "owner"), 403, "forbidden", "admin grants owner");
        await TeamKit.AssertErrorAsync(await SetRoleAsync(team.Admin, team, team.Admin, "owner"), 403, "forbidden", "admin makes itself owner");

        var members = await TeamKit.MembersAsync(team.Owner, team.Id);
        Assert.AreEqual("owner", members[team.Owner.UserId]);
        Assert.AreEqual("member", members[team.Member.UserId]);
        Assert.AreEqual("admin", members[team.Admin.UserId]);
    }

    [TestMethod]
    public async Task Admin_ManagesNonOwners_AndMayDemoteItself()
    {
        var team = await TeamKit.CreateTeamAsync(_gateway);
        var secondAdmin = await TeamKit.NewMemberAsync(team, "admin");

        var promoted = await TeamKit.JsonAsync(await SetRoleAsync(team.Admin, team, team.Member, "admin"), 200);
        Assert.AreEqual("admin", promoted["role"]!.GetValue<string>());
        await TeamKit.JsonAsync(await SetRoleAsync(team.Admin, team, team.Member, "member"), 200);
        await TeamKit.JsonAsync(await SetRoleAsync(team.Admin, team, secondAdmin, "member"), 200);
        await TeamKit.AssertStatusAsync(await RemoveAsync(team.Admin, team, secondAdmin), 204, "admin removes a member");
        var thirdAdmin = await TeamKit.NewMemberAsync(team, "admin");
        await TeamKit.AssertStatusAsync(await RemoveAsync(team.Admin, team, thirdAdmin), 204, "admin removes an admin");

        var self = await TeamKit.JsonAsync(await SetRoleAsync(team.Admin, team, team.Admin, "member"), 200);
        Assert.AreEqual("member", self["role"]!.GetValue<string>());
        await TeamKit.AssertErrorAsync(await SetRoleAsync(team.Admin, team, team.Member, "admin"), 403, "forbidden", "no longer an admin");

        var members = await TeamKit.MembersAsync(team.Owner, team.Id);
        Assert.IsFalse(members.ContainsKey(secondAdmin.UserId));
        Assert.IsFalse(members.ContainsKey(thirdAdmin.UserId));
        Assert.AreEqual("member", members[team.Admin.UserId]);
        Assert.AreEqual("member", members[team.Member.UserId]);
    }

    [TestMethod]
    public async Task Member_CannotChangeRoles_NorRemoveAnyone_403()
    {
        var team = await TeamKit.CreateTeamAsync(_gateway);
        var other = await TeamKit.NewMemberAsync(team, "member");

        await TeamKit.AssertErrorAsync(await SetRoleAsync(team.Member, team, other, "admin"), 403, "forbidden");
        await TeamKit.AssertErrorAsync(await SetRoleAsync(team.Member, team, team.Member, "admin"), 403, "forbidden", "promote itself");
        await TeamKit.AssertErrorAsync(await SetRoleAsync(team.Member, team, team.Admin, "member"), 403, "forbidden");
        await TeamKit.AssertErrorAsync(await RemoveAsync(team.Member, team, other), 403, "forbidden");
        await TeamKit.AssertErrorAsync(await RemoveAsync(team.Member, team, team.Admin), 403, "forbidden");
        await TeamKit.AssertErrorAsync(await RemoveAsync(team.Member, team, team.Owner), 403, "forbidden");

        var members = await TeamKit.MembersAsync(team.Owner, team.Id);
        Assert.AreEqual(4, members.Count);
        Assert.AreEqual("member", members[other.UserId]);
        Assert.AreEqual("member", members[team.Member.UserId]);
    }

    [TestMethod]
    public async Task MemberAndAdmin_CanLeave()
    {
        var team = await TeamKit.CreateTeamAsync(_gateway);

        await TeamKit.AssertStatusAsync(await RemoveAsync(team.Member, team, team.Member), 204, "member leaves");
        await TeamKit.AssertStatusAsync(await RemoveAsync(team.Admin, team, team.Admin), 204, "admin leaves");

        Assert.IsFalse((await team.Member.WorkspacesAsync()).ContainsKey(team.Id));
        Assert.IsFalse((await team.Admin.WorkspacesAsync()).ContainsKey(team.Id));
        CollectionAssert.AreEquivalent(new[] { team.Owner.UserId }, (await TeamKit.MembersAsync(team.Owner, team.Id)).Keys.ToArray());
    }

    [TestMethod]
    public async Task SameRole_Is200_AndChangesNothing()
    {
        var team = await TeamKit.CreateTeamAsync(_gateway);
        var before = await team.Owner.GetAsync($"api/workspaces/{team.Id}/members");

        var same = await TeamKit.JsonAsync(await SetRoleAsync(team.Owner, team, team.Member, "member"), 200);
        var sameAdmin = await TeamKit.JsonAsync(await SetRoleAsync(team.Admin, team, team.Admin, "admin"), 200);
        var sameOwner = await TeamKit.JsonAsync(await SetRoleAsync(team.Owner, team, team.Owner, "owner"), 200);

        Assert.AreEqual("member", same["role"]!.GetValue<string>());
        Assert.AreEqual("admin", sameAdmin["role"]!.GetValue<string>());
        Assert.AreEqual("owner", sameOwner["role"]!.GetValue<string>());
        Assert.IsTrue(JsonNode.DeepEquals(before, await team.Owner.GetAsync($"api/workspaces/{team.Id}/members")), "no change, joinedAt kept");
        var roleEvents = (await TeamKit.AuditAsync(team.Owner, team.Id)).Where(e => e["event"]?.GetValue<string>() == "member_role_changed").ToList();
        Assert.AreEqual(0, roleEvents.Count, "a no-op leaves no audit event: " + string.Join(",", roleEvents.Select(e => e.ToJsonString())));
    }

    [TestMethod]
    [DataRow("{\"role\":\"superuser\"}", DisplayName = "unknown role")]
    [DataRow("{\"role\":\"Admin\"}", DisplayName = "role in another case")]
    [DataRow("{\"role\":\"\"}", DisplayName = "empty role")]
    [DataRow("{\"role\":2}", DisplayName = "role is a number")]
    [DataRow("{}", DisplayName = "no role")]
    public async Task SetRole_WithABadRole_Is400(string body)
    {
        var team = await TeamKit.CreateTeamAsync(_gateway);

        await TeamKit.AssertErrorAsync(await team.Owner.SendAsync(HttpMethod.Patch, $"api/workspaces/{team.Id}/members/{team.Member.UserId}", body), 400, "validation_failed");

        Assert.AreEqual("member", (await TeamKit.MembersAsync(team.Owner, team.Id))[team.Member.UserId]);
    }

    [TestMethod]
    public async Task TargetNotAMember_Is404()
    {
        var team = await TeamKit.CreateTeamAsync(_gateway);

        await TeamKit.AssertErrorAsync(await SetRoleAsync(team.Owner, team, team.Outsider, "admin"), 404, "not_found", "an outsider's id");
        await TeamKit.AssertErrorAsync(await RemoveAsync(team.Owner, team, team.Outsider), 404, "not_found", "an outsider's id");
        await TeamKit.AssertErrorAsync(await team.Owner.SendAsync(HttpMethod.Patch, $"api/workspaces/{team.Id}/members/usr_doesnotexist000000", new { role = "admin" }), 404, "not_found");
        await TeamKit.AssertErrorAsync(await team.Owner.SendAsync(HttpMethod.Delete, $"api/workspaces/{team.Id}/members/usr_doesnotexist000000"), 404, "not_found");
        Assert.IsFalse((await team.Outsider.WorkspacesAsync()).ContainsKey(team.Id), "the outsider was not added");
    }
}
