// Azure resources for Tributary, in one resource group:
// - Event Hubs namespace (Standard: Capture and the Kafka endpoint) with the hubs orders and telemetry and the
//   consumer group `lake`, each hub captured as Avro into the `capture` container;
// - a storage account with hierarchical namespace (ADLS Gen2) holding the containers capture, checkpoints
//   (Event Hubs checkpoints at the root, state snapshots under state/), deadletter and lake; shared keys off;
// - user-assigned identities: the worker (federated with its Kubernetes service account), KEDA (federated with
//   the KEDA operator, read-only), and Capture (writes the archive); least-privilege role assignments.
//
//   az deployment group create -g <rg> -f deploy/azure/main.bicep -p aksOidcIssuerUrl=<issuer URL>
//
// Names here must agree with deploy/k8s (config maps and ScaledObjects); test/deploy/deploy.test.ts checks them.

@description('Region of every resource.')
param location string = resourceGroup().location

@description('Event Hubs namespace name; the worker connects to <name>.servicebus.windows.net.')
param eventHubsNamespaceName string = 'tributary-prod'

@description('Storage account name (globally unique, 3-24 lower-case letters and digits).')
@minLength(3)
@maxLength(24)
param storageAccountName string = 'tributarylake'

@description('Hubs to create, one per stream.')
param hubNames array = [
  'orders'
  'telemetry'
]

@description('Partitions per hub. The most replicas a consumer group can use; fixed for the life of a Standard hub.')
@minValue(1)
@maxValue(32)
param partitionCount int = 8

@description('Retention of events in the hubs; older history is replayed from the Capture archive.')
@minValue(1)
@maxValue(7)
param messageRetentionInDays int = 7

@description('Consumer group of the lake workers (one Deployment per consumer group). Lower case: the checkpoint blob names are lower-cased.')
param consumerGroupName string = 'lake'

@description('Throughput units of the namespace.')
@minValue(1)
param throughputUnits int = 2

@description('Allow SAS keys on the namespace. Needed only for the Kafka endpoint with SASL PLAIN ($ConnectionString); Entra ID otherwise.')
param allowSasKeys bool = false

@description('OIDC issuer URL of the AKS cluster (az aks show --query oidcIssuerProfile.issuerUrl).')
param aksOidcIssuerUrl string

@description('Kubernetes namespace of the workers.')
param workerNamespace string = 'tributary'

@description('Kubernetes service account of the workers (deploy/k8s/base/serviceaccount.yaml).')
param workerServiceAccount string = 'tributary'

@description('Kubernetes namespace of the KEDA operator.')
param kedaNamespace string = 'keda'

@description('Kubernetes service account of the KEDA operator.')
param kedaServiceAccount string = 'keda-operator'

var containerNames = {
  capture: 'capture'
  checkpoints: 'checkpoints'
  deadLetter: 'deadletter'
  lake: 'lake'
}

// Built-in role definition ids.
var roles = {
  eventHubsDataReceiver: 'a638d3c7-ab3a-418d-83e6-5f17a39d4fde'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageBlobDataReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
}

// ---------------------------------------------------------------------------------------------- identities

resource workerIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-tributary-worker'
  location: location
}

resource kedaIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-tributary-keda'
  location: location
}

resource captureIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-tributary-capture'
  location: location
}

resource workerFederation 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@2023-01-31' = {
  parent: workerIdentity
  name: 'aks-${workerNamespace}-${workerServiceAccount}'
  properties: {
    issuer: aksOidcIssuerUrl
    subject: 'system:serviceaccount:${workerNamespace}:${workerServiceAccount}'
    audiences: [
      'api://AzureADTokenExchange'
    ]
  }
}

resource kedaFederation 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@2023-01-31' = {
  parent: kedaIdentity
  name: 'aks-${kedaNamespace}-${kedaServiceAccount}'
  properties: {
    issuer: aksOidcIssuerUrl
    subject: 'system:serviceaccount:${kedaNamespace}:${kedaServiceAccount}'
    audiences: [
      'api://AzureADTokenExchange'
    ]
  }
}

// ------------------------------------------------------------------------------------------------- storage

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: storageAccountName
  location: location
  kind: 'StorageV2'
  sku: {
    name: 'Standard_ZRS'
  }
  properties: {
    isHnsEnabled: true
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource captureContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: containerNames.capture
}

resource checkpointsContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: containerNames.checkpoints
}

resource deadLetterContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: containerNames.deadLetter
}

resource lakeContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: containerNames.lake
}

// -------------------------------------------------------------------------------------------- event hubs

resource eventHubs 'Microsoft.EventHub/namespaces@2024-01-01' = {
  name: eventHubsNamespaceName
  location: location
  sku: {
    name: 'Standard'
    tier: 'Standard'
    capacity: throughputUnits
  }
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${captureIdentity.id}': {}
    }
  }
  properties: {
    disableLocalAuth: !allowSasKeys
    minimumTlsVersion: '1.2'
  }
}

resource hubs 'Microsoft.EventHub/namespaces/eventhubs@2024-01-01' = [for hub in hubNames: {
  parent: eventHubs
  name: hub
  properties: {
    partitionCount: partitionCount
    messageRetentionInDays: messageRetentionInDays
    captureDescription: {
      enabled: true
      encoding: 'Avro'
      intervalInSeconds: 300
      sizeLimitInBytes: 314572800
      skipEmptyArchives: true
      destination: {
        name: 'EventHubArchive.AzureBlockBlob'
        identity: {
          type: 'UserAssigned'
          userAssignedIdentity: captureIdentity.id
        }
        properties: {
          storageAccountResourceId: storage.id
          blobContainer: containerNames.capture
          // Capture's default layout, which the capture source reads
          archiveNameFormat: '{Namespace}/{EventHub}/{PartitionId}/{Year}/{Month}/{Day}/{Hour}/{Minute}/{Second}'
        }
      }
    }
  }
  // Capture checks its access to the container when it is enabled.
  dependsOn: [
    captureWritesArchive
  ]
}]

resource consumerGroups 'Microsoft.EventHub/namespaces/eventhubs/consumergroups@2024-01-01' = [for (hub, i) in hubNames: {
  parent: hubs[i]
  name: consumerGroupName
  properties: {
    userMetadata: 'Tributary lake workers'
  }
}]

// ------------------------------------------------------------------------------------------- role grants

// Worker: receive from every hub; read and write its checkpoints, snapshots, dead letters and the lake;
// read the Capture archive (replays of history older than the hubs' retention).
resource workerReceives 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: eventHubs
  name: guid(eventHubs.id, workerIdentity.id, roles.eventHubsDataReceiver)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.eventHubsDataReceiver)
    principalId: workerIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource workerWritesCheckpoints 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: checkpointsContainer
  name: guid(checkpointsContainer.id, workerIdentity.id, roles.storageBlobDataContributor)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: workerIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource workerWritesDeadLetters 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: deadLetterContainer
  name: guid(deadLetterContainer.id, workerIdentity.id, roles.storageBlobDataContributor)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: workerIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource workerWritesLake 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: lakeContainer
  name: guid(lakeContainer.id, workerIdentity.id, roles.storageBlobDataContributor)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: workerIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource workerReadsArchive 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: captureContainer
  name: guid(captureContainer.id, workerIdentity.id, roles.storageBlobDataReader)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataReader)
    principalId: workerIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// KEDA: read partition information from the hubs and the checkpoint blobs, nothing else.
resource kedaReadsHubs 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: eventHubs
  name: guid(eventHubs.id, kedaIdentity.id, roles.eventHubsDataReceiver)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.eventHubsDataReceiver)
    principalId: kedaIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource kedaReadsCheckpoints 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: checkpointsContainer
  name: guid(checkpointsContainer.id, kedaIdentity.id, roles.storageBlobDataReader)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataReader)
    principalId: kedaIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// Capture: write the archive, nowhere else.
resource captureWritesArchive 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: captureContainer
  name: guid(captureContainer.id, captureIdentity.id, roles.storageBlobDataContributor)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: captureIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// ------------------------------------------------------------------------------------------------ outputs

@description('azure.workload.identity/client-id of the workers\' service account.')
output workerClientId string = workerIdentity.properties.clientId

@description('podIdentity.identityId of the KEDA TriggerAuthentication.')
output kedaClientId string = kedaIdentity.properties.clientId

output fullyQualifiedNamespace string = '${eventHubs.name}.servicebus.windows.net'
output kafkaBootstrapServers string = '${eventHubs.name}.servicebus.windows.net:9093'
output blobEndpoint string = storage.properties.primaryEndpoints.blob
