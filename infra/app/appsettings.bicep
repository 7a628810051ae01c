// Applies the function app's application settings (the whole set: this replaces any
// settings not listed). The map itself lives in main.bicep so it can be checked against
// the settings the code reads and local.settings.sample.json.
// main.bicep deploys this module after rbac.bicep, so the app identity already holds
// Key Vault Secrets Officer when the @Microsoft.KeyVault(...) references are first resolved.

param functionAppName string

@description('Application settings (name -> string value).')
param appSettings object

resource functionApp 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource settings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: functionApp
  name: 'appsettings'
  properties: appSettings
}
