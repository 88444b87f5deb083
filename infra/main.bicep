// Image Factory on Azure: a Flex Consumption function app with its own storage,
// user-assigned identity, Key Vault and Application Insights, plus the least-privilege
// roles the identity needs on the factory lab and the team labs.
// Deployed by `azd up` (azure.yaml); docs/deploy.md walks through it.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; it names the resource group and seeds the unique resource names.')
param environmentName string

@minLength(1)
@description('Azure region for every resource. It must offer the Flex Consumption plan.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Object id of the principal running the deployment. It gets Key Vault Secrets Officer so that it can set and read the webhook secrets. Leave empty to skip.')
param principalId string = ''

@minLength(1)
@description('https URL of the git repository that holds the image definitions (FACTORY_CONFIG_REPO).')
param configRepoUrl string

@minLength(1)
@description('Branch of the configuration repository that the factory builds from (FACTORY_CONFIG_BRANCH).')
param configRepoBranch string = 'main'

@allowed([
  'none'
  'token'
])
@description('How the factory authenticates to the configuration repository: none for a public repository, token for a read-only token kept in the Key Vault secret config-repo-token.')
param configRepoAuth string = 'none'

@secure()
@description('HMAC secret shared with the GitHub webhook. The parameters file reads it back from Key Vault, or generates one on the first deployment.')
param githubWebhookSecret string

@secure()
@description('Shared secret that Azure DevOps service hooks send in the x-factory-secret header. Read back from Key Vault, or generated on the first deployment.')
param adoWebhookSecret string

@minLength(1)
@description('Resource id of the factory lab: /subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.DevTestLab/labs/<name>.')
param factoryLabId string

@minLength(1)
@description('Resource group in the factory lab\'s subscription where the lab creates all of its VMs (the lab setting "All virtual machines in one resource group"). The identity gets read access to OS disks there.')
param factoryVmResourceGroupName string

@description('Resource ids of the team labs that receive custom images, as a JSON array of lab resource ids.')
param teamLabIds array

@minValue(1)
@maxValue(1000)
@description('Maximum number of Flex Consumption instances the app scales out to.')
param maximumInstanceCount int = 100

@minValue(1)
@description('Seconds between two checks of a long-running lab operation (FACTORY_MONITOR_INTERVAL_SECONDS).')
param monitorIntervalSeconds int = 60

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var imageStoreContainerName = 'images'
// Flex Consumption downloads the app's deployment package from this blob container.
var deploymentContainerName = 'app-package'

// Resource Manager endpoint of the cloud this template is deployed to, without the trailing slash.
var resourceManagerUrl = environment().resourceManager
var armEndpoint = endsWith(resourceManagerUrl, '/')
  ? substring(resourceManagerUrl, 0, length(resourceManagerUrl) - 1)
  : resourceManagerUrl

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    workspaceName: 'log-${resourceToken}'
    applicationInsightsName: 'appi-${resourceToken}'
    location: location
    tags: tags
    publisherPrincipalId: identity.outputs.principalId
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'st${resourceToken}'
    location: location
    tags: tags
    containerNames: [
      deploymentContainerName
      imageStoreContainerName
    ]
    dataPrincipalId: identity.outputs.principalId
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: 'kv-${resourceToken}'
    location: location
    tags: tags
    readerPrincipalId: identity.outputs.principalId
    officerPrincipalId: principalId
    githubWebhookSecret: githubWebhookSecret
    adoWebhookSecret: adoWebhookSecret
  }
}

// The app uses outputs of the storage, Key Vault and monitoring modules, so it is deployed
// after them and their role assignments: it resolves its Key Vault references and reaches
// storage as soon as it starts.
module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  scope: rg
  params: {
    name: 'func-${resourceToken}'
    planName: 'plan-${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerUrl: '${storage.outputs.blobEndpoint}${deploymentContainerName}'
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    maximumInstanceCount: maximumInstanceCount
    appSettings: {
      FACTORY_CONFIG_REPO: configRepoUrl
      FACTORY_CONFIG_BRANCH: configRepoBranch
      FACTORY_GITHUB_WEBHOOK_SECRET: '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.githubWebhookSecretUri})'
      FACTORY_ADO_WEBHOOK_SECRET: '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.adoWebhookSecretUri})'
      FACTORY_ARM_ENDPOINT: armEndpoint
      FACTORY_IMAGE_STORE_CONTAINER: imageStoreContainerName
      FACTORY_MONITOR_INTERVAL_SECONDS: string(monitorIntervalSeconds)
    }
    // Only a private configuration repository needs a token. The secret itself is set by the
    // administrator (docs/deploy.md), so that a deployment never overwrites it.
    optionalAppSettings: configRepoAuth == 'token'
      ? {
          FACTORY_CONFIG_REPO_TOKEN: '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.vaultUri}secrets/config-repo-token)'
        }
      : {}
  }
}

module labRoles 'modules/lab-roles.bicep' = {
  name: 'lab-roles-${resourceToken}'
  params: {
    roleNameSuffix: '${environmentName}-${resourceToken}'
    labSubscriptionIds: union(
      [subscription().subscriptionId],
      [split(factoryLabId, '/')[2]],
      map(teamLabIds, labId => split(labId, '/')[2])
    )
  }
}

// A lab id splits on '/' into ['', 'subscriptions', <id>, 'resourceGroups', <group>,
// 'providers', 'Microsoft.DevTestLab', 'labs', <name>].
module factoryLabAccess 'modules/lab-access.bicep' = {
  name: 'factory-lab-access-${resourceToken}'
  scope: resourceGroup(split(factoryLabId, '/')[2], split(factoryLabId, '/')[4])
  params: {
    labName: split(factoryLabId, '/')[8]
    principalId: identity.outputs.principalId
    roleDefinitionName: labRoles.outputs.labBuilderRoleName
    purpose: 'Image Factory builds images on VMs in this lab.'
  }
}

module factoryDiskAccess 'modules/disk-access.bicep' = {
  name: 'factory-disk-access-${resourceToken}'
  scope: resourceGroup(split(factoryLabId, '/')[2], factoryVmResourceGroupName)
  params: {
    principalId: identity.outputs.principalId
    roleDefinitionName: labRoles.outputs.diskReaderRoleName
  }
}

module teamLabAccess 'modules/lab-access.bicep' = [
  for (labId, index) in teamLabIds: {
    name: 'team-lab-access-${resourceToken}-${index}'
    scope: resourceGroup(split(labId, '/')[2], split(labId, '/')[4])
    params: {
      labName: split(labId, '/')[8]
      principalId: identity.outputs.principalId
      roleDefinitionName: labRoles.outputs.labDistributorRoleName
      purpose: 'Image Factory copies custom images into this lab.'
    }
  }
]

// A lab's storage account is known only once the lab is read, so its name reaches the
// module as a parameter. The factory lab receives uploads too: the bases of layered images.
resource factoryLab 'Microsoft.DevTestLab/labs@2018-09-15' existing = {
  name: split(factoryLabId, '/')[8]
  scope: resourceGroup(split(factoryLabId, '/')[2], split(factoryLabId, '/')[4])
}

module factoryLabUploadsAccess 'modules/lab-uploads-access.bicep' = {
  name: 'factory-lab-uploads-access-${resourceToken}'
  scope: resourceGroup(split(factoryLabId, '/')[2], split(factoryLabId, '/')[4])
  params: {
    storageAccountName: last(split(factoryLab.properties.defaultStorageAccount, '/'))
    principalId: identity.outputs.principalId
    roleDefinitionName: labRoles.outputs.uploadCleanerRoleName
  }
}

resource teamLabs 'Microsoft.DevTestLab/labs@2018-09-15' existing = [
  for labId in teamLabIds: {
    name: split(labId, '/')[8]
    scope: resourceGroup(split(labId, '/')[2], split(labId, '/')[4])
  }
]

module teamLabUploadsAccess 'modules/lab-uploads-access.bicep' = [
  for (labId, index) in teamLabIds: {
    name: 'team-lab-uploads-access-${resourceToken}-${index}'
    scope: resourceGroup(split(labId, '/')[2], split(labId, '/')[4])
    params: {
      storageAccountName: last(split(teamLabs[index].properties.defaultStorageAccount, '/'))
      principalId: identity.outputs.principalId
      roleDefinitionName: labRoles.outputs.uploadCleanerRoleName
    }
  }
]

// azd stores these outputs in the environment (.azure/<env>/.env). None is a secret.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_APP_URL string = functionApp.outputs.url
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output AZURE_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
