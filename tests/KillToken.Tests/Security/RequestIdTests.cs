using System.Text.RegularExpressions;
using KillToken.Core.Security;

namespace KillToken.Tests.Security;

/// <summary>
/// Request ids keep the contract's shape (<c>req_</c> and 20 characters) while sorting in the order they were made,
/// so the trace store appends each trace beside the previous one.
/// </summary>
[TestClass]
public sealed partial class RequestIdTests
{
    [TestMethod]
    public void TimeOrderedIds_HaveTheUsualShape_SortByTime_AndNeverRepeatWithinAMillisecond()
    {
        var now = new DateTimeOffset(2026, 12, 5, 4, 30, 0, TimeSpan.Zero);
        var sameMillisecond = Enumerable.Range(0, 10_000).Select(_ => Ids.NewTimeOrdered("req", now)).ToList();
        Assert.IsTrue(sameMillisecond.All(id => Shape().IsMatch(id)), sameMillisecond[0]);
        Assert.AreEqual(sameMillisecond.Count, sameMillisecond.Distinct(StringComparer.Ordinal).Count());

        var later = new[] { now.AddMilliseconds(1), now.AddSeconds(1), now.AddDays(400), new DateTimeOffset(2059, 1, 1, 0, 0, 0, TimeSpan.Zero) }
            .Select(at => Ids.NewTimeOrdered("req", at)).ToList();
        var sequence = new[] { sameMillisecond.Max(StringComparer.Ordinal)! }.Concat(later).ToList();
        CollectionAssert.AreEqual(sequence, sequence.Order(StringComparer.Ordinal).ToList(), "an id made later sorts after every earlier one");
    }

    [TestMethod]
    public async Task TheGateway_AnswersWithTimeOrderedRequestIds()
    {
        await using var host = await TestInfrastructure.GatewayHost.StartAsync();
        // Refused calls carry their request id too: no tenant needed.
        using var first = await host.Client.PostAsync("v1/chat", null);
        await Task.Delay(5);
        using var second = await host.Client.PostAsync("v1/chat", null);
        var ids = new[] { first, second }.Select(r => r.Headers.GetValues("x-request-id").Single()).ToList();
        Assert.IsTrue(ids.All(id => Shape().IsMatch(id)), string.Join(", ", ids));
        Assert.IsLessThan(0, string.CompareOrdinal(ids[0], ids[1]), string.Join(" < ", ids));
    }

    [GeneratedRegex("^req_[a-z0-9]{20}$")]
    private static partial Regex Shape();
}
