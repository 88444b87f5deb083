// Assigns one role to the app's identity on one existing lab. Deployed at the lab's
// resource group, which can differ from the app's resource group and subscription.

@description('Name of an existing DevTest Labs lab in this resource group.')
param labName string

@description('Principal (the app\'s identity) that gets the role.')
param principalId string

@description('Name (a GUID) of the role definition to assign.')
param roleDefinitionName string

@description('Why the assignment exists; shown in the lab\'s access control list.')
param purpose string

resource lab 'Microsoft.DevTestLab/labs@2018-09-15' existing = {
  name: labName
}

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(lab.id, principalId, roleDefinitionName)
  scope: lab
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionName)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: purpose
  }
}
