using KillToken.Tests.Analytics;
using KillToken.Client;
using KillToken.Tests.TestInfrastructure;
using static KillToken.Tests.Client.ClientRequests;

namespace KillToken.Tests.Client;

/// <summary><c>KillTokenClient</c>'s reads against the real gateway: traces (paged), summary, ROI, both exports.</summary>
[TestClass]
public sealed class ClientReadTests
{
    private static ClientGateway _gateway = null!;
    private static Tenant _tenant = null!;
    private static KillTokenClient _client = null!;
    private static readonly List<string> RequestIds = [];

    /// <summary>One workspace with five calls: three tagged "support", two "billing", one of which a cache hit.</summary>
    [ClassInitialize]
    public static async Task StartAsync(TestContext _)
    {
        _gateway = await ClientGateway.StartAsync();
        _tenant = await _gateway.Host.CreateTenantAsync();
        _client = _gateway.ClientFor(_tenant);
        for (var i = 0; i < 3; i++)
        {
            var request = Chat($"Ticket {i}: printer jam");
            request.Feature = "support";
            RequestIds.Add((await _client.ChatAsync(request)).Metrics.RequestId);
        }

        for (var i = 0; i < 2; i++)
        {
            var request = Chat("What is my balance?");
            request.Feature = "billing";
            request.CachePolicy = CachePolicy.ReadWrite;
            RequestIds.Add((await _client.ChatAsync(request)).Metrics.RequestId);
        }
    }

    [ClassCleanup]
    public static async Task StopAsync() => await _gateway.DisposeAsync();

    [TestMethod]
    public async Task RequestPages_FollowTheCursor_NewestFirst()
    {
        var first = await _client.GetRequestsPageAsync(new RequestQuery { PageSize = 2 });
        var second = await _client.GetRequestsPageAsync(new RequestQuery { PageSize = 2 }, first.NextCursor);
        var third = await _client.GetRequestsPageAsync(new RequestQuery { PageSize = 2 }, second.NextCursor);

        Assert.AreEqual(2, first.Data.Count);
        Assert.AreEqual(2, second.Data.Count);
        Assert.AreEqual(1, third.Data.Count);
        Assert.IsNull(third.NextCursor, "the last page has no cursor");
        CollectionAssert.AreEqual(Enumerable.Reverse(RequestIds).ToList(), first.Data.Concat(second.Data).Concat(third.Data).Select(t => t.Id).ToList());
    }

    [TestMethod]
    public async Task AllRequests_EnumerateEveryPage_WithTheFiltersApplied()
    {
        var support = new List<RequestTrace>();
        await foreach (var trace in _client.GetRequestsAsync(new RequestQuery { Feature = "support", PageSize = 1 }))
        {
            support.Add(trace);
        }

        var hits = new List<RequestTrace>();
        await foreach (var trace in _client.GetRequestsAsync(new RequestQuery { CacheStatus = CacheStatus.Hit, Provider = ModelProvider.OpenAI }))
        {
            hits.Add(trace);
        }

        Assert.AreEqual(3, support.Count, "three pages of one, then the end");
        Assert.IsTrue(support.All(t => t.Feature == "support"));
        Assert.AreEqual(RequestIds[4], hits.Single().Id);
    }

    [TestMethod]
    public async Task OneRequest_ReadsItsPrivacySafeTrace()
    {
        var trace = await _client.GetRequestAsync(RequestIds[0]);

        Assert.AreEqual(RequestIds[0], trace.Id);
        Assert.AreEqual(_tenant.ProjectId, trace.ProjectId);
        Assert.AreEqual(ModelProvider.OpenAI, trace.Provider);
        Assert.AreEqual("gpt-4o", trace.Model);
        Assert.AreEqual(200, trace.Status);
        Assert.AreEqual(1100, trace.TotalTokens);
        Assert.AreEqual(ClientGateway.CallCostUsd, trace.CostUsd);
        Assert.IsTrue(trace.CreatedAt > DateTimeOffset.UtcNow.AddMinutes(-5));
    }

    [TestMethod]
    public async Task Summary_AndRoi_CountTheWorkspacesCalls()
    {
        var summary = await _client.GetSummaryAsync();
        var roi = await _client.GetRoiReportAsync(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow);

        Assert.AreEqual(5, summary.Totals.Requests);
        Assert.AreEqual(1, summary.Totals.CacheHits);
        Assert.AreEqual(ClientGateway.CallCostUsd * 4, summary.Totals.CostUsd, "the hit costs nothing");
        Assert.AreEqual(3, summary.ByFeature.Single(f => f.Feature == "support").Requests);
        Assert.AreEqual(1, summary.ByFeature.Single(f => f.Feature == "billing").CacheHits);

        Assert.AreEqual(5, roi.Requests);
        Assert.AreEqual(ClientGateway.CallCostUsd * 4, roi.CostUsd);
        Assert.AreEqual(ClientGateway.CallCostUsd, roi.Savings.CacheUsd);
        Assert.IsFalse(string.IsNullOrWhiteSpace(roi.Recommendation));
    }

    [TestMethod]
    public async Task RequestsCsv_StreamsOneRowPerMatchingRequest()
    {
        using var bytes = new MemoryStream();
        await using (var csv = await _client.ExportRequestsCsvAsync(new RequestQuery { Feature = "billing" }))
        {
            await csv.CopyToAsync(bytes);
        }

        var export = AnalyticsCsv.Parse(bytes.ToArray(), AnalyticsCsv.RequestsHeader);
        var column = export.Header.Select((name, index) => (name, index)).ToDictionary(c => c.name, c => c.index);
        var rows = export.Rows.Select(r => (Id: r[column["requestId"]], Feature: r[column["feature"]], CacheStatus: r[column["cacheStatus"]])).ToList();

        CollectionAssert.AreEquivalent(new[] { RequestIds[3], RequestIds[4] }, rows.Select(r => r.Id).ToArray());
        Assert.IsTrue(rows.All(r => r.Feature == "billing"));
        CollectionAssert.AreEquivalent(new[] { "miss", "hit" }, rows.Select(r => r.CacheStatus).ToArray());
    }

    [TestMethod]
    public async Task AnalyticsExport_HoldsEveryReportOfTheRange()
    {
        var export = await _client.ExportAnalyticsAsync(new AnalyticsQuery { From = DateTimeOffset.UtcNow.AddDays(-6), To = DateTimeOffset.UtcNow });

        Assert.AreEqual(_tenant.WorkspaceId, export.WorkspaceId);
        Assert.AreEqual(5, export.Totals.Requests);
        Assert.AreEqual(ClientGateway.CallCostUsd * 4, export.Totals.SpendUsd);
        Assert.AreEqual(7, export.Days.Count, "one row per day of the range");
        Assert.AreEqual(5, export.Providers.Single(p => p.Provider == "openai").Requests);
        Assert.AreEqual(5, export.Projects.Single(p => p.ProjectId == _tenant.ProjectId).Requests);
        Assert.AreEqual(2, export.Features.Single(f => f.Feature == "billing").Requests);
        Assert.IsTrue(export.GeneratedAt > DateTimeOffset.UtcNow.AddMinutes(-5));

        var filtered = await _client.ExportAnalyticsAsync(new AnalyticsQuery { Feature = "support" });
        Assert.AreEqual(3, filtered.Totals.Requests);
        Assert.AreEqual("support", filtered.Filters.Feature);
    }
}
