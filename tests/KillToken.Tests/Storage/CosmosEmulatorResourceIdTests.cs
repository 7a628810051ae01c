using System.Net;
using KillToken.Storage.Cosmos;
using KillToken.Tests.TestInfrastructure;
using Microsoft.Azure.Cosmos;
using Microsoft.Extensions.Logging.Abstractions;

namespace KillToken.Tests.Storage;

/// <summary>
/// The test emulator writes resource ids as Cosmos DB does ('-' where base64 has '/'). It used to write standard base64,
/// so every 64th database and its containers had a '/' in their ids; the SDK puts those ids in request paths, and the
/// first query on such a container failed (a 500 from the gateway, in whichever test got that database).
/// </summary>
[TestClass]
public sealed class CosmosEmulatorResourceIdTests
{
    [TestMethod]
    public async Task SixtyFourDatabasesInARow_EachQueriesItsContainer_AndNoIdHasASlash()
    {
        using var context = new CosmosStoreContext(CosmosEmulator.Shared.StoreOptions(CosmosEmulator.NewDatabaseName("rid")), null,
            NullLogger<CosmosStoreContext>.Instance);
        var client = context.Client;
        var created = new List<string>();
        try
        {
            // 64 consecutive databases: whatever the emulator's counter, one of them had the id that used to carry a '/'.
            for (var i = 0; i < 64; i++)
            {
                var name = CosmosEmulator.NewDatabaseName("rid");
                var database = (await client.CreateDatabaseAsync(name)).Database;
                created.Add(name);
                var container = (await database.CreateContainerAsync("items", "/pk")).Container;
                await container.CreateItemAsync(new { id = "one", pk = "p" }, new PartitionKey("p"));

                var databaseRid = (await database.ReadAsync()).Resource.SelfLink;
                var containerRid = (await container.ReadContainerAsync()).Resource.SelfLink;
                Assert.HasCount(2, databaseRid.Split('/', StringSplitOptions.RemoveEmptyEntries), $"database {i}: {databaseRid} (dbs/{{rid}}/)");
                Assert.HasCount(4, containerRid.Split('/', StringSplitOptions.RemoveEmptyEntries), $"container {i}: {containerRid} (dbs/{{rid}}/colls/{{rid}}/)");

                using var query = container.GetItemQueryIterator<dynamic>("SELECT * FROM c", requestOptions: new QueryRequestOptions { PartitionKey = new PartitionKey("p") });
                var page = await query.ReadNextAsync();
                Assert.AreEqual(HttpStatusCode.OK, page.StatusCode, $"database {i}");
                Assert.AreEqual(1, page.Count, $"database {i}");
            }
        }
        finally
        {
            foreach (var name in created)
            {
                using var _ = await client.GetDatabase(name).DeleteStreamAsync();
            }
        }
    }
}
