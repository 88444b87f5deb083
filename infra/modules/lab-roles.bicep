// Custom roles with exactly the lab and disk operations the pipeline calls. The built-in
// roles do not fit: DevTest Labs User creates VMs only through the lab's createEnvironment
// action (the pipeline PUTs labs/virtualMachines) and has no custom image write or delete,
// while Contributor could also delete the lab, change its policies and artifact sources.
// Action names from https://learn.microsoft.com/azure/role-based-access-control/permissions/devops
// and https://learn.microsoft.com/azure/role-based-access-control/permissions/compute
targetScope = 'subscription'

@description('Appended to each role name, which must be unique in the tenant.')
param roleNameSuffix string

@description('Subscriptions that hold the labs; each becomes an assignable scope of the roles.')
param labSubscriptionIds array

var assignableScopes = map(labSubscriptionIds, subscriptionId => '/subscriptions/${subscriptionId}')

resource labBuilder 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, roleNameSuffix, 'image-factory-lab-builder')
  properties: {
    roleName: 'Image Factory lab builder (${roleNameSuffix})'
    description: 'Creates, reads and deletes the build VMs of Image Factory in the factory lab.'
    type: 'CustomRole'
    assignableScopes: assignableScopes
    permissions: [
      {
        actions: [
          // Read the lab (its region) and its VMs, with the OS disk id and artifact results.
          'Microsoft.DevTestLab/labs/read'
          'Microsoft.DevTestLab/labs/virtualMachines/read'
          // Create a build VM with its artifacts in one PUT, and delete it after capture
          // (or when the expiry timer finds it orphaned).
          'Microsoft.DevTestLab/labs/virtualMachines/write'
          'Microsoft.DevTestLab/labs/virtualMachines/delete'
          // List the artifacts of the public artifact source, to validate image definitions.
          'Microsoft.DevTestLab/labs/artifactSources/read'
          'Microsoft.DevTestLab/labs/artifactSources/artifacts/read'
          // Base images that a build VM starts from: marketplace images the lab allows,
          // or a custom image of the lab.
          'Microsoft.DevTestLab/labs/galleryImages/read'
          'Microsoft.DevTestLab/labs/customImages/read'
          // The lab's virtual network, in which the lab places a new VM.
          'Microsoft.DevTestLab/labs/virtualNetworks/read'
        ]
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
  }
}

resource labDistributor 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, roleNameSuffix, 'image-factory-lab-distributor')
  properties: {
    roleName: 'Image Factory lab distributor (${roleNameSuffix})'
    description: 'Uploads VHDs into a team lab and manages the custom images Image Factory creates there.'
    type: 'CustomRole'
    assignableScopes: assignableScopes
    permissions: [
      {
        actions: [
          'Microsoft.DevTestLab/labs/read'
          // A write SAS into the lab's own storage account for one VHD blob; the copy then
          // needs no role on that account.
          'Microsoft.DevTestLab/labs/GenerateUploadUri/action'
          // Create custom images from the uploaded VHDs, and delete retired versions.
          'Microsoft.DevTestLab/labs/customImages/read'
          'Microsoft.DevTestLab/labs/customImages/write'
          'Microsoft.DevTestLab/labs/customImages/delete'
          // List lab VMs, so that retention never deletes an image a VM still uses.
          'Microsoft.DevTestLab/labs/virtualMachines/read'
        ]
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
  }
}

resource diskReader 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, roleNameSuffix, 'image-factory-disk-reader')
  properties: {
    roleName: 'Image Factory OS disk reader (${roleNameSuffix})'
    description: 'Grants and revokes read SAS access on the OS disks of the factory lab\'s VMs.'
    type: 'CustomRole'
    assignableScopes: assignableScopes
    permissions: [
      {
        actions: [
          'Microsoft.Compute/disks/read'
          // Read SAS on a generalized OS disk, so the VHD can be copied to the image store,
          // and its revocation after the copy.
          'Microsoft.Compute/disks/beginGetAccess/action'
          'Microsoft.Compute/disks/endGetAccess/action'
        ]
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
  }
}

resource uploadCleaner 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, roleNameSuffix, 'image-factory-upload-cleaner')
  properties: {
    roleName: 'Image Factory upload cleaner (${roleNameSuffix})'
    description: 'Lists and deletes the VHDs Image Factory uploaded into a team lab\'s storage account.'
    type: 'CustomRole'
    assignableScopes: assignableScopes
    permissions: [
      {
        actions: []
        notActions: []
        // The upload URI's SAS writes but cannot delete: the VHD a custom image was
        // created from, or one a crash left behind, is deleted with the app's identity.
        // Read covers List Blobs, which finds the VHDs that a crash left behind.
        dataActions: [
          'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'
          'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete'
        ]
        notDataActions: []
      }
    ]
  }
}

output labBuilderRoleName string = labBuilder.name
output labDistributorRoleName string = labDistributor.name
output diskReaderRoleName string = diskReader.name
output uploadCleanerRoleName string = uploadCleaner.name
