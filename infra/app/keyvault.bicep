// Key Vault (RBAC authorization, soft delete on) plus the secrets the app reads through
// App Service Key Vault references. Secrets are written by ARM (control plane), so the
// deployment itself needs no data-plane role.

@minLength(3)
@maxLength(24)
param name string

param location string
param tags object = {}

@description('Purge protection cannot be turned off again once on, and blocks `azd down --purge` for the retention period. Off by default for dev environments.')
param enablePurgeProtection bool = false

@minValue(7)
@maxValue(90)
@description('Soft-delete retention. Fixed at creation time; changing it later fails.')
param softDeleteRetentionInDays int = 90

@secure()
@description('Value of killtoken-jwt-secret.')
param jwtSecret string

@secure()
@description('Value of killtoken-key-pepper.')
param keyPepper string

@secure()
@description('Value of killtoken-smtp-pass. Only written when writeSmtpSecret is true.')
param smtpPassword string = ''

@description('Write killtoken-smtp-pass (main.bicep passes !empty(smtpPassword); kept as a plain bool so no output depends on a secure parameter).')
param writeSmtpSecret bool = false

var smtpSecretName = 'killtoken-smtp-pass'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    // The RP rejects an explicit `false`; leave it unset unless turning it on.
    enablePurgeProtection: enablePurgeProtection ? true : null
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource jwtSecretResource 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'killtoken-jwt-secret'
  properties: {
    value: jwtSecret
    contentType: 'text/plain'
  }
}

resource keyPepperResource 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'killtoken-key-pepper'
  properties: {
    value: keyPepper
    contentType: 'text/plain'
  }
}

resource smtpSecretResource 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (writeSmtpSecret) {
  parent: vault
  name: smtpSecretName
  properties: {
    value: smtpPassword
    contentType: 'text/plain'
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
// Versionless URIs: App Service re-reads the latest version (within 24 h, or on restart).
output jwtUri string = jwtSecretResource.properties.secretUri
output pepperUri string = keyPepperResource.properties.secretUri
// Built from the vault URI (it ends with '/') so the output does not dereference a conditional resource.
output smtpCredUri string = !writeSmtpSecret ? '' : '${vault.properties.vaultUri}secrets/${smtpSecretName}'
