// Lets the app's identity list and delete blobs in the upload container of one lab's
// storage account, and nowhere else in it. Deployed at the lab's resource group,
// where DevTest Labs keeps the lab's storage account.

@description('Name of the lab\'s storage account (the last segment of its defaultStorageAccount id).')
param storageAccountName string

@description('Principal (the app\'s identity) that gets the role.')
param principalId string

@description('Name (a GUID) of the role definition to assign.')
param roleDefinitionName string

// The container that generateUploadUri hands out.
var uploadContainerName = 'uploads'

resource labStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(labStorage.id, principalId, roleDefinitionName)
  scope: labStorage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionName)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'Image Factory deletes the VHDs it uploaded into this lab once their custom images exist.'
    // Attribute-based condition: every blob read and delete must be in the upload container.
    conditionVersion: '2.0'
    condition: '((!(ActionMatches{\'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read\'}) AND !(ActionMatches{\'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete\'})) OR (@Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name] StringEquals \'${uploadContainerName}\'))'
  }
}
