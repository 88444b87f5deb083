// Key Vault for the webhook secrets and the optional configuration repository token.
// Access is by Azure RBAC only; soft delete and purge protection keep a deleted secret
// recoverable for the retention period.

@minLength(3)
@maxLength(24)
@description('Name of the vault.')
param name string

@description('Azure region of the vault.')
param location string

@description('Tags applied to the vault.')
param tags object

@description('Principal (the app\'s identity) that reads the secrets through Key Vault references.')
param readerPrincipalId string

@description('Principal (the person or pipeline that deploys) that sets and reads the secrets. Empty to skip.')
param officerPrincipalId string

@secure()
@description('Value of the github-webhook-secret secret.')
param githubWebhookSecret string

@secure()
@description('Value of the ado-webhook-secret secret.')
param adoWebhookSecret string

// Built-in role ids from https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/security
// Key Vault Secrets User: read secret values, nothing else.
var secretsUserRoleId = '4633458b-17de-408a-b874-0445c86b69e6'
// Key Vault Secrets Officer: create, update and read secrets, but not change access.
var secretsOfficerRoleId = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'

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
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
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

resource githubSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'github-webhook-secret'
  properties: {
    value: githubWebhookSecret
    contentType: 'text/plain'
  }
}

resource adoSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'ado-webhook-secret'
  properties: {
    value: adoWebhookSecret
    contentType: 'text/plain'
  }
}

// The vault holds only this app's secrets, so a vault-wide assignment gives the app no more
// than the secrets it references. It also covers config-repo-token, which the administrator
// creates after the deployment.
resource readerAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, readerPrincipalId, secretsUserRoleId)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsUserRoleId)
    principalId: readerPrincipalId
    principalType: 'ServicePrincipal'
    description: 'Image Factory resolves its Key Vault references (webhook secrets, repository token).'
  }
}

resource officerAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(officerPrincipalId)) {
  name: guid(vault.id, officerPrincipalId, secretsOfficerRoleId)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsOfficerRoleId)
    principalId: officerPrincipalId
    description: 'The deploying principal sets and reads the Image Factory secrets.'
  }
}

output name string = vault.name
output vaultUri string = vault.properties.vaultUri
output githubWebhookSecretUri string = githubSecret.properties.secretUri
output adoWebhookSecretUri string = adoSecret.properties.secretUri
