// Azure resources for Tributary, in one resource group:
// - Event Hubs namespace (Standard: Capture and the Kafka endpoint) with the hubs orders and telemetry and the
//   consumer group `lake`, each hub captured as Avro into the `capture` container;
// - a storage account with hierarchical namespace (ADLS Gen2) holding the containers capture, checkpoints
//   (Event Hubs checkpoints at the root, state snapshots under state/), deadletter and lake; shared keys off;
// - user-assigned identities, least privilege each: the workers (one federated credential per consumer group, for
//   that group's Kubernetes service account tributary-<group>), the sender (replay-deadletters and gen: sends to
//   the hubs, reads the dead letters; federated with tributary-replay), and Capture (writes the archive).
//   KEDA needs no Azure identity: it scales on the workers' own lag metric in Prometheus (deploy/k8s/*/scaledobject.yaml).
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

@description('Consumer groups of the lake workers, one Deployment and one ServiceAccount (tributary-<group>) each (deploy/k8s: one overlay per group, nameSuffix -<group>). Lower case: the checkpoint blob names are lower-cased.')
param consumerGroups array = [
  'lake'
]

@description('Throughput units of the namespace.')
@minValue(1)
param throughputUnits int = 2

@description('Allow SAS keys on the namespace. Needed only for the Kafka endpoint with SASL PLAIN ($ConnectionString); Entra ID otherwise.')
param allowSasKeys bool = false

@description('OIDC issuer URL of the AKS cluster (az aks show --query oidcIssuerProfile.issuerUrl).')
param aksOidcIssuerUrl string

@description('Kubernetes namespace of the workers.')
param workerNamespace string = 'tributary'

@description('Service account name of the workers before the overlay\'s nameSuffix (deploy/k8s/base/serviceaccount.yaml); consumer group <group> runs as <prefix>-<group>.')
param workerServiceAccountPrefix string = 'tributary'

@description('Service account of the replay and gen Jobs (deploy/k8s/replay/serviceaccount.yaml), federated with the sender identity.')
param senderServiceAccount string = 'tributary-replay'

@description('Object ids of principals (people, CI) that may send to the hubs from outside the cluster: `tributary gen` and `replay-deadletters` to Event Hubs.')
param senderPrincipalIds array = []

var containerNames = {
  capture: 'capture'
  checkpoints: 'checkpoints'
  deadLetter: 'deadletter'
  lake: 'lake'
}

// Built-in role definition ids.
var roles = {
  eventHubsDataReceiver: 'a638d3c7-ab3a-418d-83e6-5f17a39d4fde'
  eventHubsDataSender: '2b629674-e913-4c01-ae53-ef4638d8f975'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageBlobDataReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
}

// ---------------------------------------------------------------------------------------------- identities

resource workerIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-tributary-worker'
  location: location
}

resource senderIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-tributary-sender'
  location: location
}

resource captureIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-tributary-capture'
  location: location
}

// One federated credential per consumer group: each group's pods run as their own service account. Azure
// rejects concurrent writes of one identity's federated credentials, hence batchSize(1).
@batchSize(1)
resource workerFederations 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@2023-01-31' = [for group in consumerGroups: {
  parent: workerIdentity
  name: 'aks-${workerNamespace}-${workerServiceAccountPrefix}-${group}'
  properties: {
    issuer: aksOidcIssuerUrl
    subject: 'system:serviceaccount:${workerNamespace}:${workerServiceAccountPrefix}-${group}'
    audiences: [
      'api://AzureADTokenExchange'
    ]
  }
}]

resource senderFederation 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@2023-01-31' = {
  parent: senderIdentity
  name: 'aks-${workerNamespace}-${senderServiceAccount}'
  properties: {
    issuer: aksOidcIssuerUrl
    subject: 'system:serviceaccount:${workerNamespace}:${senderServiceAccount}'
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

// Every consumer group on every hub.
var hubConsumerGroups = flatten(map(range(0, length(hubNames)), h => map(consumerGroups, group => {
  hubIndex: h
  group: group
})))

resource hubConsumerGroupResources 'Microsoft.EventHub/namespaces/eventhubs/consumergroups@2024-01-01' = [for pair in hubConsumerGroups: {
  parent: hubs[pair.hubIndex]
  name: pair.group
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

// Sender: send to the hubs (replay-deadletters, gen) and read the dead letters it replays; nothing else.
resource senderSends 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: eventHubs
  name: guid(eventHubs.id, senderIdentity.id, roles.eventHubsDataSender)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.eventHubsDataSender)
    principalId: senderIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource senderReadsDeadLetters 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: deadLetterContainer
  name: guid(deadLetterContainer.id, senderIdentity.id, roles.storageBlobDataReader)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataReader)
    principalId: senderIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// People or CI that run `tributary gen` / `replay-deadletters` against the hubs from outside the cluster.
resource principalsSend 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for principalId in senderPrincipalIds: {
  scope: eventHubs
  name: guid(eventHubs.id, principalId, roles.eventHubsDataSender)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.eventHubsDataSender)
    principalId: principalId
  }
}]

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

@description('azure.workload.identity/client-id of the replay service account (deploy/k8s/replay).')
output senderClientId string = senderIdentity.properties.clientId

output fullyQualifiedNamespace string = '${eventHubs.name}.servicebus.windows.net'
output kafkaBootstrapServers string = '${eventHubs.name}.servicebus.windows.net:9093'
output blobEndpoint string = storage.properties.primaryEndpoints.blob
