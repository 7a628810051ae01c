// Flex Consumption plan + the KillToken Function App (isolated worker, Linux).
// App settings are NOT set here: main.bicep defines them and app/appsettings.bicep applies
// them after the role assignments exist, so Key Vault references resolve on first start.

param name string
param planName string
param location string
param tags object = {}

@description('azd service name; azd finds the app through the azd-service-name tag.')
param serviceName string = 'api'

@description('Storage account holding the deployment package container.')
param storageAccountName string

@description('Blob container for the deployment package.')
param deploymentContainerName string

@allowed([
  'dotnet-isolated'
])
param runtimeName string = 'dotnet-isolated'

param runtimeVersion string = '10.0'

@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Browser origins allowed by the platform\'s CORS (exact origins, never *). Empty = no CORS: preflights reach the app.')
param corsAllowedOrigins array = []

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': serviceName })
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: 'SystemAssigned'
    siteConfig: {
      minTlsVersion: '1.2'
      // No credentials mode: sessions and API keys travel in headers, never in cookies. The platform reflects the
      // preflight's requested headers and methods; it cannot expose response headers, so pages read metrics and
      // request ids from the body (killtoken.metrics, error.requestId).
      cors: {
        allowedOrigins: corsAllowedOrigins
        supportCredentials: false
      }
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'SystemAssignedIdentity'
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: runtimeName
        version: runtimeVersion
      }
    }
  }
}

// No basic-auth publishing: azd deploys to Flex Consumption with an Entra ID token.
resource ftpPolicy 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPolicy 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'scm'
  properties: {
    allow: false
  }
}

output name string = functionApp.name
output uri string = 'https://${functionApp.properties.defaultHostName}'
output principalId string = functionApp.identity.principalId
