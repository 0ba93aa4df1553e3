/**
 * The deploy/ files cannot be applied here (no cluster, no Azure, no Docker engine), so this test renders the
 * kustomizations (test/deploy/kustomize.ts, checked against the real kustomize where kubectl exists), parses the
 * Bicep text and the rule files, and checks what breaks silently when one side of a pair changes: probe paths vs
 * the server's routes, ports, the names each consumer group's overlay makes vs the identities the Bicep federates,
 * the scaler's query vs the metric and the scrape job, the drain deadline vs the grace period, the schemas
 * ConfigMap vs the config's paths, the alerts' metrics, job and runbooks, and the image's Node vs the tests'.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { configSchema, sourceSchema, type TributaryConfig } from '../../src/config/schema.js';
import { METRIC_NAMES, TributaryMetrics } from '../../src/metrics/metrics.js';
import { LIVENESS_PATH, METRICS_PATH, READINESS_PATH } from '../../src/metrics/server.js';
import { backstopMs } from '../../src/runtime/drain-deadline.js';
import { kustomize, type K8sObject } from './kustomize.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const DEPLOY = path.join(ROOT, 'deploy');
const K8S = path.join(DEPLOY, 'k8s');
const SCHEMAS_MOUNT = '/schemas';

function one(objects: K8sObject[], kind: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind);
  expect(found.map((o) => o.kind)).toEqual([kind]);
  return found[0]!;
}

function named(objects: K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  expect(found, `${kind}/${name}`).toBeDefined();
  return found!;
}

/** The Bicep file's text, its scalar parameter defaults, and its array defaults. */
function bicep(): { text: string; params: Record<string, string>; arrays: Record<string, string[]>; containers: string[] } {
  const text = readFileSync(path.join(DEPLOY, 'azure/main.bicep'), 'utf8');
  const params: Record<string, string> = {};
  for (const [, name, value] of text.matchAll(/^param (\w+) (?:string|int|bool) = '?([^'\n]*?)'?$/gm)) params[name!] = value!;
  const arrays: Record<string, string[]> = {};
  for (const [, name, block] of text.matchAll(/^param (\w+) array = \[([^\]]*)\]/gm)) arrays[name!] = [...block!.matchAll(/'([^']+)'/g)].map((m) => m[1]!);
  const containerBlock = /var containerNames = \{([^}]*)\}/.exec(text)?.[1] ?? '';
  return { text, params, arrays, containers: [...containerBlock.matchAll(/:\s*'([^']+)'/g)].map((m) => m[1]!) };
}

/** The body of one `resource <symbol> ... = ... { ... }` declaration (up to the next top-level declaration). */
function bicepResource(text: string, symbol: string): string {
  const start = text.search(new RegExp(`^resource ${symbol} `, 'm'));
  expect(start, `resource ${symbol}`).toBeGreaterThanOrEqual(0);
  const rest = text.slice(start);
  const end = rest.slice(1).search(/^(resource|output|var|param|@|\/\/ -)/m);
  return end < 0 ? rest : rest.slice(0, end + 1);
}

function workerConfig(objects: K8sObject[], deployment: K8sObject): { raw: Record<string, any>; parsed: TributaryConfig | undefined; issues: string[] } {
  const volume = (deployment.spec.template.spec.volumes as { name: string; configMap?: { name: string } }[]).find((v) => v.name === 'config');
  const configMap = named(objects, 'ConfigMap', volume!.configMap!.name);
  const text = configMap.data?.['tributary.yaml'];
  expect(text, 'ConfigMap key tributary.yaml (the file CMD names)').toBeDefined();
  const raw = parse(text!) as Record<string, any>;
  const result = configSchema.safeParse(raw);
  const sourceKnown = knownSourceKinds().includes(raw.source.kind);
  const issues = result.success ? [] : result.error.issues.filter((issue) => sourceKnown || issue.path[0] !== 'source').map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  return { raw, parsed: result.success ? result.data : undefined, issues };
}

const knownSourceKinds = (): string[] =>
  sourceSchema.options.map((option) => String((option.shape.kind as unknown as { value: string }).value));

const BICEP = bicep();
const PARTITION_COUNT = Number(BICEP.params.partitionCount);
const MONITORING = kustomize(path.join(K8S, 'monitoring'));
const POD_MONITOR = one(MONITORING.objects, 'PodMonitor');
const RULES = (parse(readFileSync(path.join(DEPLOY, 'prometheus/tributary-alerts.yaml'), 'utf8')) as {
  groups: { name: string; rules: { alert: string; expr: string; labels: { severity: string }; annotations: Record<string, string> }[] }[];
}).groups.flatMap((group) => group.rules);
/** The job label the PodMonitor gives every worker: the value of the pod label its jobLabel names. */
const scrapeJob = (podLabels: Record<string, string>): string | undefined => podLabels[POD_MONITOR.spec.jobLabel as string];

describe.each(['eventhubs', 'kafka'])('k8s overlay %s', (overlay) => {
  const rendered = kustomize(path.join(K8S, overlay));
  const { objects } = rendered;
  const deployment = one(objects, 'Deployment');
  const pod = deployment.spec.template;
  const container = pod.spec.containers[0];
  const config = workerConfig(objects, deployment);
  const source = config.raw.source as { kind: string; consumerGroup?: string; groupId?: string };
  const group = source.consumerGroup ?? source.groupId!;

  it('ships a worker config that passes the config schema (the source section once its kind exists)', () => {
    expect(config.issues).toEqual([]);
    // Entra ID through the workload identity: no account keys or connection strings in the config map
    expect(JSON.stringify(config.raw)).not.toMatch(/AccountKey=|SharedAccessKey=/);
  });

  it('probes the routes the metrics server serves, on the port the worker config binds', () => {
    const metricsPort = (container.ports as { name: string; containerPort: number }[]).find((p) => p.name === 'metrics');
    expect(metricsPort?.containerPort).toBe(config.raw.metrics.port);
    // the kubelet and Prometheus connect from outside the pod
    expect(config.raw.metrics.host).toBe('0.0.0.0');
    expect(container.livenessProbe.httpGet).toEqual({ path: LIVENESS_PATH, port: 'metrics' });
    expect(container.startupProbe.httpGet).toEqual({ path: LIVENESS_PATH, port: 'metrics' });
    expect(container.readinessProbe.httpGet).toEqual({ path: READINESS_PATH, port: 'metrics' });
  });

  it('is scraped once, by the PodMonitor, under the job the alert rules select', () => {
    // annotation scraping would add a second job the rules do not know
    expect(Object.keys(pod.metadata.annotations ?? {}).filter((k) => k.startsWith('prometheus.io/'))).toEqual([]);
    expect(Object.entries(POD_MONITOR.spec.selector.matchLabels).every(([k, v]) => pod.metadata.labels[k] === v)).toBe(true);
    expect(POD_MONITOR.metadata.namespace).toBe(rendered.namespace);
    const endpoint = POD_MONITOR.spec.podMetricsEndpoints[0];
    expect((container.ports as { name: string }[]).map((p) => p.name)).toContain(endpoint.port);
    expect(endpoint.path).toBe(METRICS_PATH);
    const job = scrapeJob(pod.metadata.labels);
    expect(job).toBe('tributary');
    const selectors = new Set(RULES.flatMap((rule) => [...rule.expr.matchAll(/job="([^"]+)"/g)].map((m) => m[1])));
    expect([...selectors]).toEqual([job]);
    // the consumer_group label the rules group by comes from the pod label this overlay sets
    const relabel = endpoint.relabelings.find((r: { targetLabel: string }) => r.targetLabel === 'consumer_group');
    expect(relabel.sourceLabels).toEqual(['__meta_kubernetes_pod_label_tributary_io_consumer_group']);
    expect(pod.metadata.labels['tributary.io/consumer-group']).toBe(group);
  });

  it('names everything after its consumer group, with the ServiceAccount the Bicep federates for that group', () => {
    expect(rendered.nameSuffix).toBe(`-${group}`);
    const serviceAccount = one(objects, 'ServiceAccount');
    expect(serviceAccount.metadata.name).toBe(`${BICEP.params.workerServiceAccountPrefix}-${group}`);
    expect(BICEP.arrays.consumerGroups).toContain(group);
    expect(pod.spec.serviceAccountName).toBe(serviceAccount.metadata.name);
    expect(pod.metadata.labels['azure.workload.identity/use']).toBe('true');
    expect(rendered.namespace).toBe(BICEP.params.workerNamespace);
    // the group label is in the selectors, so two groups' Deployments and budgets never select each other's pods
    expect(deployment.spec.selector.matchLabels['tributary.io/consumer-group']).toBe(group);
    expect(Object.entries(deployment.spec.selector.matchLabels).every(([k, v]) => pod.metadata.labels[k] === v)).toBe(true);
  });

  it('leaves replicas to KEDA, and drains within its own deadline, inside the grace period', () => {
    expect(deployment.spec.replicas).toBeUndefined();
    const drainSeconds = config.parsed!.shutdown.drainDeadline / 1000;
    expect(drainSeconds).toBeGreaterThan(0);
    // past the deadline and its backstop (a tenth more), with seconds to spare for the exit itself, or SIGKILL
    // would end the worker before it says why
    expect(pod.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(drainSeconds + backstopMs(drainSeconds * 1000) / 1000 + 5);
    // a rollout replaces pods instead of surging: a surge pod at one replica per partition could never get one
    expect(deployment.spec.strategy.rollingUpdate).toEqual({ maxSurge: 0, maxUnavailable: 1 });
  });

  it('runs unprivileged, the run command on the mounted config, with the schemas from a ConfigMap', () => {
    expect(pod.spec.securityContext.runAsNonRoot).toBe(true);
    expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(container.args).toEqual(['run', '--config', '/config/tributary.yaml']);
    const mounts = container.volumeMounts as { name: string; mountPath: string }[];
    const volumes = pod.spec.volumes as { name: string; configMap?: { name: string } }[];
    const schemasVolume = volumes.find((v) => v.name === mounts.find((m) => m.mountPath === SCHEMAS_MOUNT)?.name);
    const schemas = named(objects, 'ConfigMap', schemasVolume!.configMap!.name);
    for (const stream of Object.values(config.raw.streams as Record<string, { schema: string }>)) {
      expect(path.posix.dirname(stream.schema)).toBe(SCHEMAS_MOUNT);
      expect(Object.keys(schemas.data!)).toContain(path.posix.basename(stream.schema));
    }
    // a hash of the content in the name: a schema change rolls the pods
    expect(schemas.metadata.name).toMatch(/^tributary-schemas-.+-[0-9a-z]{10}$/);
  });

  it('keeps at most one worker of the group away in a voluntary disruption', () => {
    const budget = one(objects, 'PodDisruptionBudget');
    expect(budget.spec.maxUnavailable).toBe(1);
    expect(budget.spec.selector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
    expect(budget.spec.unhealthyPodEvictionPolicy).toBe('AlwaysAllow');
  });

  it('scales the Deployment on the group\'s exact lag in Prometheus, per replica, never past the partition count', () => {
    const scaledObject = one(objects, 'ScaledObject');
    expect(scaledObject.spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: deployment.metadata.name });
    expect(scaledObject.spec.maxReplicaCount).toBeLessThanOrEqual(PARTITION_COUNT);
    expect(scaledObject.spec.minReplicaCount).toBeGreaterThanOrEqual(1);
    const triggers = scaledObject.spec.triggers as { type: string; metricType?: string; metadata: Record<string, string> }[];
    expect(triggers.map((t) => t.type)).toEqual(['prometheus']);
    const [trigger] = triggers;
    expect(trigger!.metricType).toBe('AverageValue');
    const query = trigger!.metadata.query!;
    const match = /^sum\((\w+)\{([^}]*)\}\)$/.exec(query);
    expect(match?.[1]).toBe(METRIC_NAMES.consumerLag);
    const selectors = Object.fromEntries([...match![2]!.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    expect(selectors).toEqual({ job: scrapeJob(pod.metadata.labels), namespace: rendered.namespace, consumer_group: group });
    const threshold = Number(trigger!.metadata.threshold);
    expect(threshold).toBeGreaterThan(0);
    // The worker's lag is exact, so there is no open-cell baseline to clear: the threshold per replica is a
    // backlog, well under the partitions x rowsPerFile that checkpoint-based scalers had to allow for (which
    // made 8 replicas wait for 12.8 M events).
    expect(threshold).toBeLessThan(PARTITION_COUNT * config.parsed!.processing.rowsPerFile / 2);
  });

  if (overlay === 'eventhubs') {
    it('reads the namespace, hubs, consumer group and containers the Bicep creates', () => {
      const eventHubs = config.raw.source as { fullyQualifiedNamespace: string; consumerGroup: string; hubs: Record<string, string>; checkpointStore: { container: string; accountUrl: string } };
      expect(`${BICEP.params.eventHubsNamespaceName}.servicebus.windows.net`).toBe(eventHubs.fullyQualifiedNamespace);
      expect(BICEP.arrays.hubNames!.sort()).toEqual(Object.values(eventHubs.hubs).sort());
      for (const store of [config.raw.lake, config.raw.deadLetter, config.raw.state, eventHubs.checkpointStore]) {
        expect(BICEP.containers).toContain(store.container);
        expect(new URL(store.accountUrl).hostname).toBe(`${BICEP.params.storageAccountName}.blob.core.windows.net`);
      }
    });
  } else {
    it('reads the SASL password from the secret the kustomization says to create', () => {
      const env = (container.env as { name: string; valueFrom?: { secretKeyRef?: { name: string } } }[]).filter((e) => e.valueFrom?.secretKeyRef);
      expect(env.map((e) => e.name)).toEqual([(config.raw.source as { sasl: { passwordEnv: string } }).sasl.passwordEnv]);
      const instructions = readFileSync(path.join(K8S, overlay, 'kustomization.yaml'), 'utf8');
      expect(instructions).toContain(`create secret generic ${env[0]!.valueFrom!.secretKeyRef!.name}`);
    });
  }
});

describe('schemas ConfigMap', () => {
  it('carries the demo\'s schemas unchanged (kustomize reads only below its folder, hence copies)', () => {
    const examples = path.join(ROOT, 'examples/schemas');
    const names = readdirSync(examples).filter((f) => f.endsWith('.avsc')).sort();
    const schemas = one(kustomize(path.join(K8S, 'schemas')).objects, 'ConfigMap');
    expect(Object.keys(schemas.data!).sort()).toEqual(names);
    for (const name of names) expect(schemas.data![name]).toBe(readFileSync(path.join(examples, name), 'utf8'));
  });
});

describe('replay and gen', () => {
  const replay = kustomize(path.join(K8S, 'replay'));
  const job = one(replay.objects, 'Job');
  const serviceAccount = one(replay.objects, 'ServiceAccount');

  it('run as the sender service account, which the Bicep federates with an identity that may send to the hubs', () => {
    expect(job.spec.template.spec.serviceAccountName).toBe(serviceAccount.metadata.name);
    expect(serviceAccount.metadata.name).toBe(BICEP.params.senderServiceAccount);
    const federation = bicepResource(BICEP.text, 'senderFederation');
    expect(federation).toMatch(/parent: senderIdentity/);
    expect(federation).toContain("subject: 'system:serviceaccount:${workerNamespace}:${senderServiceAccount}'");
    const sends = bicepResource(BICEP.text, 'senderSends');
    expect(sends).toMatch(/scope: eventHubs\n/);
    expect(sends).toContain('roles.eventHubsDataSender');
    expect(sends).toContain('senderIdentity.properties.principalId');
    expect(BICEP.text).toMatch(/eventHubsDataSender: '2b629674-e913-4c01-ae53-ef4638d8f975'/);
    // the workers' identity never sends
    for (const [, body] of BICEP.text.matchAll(/^resource (\w+) 'Microsoft.Authorization\/roleAssignments[^\n]*\n([\s\S]*?)^\}/gm)) {
      if (body!.includes('workerIdentity')) expect(body).not.toContain('eventHubsDataSender');
    }
    // and the replay pods are no workers: the PodMonitor and the workers' budgets do not select them
    expect(scrapeJob(job.spec.template.metadata.labels)).not.toBe('tributary');
  });

  it('uses a consumer group\'s config that an overlay creates, and the schemas', () => {
    const eventhubs = kustomize(path.join(K8S, 'eventhubs'));
    const volumes = job.spec.template.spec.volumes as { name: string; configMap: { name: string } }[];
    named(eventhubs.objects, 'ConfigMap', volumes.find((v) => v.name === 'config')!.configMap.name);
    named(replay.objects, 'ConfigMap', volumes.find((v) => v.name === 'schemas')!.configMap.name);
    expect(job.spec.template.spec.containers[0].args.slice(0, 3)).toEqual(['replay-deadletters', '--config', '/config/tributary.yaml']);
  });
});

describe('Bicep', () => {
  it('federates one credential per consumer group, for the ServiceAccount each group\'s overlay makes, one at a time', () => {
    const federations = bicepResource(BICEP.text, 'workerFederations');
    expect(federations).toMatch(/= \[for group in consumerGroups: \{/);
    expect(federations).toContain("subject: 'system:serviceaccount:${workerNamespace}:${workerServiceAccountPrefix}-${group}'");
    expect(BICEP.text).toMatch(/@batchSize\(1\)\nresource workerFederations /);
    expect(one(kustomize(path.join(K8S, 'base')).objects, 'ServiceAccount').metadata.name).toBe(BICEP.params.workerServiceAccountPrefix);
    // each group exists on every hub
    expect(bicepResource(BICEP.text, 'hubConsumerGroupResources')).toMatch(/\[for pair in hubConsumerGroups:/);
    expect(BICEP.text).toMatch(/var hubConsumerGroups = flatten\(map\(range\(0, length\(hubNames\)\), h => map\(consumerGroups,/);
  });

  it('uses GA API versions, an HNS account, Capture to blob and Entra-only access by default', () => {
    const versions = [...BICEP.text.matchAll(/^resource \w+ '([\w./]+)@([\w-]+)'/gm)].map((m) => `${m[1]}@${m[2]}`);
    expect(versions.length).toBeGreaterThanOrEqual(10);
    for (const version of versions) expect(version).toMatch(/@\d{4}-\d{2}-\d{2}$/);
    expect(BICEP.text).toMatch(/isHnsEnabled: true/);
    expect(BICEP.text).toMatch(/allowSharedKeyAccess: false/);
    expect(BICEP.text).toMatch(/captureDescription: \{\s+enabled: true\s+encoding: 'Avro'/);
    expect(BICEP.params.allowSasKeys).toBe('false');
  });
});

describe('Prometheus alert rules', () => {
  it('reference only metrics that TributaryMetrics registers', async () => {
    const registry = new Registry();
    new TributaryMetrics(registry);
    const json = await registry.getMetricsAsJSON();
    const registered = json.map((metric) => metric.name);
    const histograms = json.filter((m) => String(m.type) === 'histogram').map((m) => m.name);
    const used = new Set(RULES.flatMap((rule) => [...rule.expr.matchAll(/\btributary_[a-z0-9_]+/g)].map((m) => m[0])));
    expect(used.size).toBeGreaterThan(0);
    for (const name of used) {
      const base = histograms.find((h) => [`${h}_bucket`, `${h}_sum`, `${h}_count`].includes(name)) ?? name;
      expect(registered, `alert metric ${name}`).toContain(base);
    }
  });

  it('cover new dead letters, lag growth, a stalled watermark, checkpoint age, errors and workers down', () => {
    const exprs = RULES.map((rule) => rule.expr).join('\n');
    expect(exprs).toMatch(/increase\(tributary_dead_letters_total\{[^}]*\}\[\w+\]\)\) > 0/);
    expect(exprs).toMatch(/deriv\(tributary_consumer_lag_events\{[^}]*\}\[\w+\]\) > 0/);
    expect(exprs).toMatch(/changes\(tributary_watermark_timestamp_seconds\{[^}]*\}\[\w+\]\)/);
    expect(exprs).toContain('tributary_checkpoint_timestamp_seconds');
    expect(exprs).toContain('tributary_errors_total');
    expect(exprs).toContain('up{job="tributary"}');
    // the `sink` dead-letter reason is never produced (README: storage faults stop the run), so no rule waits on it
    expect(exprs).not.toContain('reason="sink"');
    for (const rule of RULES) expect(['warning', 'critical']).toContain(rule.labels.severity);
  });

  it('link each alert to its runbook section in deploy/README.md', () => {
    const readme = readFileSync(path.join(DEPLOY, 'README.md'), 'utf8');
    const anchors = new Set([...readme.matchAll(/^#{2,4} (.+)$/gm)].map((m) => githubAnchor(m[1]!)));
    for (const rule of RULES) {
      const url = new URL(rule.annotations.runbook_url!);
      expect(url.pathname.endsWith('/deploy/README.md'), rule.alert).toBe(true);
      expect({ alert: rule.alert, section: anchors.has(url.hash.slice(1)) }).toEqual({ alert: rule.alert, section: true });
    }
  });

  it('tie the stale-checkpoint rule to two file cells of events, as the commit protocol implies', () => {
    const { objects } = kustomize(path.join(K8S, 'eventhubs'));
    const { parsed } = workerConfig(objects, one(objects, 'Deployment'));
    const stale = RULES.find((rule) => rule.expr.includes('tributary_checkpoint_timestamp_seconds'));
    expect(stale?.expr).toContain(`> ${2 * parsed!.processing.rowsPerFile}`);
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(path.join(DEPLOY, 'Dockerfile'), 'utf8');
  const packageJson = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string>; engines: { node: string } };
  const nvmrc = readFileSync(path.join(ROOT, '.nvmrc'), 'utf8').trim();
  const imageMajor = Number(/^ARG NODE_IMAGE=node:(\d+)-slim$/m.exec(dockerfile)?.[1]);

  it('builds on the Node major of .nvmrc, which package.json\'s engines allow', () => {
    expect(imageMajor).toBe(Number(nvmrc));
    const minimum = Number(/^>=(\d+)/.exec(packageJson.engines.node)?.[1]);
    expect(imageMajor).toBeGreaterThanOrEqual(minimum);
  });

  // The suite is what tests the image's Node: under CI the Node running it must be the one the image ships.
  const testedMajor = Number(process.versions.node.split('.')[0]);
  it.skipIf(process.env.CI !== 'true' && testedMajor !== imageMajor)(`is tested on the Node major the image ships (this run: ${testedMajor}, image: ${imageMajor})`, () => {
    expect(testedMajor).toBe(imageMajor);
  });

  it('builds in stages, prunes dev dependencies, and leaves the schemas to a ConfigMap', () => {
    expect(dockerfile.match(/^FROM \$\{NODE_IMAGE\} AS \w+$/gm)).toHaveLength(2);
    expect(dockerfile).toMatch(/RUN npm ci\b/);
    expect(dockerfile).toMatch(/npm run build/);
    expect(dockerfile).toMatch(/npm prune --omit=dev/);
    expect(dockerfile).not.toMatch(/^COPY .*schemas/m);
  });

  it('runs the CLI binary as a non-root user with the run command on the mounted config', () => {
    const user = /^USER (\S+)$/m.exec(dockerfile)?.[1];
    expect(user).toBeDefined();
    expect(user!.split(':')[0]).not.toMatch(/^(0|root)$/);
    expect(/^ENTRYPOINT (.*)$/m.exec(dockerfile)?.[1]).toBe(JSON.stringify(['node', packageJson.bin.tributary]).replace(/","/g, '", "'));
    expect(/^CMD (.*)$/m.exec(dockerfile)?.[1]).toBe('["run", "--config", "/config/tributary.yaml"]');
  });
});

/** Where kubectl (with kustomize v5) is installed, the test's renderer must agree with it on every overlay. */
const kubectl = findOptionalKubectl();
describe.skipIf(!kubectl)('the renderer agrees with the real kustomize', () => {
  it.each(['eventhubs', 'kafka', 'monitoring', 'replay', 'schemas', 'base'])('on %s', (dir) => {
    const real = parseAllDocuments(execFileSync(kubectl!, ['kustomize', path.join(K8S, dir)], { encoding: 'utf8' })).map((d) => d.toJS() as K8sObject);
    const ours = kustomize(path.join(K8S, dir)).objects;
    const key = (o: K8sObject): string => `${o.kind}/${o.metadata.name}`;
    expect(normaliseHashes(ours).sort((a, b) => key(a).localeCompare(key(b)))).toEqual(normaliseHashes(real).sort((a, b) => key(a).localeCompare(key(b))));
  });
});

/** kustomize's content hash and ours differ in algorithm; both are 10 characters at the end of a generated name. */
function normaliseHashes(objects: K8sObject[]): K8sObject[] {
  return JSON.parse(JSON.stringify(objects).replace(/(tributary-schemas[-a-z]*)-[0-9a-z]{10}"/g, '$1-HASH"')) as K8sObject[];
}

/** kubectl is optional (the renderer covers CI); a kubectl too old for `labels` (Debian's 1.20) does not count. */
function findOptionalKubectl(): string | undefined {
  const tool = (() => {
    try {
      return execFileSync('sh', ['-c', 'command -v kubectl'], { encoding: 'utf8' }).trim() || undefined;
    } catch {
      // absent: the cross-check is skipped, the renderer's own tests still run
      return undefined;
    }
  })();
  if (!tool) return undefined;
  const version = execFileSync(tool, ['version', '--client'], { encoding: 'utf8' });
  const kustomizeMajor = Number(/Kustomize Version: v(\d+)/.exec(version)?.[1] ?? 0);
  return kustomizeMajor >= 5 ? tool : undefined;
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function githubAnchor(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-');
}
