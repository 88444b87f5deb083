// Assigns the OS disk reader role to the app's identity on the resource group where the
// factory lab creates its VMs and their disks.
// NOTE: this covers only a lab set to create all VMs in one resource group. With the default
// layout (a new resource group per VM) the identity has no role where the OS disks are.

@description('Principal (the app\'s identity) that gets the role.')
param principalId string

@description('Name (a GUID) of the disk reader role definition.')
param roleDefinitionName string

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, principalId, roleDefinitionName)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionName)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'Image Factory copies the generalized OS disks of its build VMs to the image store.'
  }
}
