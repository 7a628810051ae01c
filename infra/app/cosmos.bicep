// Cosmos DB for NoSQL, serverless, Entra ID only (no keys).
//
// Containers (all TTL-enabled; defaultTtl -1 = "on, but items only expire when they carry
// their own `ttl` field"):
//   workspaces (/workspaceId) - every tenant document: workspace, members, projects,
//                               credential records, counters, rollups, audit, invites,
//                               cache, idempotency (and traces, if the code keeps them here)
//   lookups    (/id)          - global unique keys: api-key hash -> project, email -> user,
//                               invite token -> invite
//   traces     (/workspaceId) - high-volume request traces, expiring by default after
//                               tracesDefaultTtl seconds; see main.bicep for why it is separate.
//
// Databases and containers are created here, by ARM, because with disableLocalAuth the data
// plane role (Built-in Data Contributor) cannot create or change them; the app must not rely
// on CreateContainerIfNotExists in Azure.

@minLength(3)
@maxLength(44)
param accountName string

param location string
param tags object = {}

@description('Name of the SQL (NoSQL) database.')
param databaseName string

@description('Default TTL in seconds for the traces container. -1 = TTL on but only per-item `ttl` expires documents.')
param tracesDefaultTtl int = -1

// Each container indexes only the properties the store's queries filter or order on ('/*' excluded): a write is charged
// for every path it indexes, and trace payloads, budget days, rollup numbers and cached answers are never queried.
// Keep these lists equal to CosmosIndexing in src/Storage/Cosmos/CosmosStoreContext.cs (a test compares them).
var containers = [
  {
    name: 'workspaces'
    partitionKeyPath: '/workspaceId'
    defaultTtl: -1
    includedPaths: ['/workspaceId/?', '/type/?', '/status/?', '/day/?', '/dimension/?', '/month/?', '/projectId/?']
  }
  {
    name: 'lookups'
    partitionKeyPath: '/id'
    defaultTtl: -1
    includedPaths: []
  }
  {
    name: 'traces'
    partitionKeyPath: '/workspaceId'
    defaultTtl: tracesDefaultTtl
    includedPaths: ['/workspaceId/?', '/type/?', '/orderKey/?', '/provider/?', '/finalProvider/?', '/finalModel/?', '/optimizationMode/?', '/cacheStatus/?', '/feature/?', '/projectId/?']
  }
]

resource account 'Microsoft.DocumentDB/databaseAccounts@2024-11-15' = {
  name: accountName
  location: location
  tags: tags
  kind: 'GlobalDocumentDB'
  properties: {
    databaseAccountOfferType: 'Standard'
    consistencyPolicy: {
      defaultConsistencyLevel: 'Session'
    }
    locations: [
      {
        locationName: location
        failoverPriority: 0
        isZoneRedundant: false
      }
    ]
    capabilities: [
      {
        name: 'EnableServerless'
      }
    ]
    disableLocalAuth: true
    disableKeyBasedMetadataWriteAccess: true
    minimalTlsVersion: 'Tls12'
    enableAutomaticFailover: false
    enableMultipleWriteLocations: false
    publicNetworkAccess: 'Enabled'
  }
}

resource database 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2024-11-15' = {
  parent: account
  name: databaseName
  properties: {
    resource: {
      id: databaseName
    }
    // No options: serverless accounts take no throughput settings.
  }
}

resource sqlContainers 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-11-15' = [
  for c in containers: {
    parent: database
    name: c.name
    properties: {
      resource: {
        id: c.name
        partitionKey: {
          paths: [
            c.partitionKeyPath
          ]
          kind: 'Hash'
          version: 2
        }
        defaultTtl: c.defaultTtl
        indexingPolicy: {
          indexingMode: 'consistent'
          automatic: true
          includedPaths: map(c.includedPaths, p => { path: p })
          excludedPaths: [
            {
              path: '/*'
            }
          ]
        }
      }
    }
  }
]

output name string = account.name
output endpoint string = account.properties.documentEndpoint
output databaseName string = database.name
