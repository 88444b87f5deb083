// The app's own storage account: the Functions host state, the queues between stages, the
// run-state tables, the deployment package and the image store. Shared key access is off,
// so every client authenticates with Microsoft Entra ID (the app's identity).

@minLength(3)
@maxLength(24)
@description('Name of the storage account: 3 to 24 lowercase letters and digits.')
param name string

@description('Azure region of the account.')
param location string

@description('Tags applied to the account.')
param tags object

@description('Blob containers to create. The app creates its queues and tables itself.')
param containerNames array

@description('Principal (the app\'s identity) that gets the data roles on this account.')
param dataPrincipalId string

// Built-in role ids from https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/storage
var dataRoles = [
  {
    // Storage Blob Data Owner: Flex Consumption reads the deployment package with it, the
    // Functions host keeps its locks and timer state in blobs, and the app writes VHDs to
    // the image store and signs user delegation SAS for one blob at a time.
    id: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
    description: 'Image Factory reads and writes its deployment package, host state and image store.'
  }
  {
    // Storage Queue Data Contributor: the queue triggers and the stages' own messages.
    id: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
    description: 'Image Factory sends, receives and deletes the messages between its stages.'
  }
  {
    // Storage Table Data Contributor: runs, tasks and image versions.
    id: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
    description: 'Image Factory keeps the state of its runs and image versions in tables.'
  }
]

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [
  for containerName in containerNames: {
    parent: blobService
    name: containerName
    properties: {
      publicAccess: 'None'
    }
  }
]

resource dataRoleAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in dataRoles: {
    name: guid(account.id, dataPrincipalId, role.id)
    scope: account
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.id)
      principalId: dataPrincipalId
      principalType: 'ServicePrincipal'
      description: role.description
    }
  }
]

output name string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
