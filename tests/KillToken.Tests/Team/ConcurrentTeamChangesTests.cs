using KillToken.Tests.TestInfrastructure;

namespace KillToken.Tests.Team;

/// <summary>
/// Membership changes racing each other (also across instances, since the lock lives in the store): a workspace never
/// ends without an owner, and a removed member is never brought back by a role change that was in flight.
/// </summary>
[TestClass]
public sealed class ConcurrentTeamChangesTests
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

    [TestMethod]
    public async Task TwoOwnersStepDownAtOnce_OneStaysOwner()
    {
        for (var round = 0; round < 4; round++)
        {
            var team = await TeamKit.CreateTeamAsync(_gateway);
            var second = team.Admin;
            await TeamKit.AssertStatusAsync(await team.Owner.SendAsync(HttpMethod.Patch, $"api/workspaces/{team.Id}/members/{second.UserId}", new { role = "owner" }), 200);

            // Each demotes the other and leaves, all at once.
            var answers = await Task.WhenAll(
                team.Owner.SendAsync(HttpMethod.Patch, $"api/workspaces/{team.Id}/members/{second.UserId}", new { role = "member" }),
                second.SendAsync(HttpMethod.Patch, $"api/workspaces/{team.Id}/members/{team.Owner.UserId}", new { role = "member" }),
                team.Owner.SendAsync(HttpMethod.Delete, $"api/workspaces/{team.Id}/members/{team.Owner.UserId}"),
                second.SendAsync(HttpMethod.Delete, $"api/workspaces/{team.Id}/members/{second.UserId}"));

            var members = await TeamKit.MembersAsync(team.Member, team.Id);
            Assert.AreEqual(1, members.Values.Count(role => role == "owner"),
                $"round {round}: exactly one owner must remain; answers {string.Join(", ", answers.Select(a => (int)a.StatusCode))}");
            Assert.IsTrue(answers.Any(a => (int)a.StatusCode == 409), "at least one step-down was refused with last_owner");
        }
    }

    [TestMethod]
    public async Task ARoleChangeRacingARemoval_NeverBringsTheMemberBack()
    {
        for (var round = 0; round < 4; round++)
        {
            var team = await TeamKit.CreateTeamAsync(_gateway);
            var target = team.Member;
            var answers = await Task.WhenAll(
                team.Admin.SendAsync(HttpMethod.Patch, $"api/workspaces/{team.Id}/members/{target.UserId}", new { role = "admin" }),
                team.Owner.SendAsync(HttpMethod.Delete, $"api/workspaces/{team.Id}/members/{target.UserId}"));

            await TeamKit.AssertStatusAsync(answers[1], 204, "the removal");
            Assert.IsFalse((await TeamKit.MembersAsync(team.Owner, team.Id)).ContainsKey(target.UserId), $"round {round}: the removed member is back");
            await TeamKit.AssertErrorAsync(await target.SendAsync(HttpMethod.Get, $"api/workspaces/{team.Id}"), 404, "not_found");
        }
    }
}
