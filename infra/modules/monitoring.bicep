// Log Analytics workspace and workspace-based Application Insights that accept telemetry
// only with a Microsoft Entra ID token, because local (instrumentation key) authentication
// is disabled.

@description('Name of the Log Analytics workspace.')
param workspaceName string

@description('Name of the Application Insights component.')
param applicationInsightsName string

@description('Azure region of both resources.')
param location string

@description('Tags applied to both resources.')
param tags object

@description('Principal (the app\'s identity) that publishes telemetry to Application Insights.')
param publisherPrincipalId string

// Monitoring Metrics Publisher: lets a principal send telemetry to a component that has
// local authentication disabled. Role id from the Azure built-in roles reference,
// https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/monitor
var monitoringMetricsPublisherRoleId = '3913510d-42f4-4e42-8a64-420c390055eb'

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: workspaceName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
    features: {
      disableLocalAuth: true
    }
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableLocalAuth: true
  }
}

resource publisherAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, publisherPrincipalId, monitoringMetricsPublisherRoleId)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId(
      'Microsoft.Authorization/roleDefinitions',
      monitoringMetricsPublisherRoleId
    )
    principalId: publisherPrincipalId
    principalType: 'ServicePrincipal'
    description: 'Image Factory sends its traces and metrics with Microsoft Entra ID authentication.'
  }
}

output applicationInsightsName string = applicationInsights.name
