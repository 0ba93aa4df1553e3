/**
 * The deploy/ files cannot be applied here (no cluster, no Azure, no Docker engine), so this test checks what
 * breaks silently when one side of a pair changes: probe paths vs the metrics server's routes, ports, names the
 * ScaledObjects share with the Deployment and the worker's config, the Bicep defaults vs the manifests, and the
 * metric names the alerts use vs what TributaryMetrics registers.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { configSchema, sourceSchema } from '../../src/config/schema.js';
import { TributaryMetrics } from '../../src/metrics/metrics.js';
import { LIVENESS_PATH, METRICS_PATH, READINESS_PATH } from '../../src/metrics/server.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const DEPLOY = path.join(ROOT, 'deploy');

/** A parsed Kubernetes object; the tests walk it by the fields they check. */
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  // untyped on purpose: each test reads the fields it checks and asserts their shape
  spec?: any;
  data?: Record<string, string>;
}

function readYamlDocuments(file: string): K8sObject[] {
  const documents = parseAllDocuments(readFileSync(file, 'utf8'));
  for (const document of documents) {
    if (document.errors.length > 0) throw new Error(`${file}: ${document.errors.map((e) => e.message).join('; ')}`);
  }
  return documents.map((document) => document.toJS() as K8sObject).filter((object) => object !== null);
}

/** The objects `kubectl apply -k <dir>` would create, with strategic-merge patches of env lists applied. */
function kustomize(dir: string): { namespace: string | undefined; objects: K8sObject[] } {
  const kustomization = parse(readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8')) as {
    namespace?: string;
    resources: string[];
    patches?: { path: string }[];
  };
  const objects: K8sObject[] = [];
  for (const resource of kustomization.resources) {
    const target = path.join(dir, resource);
    if (existsSync(path.join(target, 'kustomization.yaml'))) objects.push(...kustomize(target).objects);
    else objects.push(...readYamlDocuments(target));
  }
  for (const patch of kustomization.patches ?? []) {
    for (const patchObject of readYamlDocuments(path.join(dir, patch.path))) applyDeploymentPatch(objects, patchObject);
  }
  return { namespace: kustomization.namespace, objects };
}

interface Container {
  name: string;
  env?: { name: string }[];
}

function applyDeploymentPatch(objects: K8sObject[], patch: K8sObject): void {
  const target = objects.find((o) => o.kind === patch.kind && o.metadata.name === patch.metadata.name);
  if (!target) throw new Error(`patch targets ${patch.kind}/${patch.metadata.name}, which the overlay does not contain`);
  for (const patchContainer of patch.spec.template.spec.containers as Container[]) {
    const container = (target.spec.template.spec.containers as Container[]).find((c) => c.name === patchContainer.name);
    if (!container) throw new Error(`patch targets container ${patchContainer.name}, which ${patch.metadata.name} does not have`);
    container.env = [...(container.env ?? []), ...(patchContainer.env ?? [])];
  }
}

function one(objects: K8sObject[], kind: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind);
  expect(found.map((o) => o.kind)).toEqual([kind]);
  return found[0]!;
}

/** Default values of the Bicep file's parameters and variables that the manifests must agree with. */
function bicepDefaults(): { text: string; params: Record<string, string>; hubNames: string[]; containers: string[] } {
  const text = readFileSync(path.join(DEPLOY, 'azure/main.bicep'), 'utf8');
  const params: Record<string, string> = {};
  for (const [, name, value] of text.matchAll(/^param (\w+) (?:string|int|bool) = '?([^'\n]*?)'?$/gm)) params[name!] = value!;
  const hubBlock = /param hubNames array = \[([^\]]*)\]/.exec(text)?.[1] ?? '';
  const containerBlock = /var containerNames = \{([^}]*)\}/.exec(text)?.[1] ?? '';
  return {
    text,
    params,
    hubNames: [...hubBlock.matchAll(/'([^']+)'/g)].map((m) => m[1]!),
    containers: [...containerBlock.matchAll(/:\s*'([^']+)'/g)].map((m) => m[1]!),
  };
}

interface WorkerConfig {
  source: Record<string, unknown> & { kind: string };
  processing: { rowsPerFile: number };
  lake: { container: string; accountUrl: string };
  deadLetter: { container: string; accountUrl: string };
  state: { container: string; accountUrl: string };
  metrics: { host: string; port: number };
  streams: Record<string, { schema: string }>;
}

function workerConfig(objects: K8sObject[], deployment: K8sObject): WorkerConfig {
  const volume = (deployment.spec.template.spec.volumes as { name: string; configMap?: { name: string } }[]).find((v) => v.configMap);
  const configMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === volume?.configMap?.name);
  expect(configMap, `ConfigMap ${volume?.configMap?.name} mounted by the Deployment`).toBeDefined();
  const text = configMap!.data?.['tributary.yaml'];
  expect(text, 'ConfigMap key tributary.yaml (the file CMD names)').toBeDefined();
  return parse(text!) as WorkerConfig;
}

const knownSourceKinds = (): string[] =>
  sourceSchema.options.map((option) => String((option.shape.kind as unknown as { value: string }).value));

const PARTITION_COUNT = Number(bicepDefaults().params.partitionCount);

describe.each(['eventhubs', 'kafka'])('k8s overlay %s', (overlay) => {
  const { namespace, objects } = kustomize(path.join(DEPLOY, 'k8s', overlay));
  const deployment = one(objects, 'Deployment');
  const pod = deployment.spec.template;
  const container = pod.spec.containers[0];
  const config = workerConfig(objects, deployment);

  it('probes the routes the metrics server serves, on the port the worker config binds', () => {
    const metricsPort = (container.ports as { name: string; containerPort: number }[]).find((p) => p.name === 'metrics');
    expect(metricsPort?.containerPort).toBe(config.metrics.port);
    // the kubelet and Prometheus connect from outside the pod
    expect(config.metrics.host).toBe('0.0.0.0');
    expect(container.livenessProbe.httpGet).toEqual({ path: LIVENESS_PATH, port: 'metrics' });
    expect(container.startupProbe.httpGet).toEqual({ path: LIVENESS_PATH, port: 'metrics' });
    expect(container.readinessProbe.httpGet).toEqual({ path: READINESS_PATH, port: 'metrics' });
    expect(pod.metadata.annotations['prometheus.io/path']).toBe(METRICS_PATH);
    expect(Number(pod.metadata.annotations['prometheus.io/port'])).toBe(config.metrics.port);

    const service = one(objects, 'Service');
    expect(service.spec.ports[0].targetPort).toBe('metrics');
    expect(Object.entries(service.spec.selector).every(([k, v]) => pod.metadata.labels[k] === v)).toBe(true);
  });

  it('leaves replicas to KEDA, shuts down within a grace period, runs unprivileged as the Dockerfile sets up', () => {
    expect(deployment.spec.replicas).toBeUndefined();
    expect(pod.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(60);
    expect(pod.spec.securityContext.runAsNonRoot).toBe(true);
    expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(container.args).toEqual(['run', '--config', '/config/tributary.yaml']);
    const configMount = (container.volumeMounts as { name: string; mountPath: string }[]).find((m) => m.mountPath === '/config');
    expect(configMount).toBeDefined();
    const serviceAccount = one(objects, 'ServiceAccount');
    expect(pod.spec.serviceAccountName).toBe(serviceAccount.metadata.name);
    expect(pod.metadata.labels['azure.workload.identity/use']).toBe('true');
    expect(Object.entries(deployment.spec.selector.matchLabels).every(([k, v]) => pod.metadata.labels[k] === v)).toBe(true);
  });

  it('ships a worker config that passes the config schema (the source section once its kind exists)', () => {
    const result = configSchema.safeParse(config);
    const issues = result.success ? [] : result.error.issues;
    const sourceKnown = knownSourceKinds().includes(config.source.kind);
    const blocking = sourceKnown ? issues : issues.filter((issue) => issue.path[0] !== 'source');
    expect(blocking.map((issue) => `${issue.path.join('.')}: ${issue.message}`)).toEqual([]);
    for (const stream of Object.values(config.streams)) expect(existsSync(path.join(ROOT, stream.schema)), stream.schema).toBe(true);
    // Entra ID through the workload identity: no account keys or connection strings in the config map
    expect(JSON.stringify(config)).not.toMatch(/AccountKey=|SharedAccessKey=/);
  });

  it('scales the Deployment it sits beside, never past the partition count, never on the open-cell baseline', () => {
    const scaledObject = one(objects, 'ScaledObject');
    expect(scaledObject.spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: deployment.metadata.name });
    expect(scaledObject.spec.maxReplicaCount).toBeLessThanOrEqual(PARTITION_COUNT);
    expect(scaledObject.spec.minReplicaCount).toBeGreaterThanOrEqual(1);
    const authentications = objects.filter((o) => o.kind === 'TriggerAuthentication').map((o) => o.metadata.name);
    const baseline = PARTITION_COUNT * config.processing.rowsPerFile;
    for (const trigger of scaledObject.spec.triggers as { type: string; metadata: Record<string, string>; authenticationRef: { name: string } }[]) {
      expect(authentications).toContain(trigger.authenticationRef.name);
      const threshold = Number(trigger.metadata.unprocessedEventThreshold ?? trigger.metadata.lagThreshold);
      expect(threshold).toBeGreaterThanOrEqual(baseline);
    }
    expect(namespace).toBe(bicepDefaults().params.workerNamespace);
  });

  if (overlay === 'eventhubs') {
    it('points KEDA at the checkpoint blobs the worker writes (blobMetadata, same namespace, hubs, group, container)', () => {
      const source = config.source as unknown as { fullyQualifiedNamespace: string; consumerGroup: string; hubs: Record<string, string> };
      const scaledObject = one(objects, 'ScaledObject');
      const triggers = scaledObject.spec.triggers as { type: string; metadata: Record<string, string> }[];
      expect(triggers.map((t) => t.metadata.eventHubName).sort()).toEqual(Object.values(source.hubs).sort());
      for (const { type, metadata } of triggers) {
        expect(type).toBe('azure-eventhub');
        expect(metadata.checkpointStrategy).toBe('blobMetadata');
        expect(`${metadata.eventHubNamespace}.servicebus.windows.net`).toBe(source.fullyQualifiedNamespace);
        expect(metadata.consumerGroup).toBe(source.consumerGroup);
        // checkpoints sit at the root of the state store's container
        expect(metadata.blobContainer).toBe(config.state.container);
        expect(metadata.storageAccountName).toBe(new URL(config.state.accountUrl).hostname.split('.')[0]);
        // @azure/eventhubs-checkpointstore-blob lower-cases the blob path; KEDA must look for the same name
        expect(`${metadata.eventHubName}/${metadata.consumerGroup}`).toBe(`${metadata.eventHubName}/${metadata.consumerGroup}`.toLowerCase());
      }
      const authentication = one(objects, 'TriggerAuthentication');
      expect(authentication.spec.podIdentity.provider).toBe('azure-workload');
    });
  } else {
    it('points KEDA at the consumer group and topics the worker commits offsets for, with the secret it uses', () => {
      const source = config.source as unknown as { brokers: string[]; groupId: string; topics: Record<string, string> };
      const scaledObject = one(objects, 'ScaledObject');
      const triggers = scaledObject.spec.triggers as { type: string; metadata: Record<string, string> }[];
      expect(triggers.map((t) => t.metadata.topic).sort()).toEqual(Object.values(source.topics).sort());
      for (const { type, metadata } of triggers) {
        expect(type).toBe('kafka');
        expect(metadata.consumerGroup).toBe(source.groupId);
        expect(metadata.bootstrapServers?.split(',')).toEqual(source.brokers);
        expect(metadata.allowIdleConsumers).toBe('false');
      }
      const authentication = one(objects, 'TriggerAuthentication');
      const secrets = new Set((authentication.spec.secretTargetRef as { name: string }[]).map((ref) => ref.name));
      const env = (container.env as { name: string; valueFrom?: { secretKeyRef?: { name: string } } }[]).filter((e) => e.valueFrom?.secretKeyRef);
      expect(env.map((e) => e.valueFrom!.secretKeyRef!.name)).toEqual([...secrets]);
    });
  }
});

describe('Bicep', () => {
  const bicep = bicepDefaults();
  const eventhubs = kustomize(path.join(DEPLOY, 'k8s/eventhubs'));
  const config = workerConfig(eventhubs.objects, one(eventhubs.objects, 'Deployment'));
  const source = config.source as unknown as { fullyQualifiedNamespace: string; consumerGroup: string; hubs: Record<string, string> };

  it('creates the namespace, hubs, consumer group and containers the manifests name', () => {
    expect(`${bicep.params.eventHubsNamespaceName}.servicebus.windows.net`).toBe(source.fullyQualifiedNamespace);
    expect(bicep.hubNames.sort()).toEqual(Object.values(source.hubs).sort());
    expect(bicep.params.consumerGroupName).toBe(source.consumerGroup);
    for (const store of [config.lake, config.deadLetter, config.state]) {
      expect(bicep.containers).toContain(store.container);
      expect(new URL(store.accountUrl).hostname).toBe(`${bicep.params.storageAccountName}.blob.core.windows.net`);
    }
    expect(bicep.params.workerServiceAccount).toBe(one(eventhubs.objects, 'ServiceAccount').metadata.name);
  });

  it('uses GA API versions, an HNS account, Capture to blob and Entra-only access by default', () => {
    const versions = [...bicep.text.matchAll(/^resource \w+ '([\w./]+)@([\w-]+)'/gm)].map((m) => `${m[1]}@${m[2]}`);
    expect(versions.length).toBeGreaterThanOrEqual(10);
    for (const version of versions) expect(version).toMatch(/@\d{4}-\d{2}-\d{2}$/);
    expect(bicep.text).toMatch(/isHnsEnabled: true/);
    expect(bicep.text).toMatch(/allowSharedKeyAccess: false/);
    expect(bicep.text).toMatch(/captureDescription: \{\s+enabled: true\s+encoding: 'Avro'/);
    expect(bicep.params.allowSasKeys).toBe('false');
    // workload identity for the workers' and KEDA's service accounts
    expect(bicep.text.match(/federatedIdentityCredentials@/g)?.length).toBe(2);
  });
});

describe('Prometheus alert rules', () => {
  const rules = (parse(readFileSync(path.join(DEPLOY, 'prometheus/tributary-alerts.yaml'), 'utf8')) as {
    groups: { name: string; rules: { alert: string; expr: string; labels: { severity: string } }[] }[];
  }).groups.flatMap((group) => group.rules);

  it('reference only metrics that TributaryMetrics registers', async () => {
    const registry = new Registry();
    new TributaryMetrics(registry);
    const registered = (await registry.getMetricsAsJSON()).map((metric) => metric.name);
    const histograms = (await registry.getMetricsAsJSON()).filter((m) => String(m.type) === 'histogram').map((m) => m.name);
    const used = new Set(rules.flatMap((rule) => [...rule.expr.matchAll(/\btributary_[a-z0-9_]+/g)].map((m) => m[0])));
    expect(used.size).toBeGreaterThan(0);
    for (const name of used) {
      const base = histograms.find((h) => [`${h}_bucket`, `${h}_sum`, `${h}_count`].includes(name)) ?? name;
      expect(registered, `alert metric ${name}`).toContain(base);
    }
  });

  it('cover dead letters, consumer lag, checkpoint age and a worker going down', () => {
    const exprs = rules.map((rule) => rule.expr).join('\n');
    expect(exprs).toContain('tributary_dead_letters_total');
    expect(exprs).toContain('tributary_consumer_lag_events');
    expect(exprs).toContain('tributary_checkpoint_timestamp_seconds');
    const service = one(kustomize(path.join(DEPLOY, 'k8s/eventhubs')).objects, 'Service');
    expect(exprs).toContain(`up{job="${service.metadata.name}"}`);
    for (const rule of rules) expect(['warning', 'critical']).toContain(rule.labels.severity);
  });

  it('tie the stale-checkpoint rule to two file cells of events, as the commit protocol implies', () => {
    const { objects } = kustomize(path.join(DEPLOY, 'k8s/eventhubs'));
    const { processing } = workerConfig(objects, one(objects, 'Deployment'));
    const stale = rules.find((rule) => rule.expr.includes('tributary_checkpoint_timestamp_seconds'));
    expect(stale?.expr).toContain(`> ${2 * processing.rowsPerFile}`);
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(path.join(DEPLOY, 'Dockerfile'), 'utf8');
  const packageJson = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };

  it('builds on a current Node LTS slim image in stages, and prunes dev dependencies', () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:(22|24)-slim$/m);
    expect(dockerfile.match(/^FROM \$\{NODE_IMAGE\} AS \w+$/gm)).toHaveLength(2);
    expect(dockerfile).toMatch(/RUN npm ci\b/);
    expect(dockerfile).toMatch(/npm run build/);
    expect(dockerfile).toMatch(/npm prune --omit=dev/);
  });

  it('runs the CLI binary as a non-root user with the run command on the mounted config', () => {
    const user = /^USER (\S+)$/m.exec(dockerfile)?.[1];
    expect(user).toBeDefined();
    expect(user!.split(':')[0]).not.toMatch(/^(0|root)$/);
    expect(/^ENTRYPOINT (.*)$/m.exec(dockerfile)?.[1]).toBe(JSON.stringify(['node', packageJson.bin.tributary]).replace(/","/g, '", "'));
    expect(/^CMD (.*)$/m.exec(dockerfile)?.[1]).toBe('["run", "--config", "/config/tributary.yaml"]');
    expect(dockerfile).toMatch(/COPY examples\/schemas/);
  });
});
