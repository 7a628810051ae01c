using System.Net;
using System.Text.Json;
using KillToken.Storage.Cosmos;
using KillToken.Tests.TestInfrastructure;
using Microsoft.Azure.Cosmos;
using Microsoft.Extensions.Logging.Abstractions;

namespace KillToken.Tests.Storage;

/// <summary>
/// The test emulator judges a conditional patch's predicate on the target item alone, as Cosmos DB does. It used to run
/// the predicate over the whole container matching only the id, so when another partition held an item with the same id
/// (every workspace's budget counter is <c>budget:_workspace:{month}</c>) that item could satisfy it: a workspace's
/// monthly limit let every call through once another workspace had a counter (found by ScaleOutGatewayTests).
/// </summary>
[TestClass]
public sealed class CosmosEmulatorConditionalPatchTests
{
    [TestMethod]
    public async Task ConditionalPatch_IsJudgedOnTheTargetPartitionsItem_NotOnAnotherWithTheSameId()
    {
        using var context = new CosmosStoreContext(CosmosEmulator.Shared.StoreOptions(CosmosEmulator.NewDatabaseName("patch")), null,
            NullLogger<CosmosStoreContext>.Instance);
        var name = CosmosEmulator.NewDatabaseName("patch");
        var database = (await context.Client.CreateDatabaseAsync(name)).Database;
        try
        {
            var container = (await database.CreateContainerAsync("items", "/pk")).Container;
            await container.CreateItemAsync(new { id = "counter", pk = "full", spent = 100 }, new PartitionKey("full"));
            await container.CreateItemAsync(new { id = "counter", pk = "empty", spent = 0 }, new PartitionKey("empty"));
            var add = new[] { PatchOperation.Increment("/spent", 1) };

            var refused = await container.PatchItemStreamAsync("counter", new PartitionKey("full"), add,
                new PatchItemRequestOptions { FilterPredicate = "from c where c.spent + 1 <= 100" });
            Assert.AreEqual(HttpStatusCode.PreconditionFailed, refused.StatusCode, "the full item's own predicate is false");

            var allowed = await container.PatchItemStreamAsync("counter", new PartitionKey("empty"), add,
                new PatchItemRequestOptions { FilterPredicate = "from c where c.spent + 1 <= 100" });
            Assert.AreEqual(HttpStatusCode.OK, allowed.StatusCode, "the empty item's own predicate is true");

            Assert.AreEqual(100, (await container.ReadItemAsync<JsonElement>("counter", new PartitionKey("full"))).Resource.GetProperty("spent").GetInt32());
            Assert.AreEqual(1, (await container.ReadItemAsync<JsonElement>("counter", new PartitionKey("empty"))).Resource.GetProperty("spent").GetInt32());
        }
        finally
        {
            using var _ = await database.DeleteStreamAsync();
        }
    }
}
