// KillToken - Azure infrastructure for `azd up`.
//
// Subscription-scoped like the Azure-Samples Functions Flex Consumption azd templates:
// it creates the resource group, then deploys modules from ./app into it.
//
//   monitoring.bicep  Log Analytics + Application Insights (local auth off)
//   storage.bicep     storage account (shared keys off) + deployment package container
//   cosmos.bicep      Cosmos DB NoSQL serverless: database killtoken, containers
//                     workspaces, lookups, traces
//   keyvault.bicep    Key Vault (RBAC) + killtoken-jwt-secret, killtoken-key-pepper,
//                     killtoken-smtp-pass (only if SMTP_PASS is set)
//   api.bicep         Flex Consumption plan (FC1) + function app (system-assigned identity)
//   rbac.bicep        role assignments (app identity, and the deploying principal)
//   appsettings.bicep applies `appSettings` below, after rbac.bicep

targetScope = 'subscription'

// ---- Parameters ------------------------------------------------------------------------

@minLength(1)
@maxLength(64)
@description('Name of the azd environment (AZURE_ENV_NAME); names the resource group and seeds the resource token.')
param environmentName string

@minLength(1)
@description('Region for all resources. It must offer Flex Consumption (az functionapp list-flexconsumption-locations).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Optional resource group name; default rg-<environmentName>.')
param resourceGroupName string = ''

@description('Object id of the principal running azd (AZURE_PRINCIPAL_ID). It gets the same data roles as the app, for local debugging. Empty skips them.')
param principalId string = ''

@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
@description('Type of principalId: User locally; set AZURE_PRINCIPAL_TYPE=ServicePrincipal when azd runs in CI.')
param principalType string = 'User'

// Secrets. Under azd, main.parameters.json fills these with
// $(secretOrRandomPassword <vault> <secret>): the current value from Key Vault when the
// vault and secret exist, otherwise a fresh random string. That keeps them stable across
// `azd provision` runs; a pepper that changed would invalidate every API key.
// azd's random string is only 15 characters, so on first provision it is lengthened with a
// newGuid() (below) to at least 32 characters (HS256 needs a 256-bit key); later runs read
// the lengthened value back from the vault and use it unchanged.
@secure()
@description('JWT signing secret. Empty or shorter than 32 characters = lengthened with jwtSecretEntropy.')
param jwtSecret string = ''

@secure()
@description('Pepper for API key hashes. Empty or shorter than 32 characters = lengthened with keyPepperEntropy.')
param keyPepper string = ''

@secure()
@description('Do not set: random per deployment, used only when jwtSecret is empty or short.')
param jwtSecretEntropy string = newGuid()

@secure()
@description('Do not set: random per deployment, used only when keyPepper is empty or short.')
param keyPepperEntropy string = newGuid()

@description('SMTP server host name (SMTP_HOST). Empty = e-mail disabled/left to the app.')
param smtpHost string = ''

@description('SMTP port (SMTP_PORT).')
param smtpPort string = '587'

@description('SMTP user name (SMTP_USER).')
param smtpUser string = ''

@secure()
@description('SMTP password (SMTP_PASS). If set, stored in Key Vault as killtoken-smtp-pass and referenced from the app setting.')
param smtpPassword string = ''

@description('Sender address (SMTP_FROM).')
param smtpFrom string = ''

@description('SMTP transport security (SMTP_SECURE): starttls (required STARTTLS, usually port 587), tls (implicit TLS, usually 465) or none (clear text).')
@allowed([
  'starttls'
  'tls'
  'none'
])
param smtpSecure string = 'starttls'

@description('Bound for one mail: connect, TLS, AUTH and send (SMTP_TIMEOUT_SECONDS, 1 to 120).')
param smtpTimeoutSeconds string = '10'

@description('Path of a PEM CA file trusted in addition to the system roots for the SMTP server certificate (SMTP_CA_FILE). Empty = system roots only.')
param smtpCaFile string = ''

@description('Public URL of the web frontend (FRONTEND_URL), used for links in mails. Empty = the function app\'s https://<default host name>.')
param frontendUrl string = ''

@description('Browser origins allowed to call the API (CORS_ORIGIN): one origin or a comma-separated list, such as https://app.example.com; never *. Empty = the origin of frontendUrl when that is set, else none. Applied by the platform (siteConfig.cors) in front of the worker; the app validates the same setting at start-up.')
param corsOrigin string = ''

@description('A project\'s request rate on each instance (KILLTOKEN_PROJECT_RATE_LIMIT_PER_MINUTE): past it a call is refused with 429 rate_limited and Retry-After before it costs a Cosmos DB write or a provider call, so one runaway client cannot spend the account\'s throughput for everyone. Counted per instance. 0 = off.')
param projectRateLimitPerMinute string = '600'

@description('How many calls a project may send at once before the rate applies (KILLTOKEN_PROJECT_RATE_LIMIT_BURST). Empty = a tenth of the per-minute rate.')
param projectRateLimitBurst string = '100'

@description('Key Vault purge protection. Irreversible once on; blocks `azd down --purge` for the retention period.')
param keyVaultEnablePurgeProtection bool = false

@minValue(0)
@description('Default lifetime of documents in the traces container, in days. 0 = no default (items expire only via their own ttl).')
param traceRetentionDays int = 30

// ---- Names -----------------------------------------------------------------------------

var abbrs = loadJsonContent('./abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}

var functionAppName = '${abbrs.webSitesFunctions}api-${resourceToken}'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}'
var cosmosDatabaseName = 'killtoken'

// CORS: the platform answers preflights and adds Access-Control-Allow-Origin before a request reaches the worker, so
// the origins are set on the site (api.bicep, siteConfig.cors) as well as passed as CORS_ORIGIN, which the app checks
// at start-up (exact http(s) origins, no '*'). Same rule as the self-host: CORS_ORIGIN's list, else the origin
// (scheme://host[:port]) of an explicitly set frontendUrl; the default frontend (the app itself) needs no CORS.
// A '*' never reaches the platform: the app refuses it and does not start, which is the error to see.
var corsOriginEntries = filter(map(split(corsOrigin, ','), origin => toLower(trim(origin))), origin => !empty(origin) && !contains(origin, '*'))
var corsOriginList = map(corsOriginEntries, origin => endsWith(origin, '/') ? take(origin, max(length(origin) - 1, 0)) : origin)
var frontendUrlParts = split(trim(frontendUrl), '/')
var frontendOrigin = length(frontendUrlParts) >= 3 ? toLower('${frontendUrlParts[0]}//${frontendUrlParts[2]}') : ''
var corsAllowedOrigins = !empty(corsOriginList) ? corsOriginList : (empty(frontendOrigin) ? [] : [frontendOrigin])

var jwtSecretValue = length(jwtSecret) >= 32 ? jwtSecret : '${jwtSecret}${replace(jwtSecretEntropy, '-', '')}'
var keyPepperValue = length(keyPepper) >= 32 ? keyPepper : '${keyPepper}${replace(keyPepperEntropy, '-', '')}'

// ---- Resources -------------------------------------------------------------------------

resource rg 'Microsoft.Resources/resourceGroups@2022-09-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module monitoring './app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
  }
}

module storage './app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
  }
}

// Traces get their own container (same /workspaceId key) rather than living in
// `workspaces`: they are the bulk of writes and storage, so (1) a container-level default
// TTL ages them out without the code stamping `ttl` on each one, (2) their indexing policy
// (app/cosmos.bicep: only the request list's filters) is their own, and (3) a busy
// workspace's traces cannot fill the 20 GB
// logical-partition limit its metadata shares. In serverless an idle container costs
// nothing, so the split is free until used.
module cosmos './app/cosmos.bicep' = {
  name: 'cosmos'
  scope: rg
  params: {
    accountName: '${abbrs.documentDBDatabaseAccounts}${resourceToken}'
    location: location
    tags: tags
    databaseName: cosmosDatabaseName
    tracesDefaultTtl: traceRetentionDays > 0 ? traceRetentionDays * 86400 : -1
  }
}

module keyVault './app/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: '${abbrs.keyVaultVaults}${resourceToken}'
    location: location
    tags: tags
    enablePurgeProtection: keyVaultEnablePurgeProtection
    jwtSecret: jwtSecretValue
    keyPepper: keyPepperValue
    smtpPassword: smtpPassword
    writeSmtpSecret: !empty(smtpPassword)
  }
}

module api './app/api.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    planName: '${abbrs.webServerFarms}${resourceToken}'
    location: location
    tags: tags
    serviceName: 'api'
    storageAccountName: storage.outputs.name
    deploymentContainerName: storage.outputs.deploymentContainerName
    runtimeName: 'dotnet-isolated'
    runtimeVersion: '10.0'
    maximumInstanceCount: 100
    instanceMemoryMB: 2048
    corsAllowedOrigins: corsAllowedOrigins
  }
}

module rbac './app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    keyVaultName: keyVault.outputs.name
    cosmosAccountName: cosmos.outputs.name
    appPrincipalId: api.outputs.principalId
    userPrincipalId: principalId
    userPrincipalType: principalType
  }
}

// ---- Function app settings -------------------------------------------------------------
// Exactly the settings the code reads (plus the Functions host's own). Keep in sync with
// local.settings.sample.json. No FUNCTIONS_WORKER_RUNTIME /
// FUNCTIONS_EXTENSION_VERSION: Flex Consumption takes the runtime from functionAppConfig.

var appSettings = {
  KILLTOKEN_STORE: 'cosmos'
  COSMOS_ENDPOINT: cosmos.outputs.endpoint
  COSMOS_DATABASE: cosmosDatabaseName
  KEYVAULT_URI: keyVault.outputs.uri
  KILLTOKEN_JWT_SECRET: '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.jwtUri})'
  KILLTOKEN_KEY_PEPPER: '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.pepperUri})'
  SMTP_HOST: smtpHost
  SMTP_PORT: smtpPort
  SMTP_USER: smtpUser
  SMTP_PASS: empty(smtpPassword) ? '' : '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.smtpCredUri})'
  SMTP_FROM: smtpFrom
  SMTP_SECURE: smtpSecure
  SMTP_TIMEOUT_SECONDS: smtpTimeoutSeconds
  SMTP_CA_FILE: smtpCaFile
  FRONTEND_URL: !empty(frontendUrl) ? frontendUrl : api.outputs.uri
  CORS_ORIGIN: corsOrigin
  KILLTOKEN_CACHE_ENABLED: 'true'
  KILLTOKEN_CACHE_TTL_SECONDS: '86400'
  KILLTOKEN_MAX_BODY_BYTES: '1048576'
  KILLTOKEN_ALLOW_PRIVATE_ENDPOINTS: 'false'
  KILLTOKEN_PROVIDER_TIMEOUT_SECONDS: '100'
  KILLTOKEN_PROJECT_RATE_LIMIT_PER_MINUTE: projectRateLimitPerMinute
  KILLTOKEN_PROJECT_RATE_LIMIT_BURST: projectRateLimitBurst
  APPLICATIONINSIGHTS_CONNECTION_STRING: monitoring.outputs.connectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD'
  AzureWebJobsStorage__accountName: storage.outputs.name
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__blobServiceUri: storage.outputs.blobEndpoint
  AzureWebJobsStorage__queueServiceUri: storage.outputs.queueEndpoint
  AzureWebJobsStorage__tableServiceUri: storage.outputs.tableEndpoint
  // The site root is the dashboard's (the Dashboard function), not the host's welcome page.
  AzureWebJobsDisableHomepage: 'true'
}

module functionAppSettings './app/appsettings.bicep' = {
  name: 'appsettings'
  scope: rg
  params: {
    functionAppName: api.outputs.name
    appSettings: appSettings
  }
  // Role assignments first, so the Key Vault references resolve when the app starts.
  dependsOn: [
    rbac
  ]
}

// ---- Outputs (written to .azure/<env>/.env by azd) -------------------------------------

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output SERVICE_API_NAME string = api.outputs.name
output SERVICE_API_URI string = api.outputs.uri
output COSMOS_ENDPOINT string = cosmos.outputs.endpoint
output KEYVAULT_URI string = keyVault.outputs.uri
output APPLICATIONINSIGHTS_CONNECTION_STRING string = monitoring.outputs.connectionString
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
// Read back by main.parameters.json ($(secretOrRandomPassword ${AZURE_KEY_VAULT_NAME} ...)).
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
