/**
 * What `kubectl apply -k <dir>` would create from deploy/k8s, for tests on a machine without kubectl: the subset of
 * kustomize these manifests use (resources, configMapGenerator with its content hash, namespace, nameSuffix, labels
 * with includeSelectors, strategic-merge patches of container env, name references, `configurations`).
 * test/deploy/deploy.test.ts checks it against the real kustomize (kubectl kustomize) where kubectl is installed.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

/** A parsed Kubernetes object; tests walk it by the fields they check. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  // untyped on purpose: each test reads the fields it checks and asserts their shape
  spec?: any;
  data?: Record<string, string>;
}

interface Kustomization {
  namespace?: string;
  nameSuffix?: string;
  labels?: { pairs: Record<string, string>; includeSelectors?: boolean }[];
  resources?: string[];
  patches?: { path: string }[];
  configMapGenerator?: { name: string; files: string[]; options?: { labels?: Record<string, string> } }[];
  configurations?: string[];
}

interface NameReference {
  kind: string;
  fieldSpecs: { kind: string; path: string }[];
}

const POD_SPEC_KINDS = ['Deployment', 'Job'];
/** kustomize's built-in references that these manifests rely on. */
const BUILTIN_REFERENCES: NameReference[] = [
  { kind: 'ServiceAccount', fieldSpecs: POD_SPEC_KINDS.map((kind) => ({ kind, path: 'spec/template/spec/serviceAccountName' })) },
  {
    kind: 'ConfigMap',
    fieldSpecs: POD_SPEC_KINDS.flatMap((kind) => [
      { kind, path: 'spec/template/spec/volumes/configMap/name' },
      { kind, path: 'spec/template/spec/containers/env/valueFrom/configMapKeyRef/name' },
    ]),
  },
  { kind: 'Secret', fieldSpecs: POD_SPEC_KINDS.map((kind) => ({ kind, path: 'spec/template/spec/containers/env/valueFrom/secretKeyRef/name' })) },
];

export interface Rendered {
  namespace: string | undefined;
  nameSuffix: string | undefined;
  objects: K8sObject[];
}

export function readYamlDocuments(file: string): K8sObject[] {
  const documents = parseAllDocuments(readFileSync(file, 'utf8'));
  for (const document of documents) {
    if (document.errors.length > 0) throw new Error(`${file}: ${document.errors.map((e) => e.message).join('; ')}`);
  }
  return documents.map((document) => document.toJS() as K8sObject).filter((object) => object !== null);
}

export function kustomize(dir: string): Rendered {
  const generated = new Set<K8sObject>();
  const { kustomization, objects, references } = build(dir, generated);
  // the content hash goes on last, after every other name change, as kustomize does
  for (const object of generated) rename(objects, references, object, `${object.metadata.name}-${contentHash(object)}`);
  return { namespace: kustomization.namespace, nameSuffix: kustomization.nameSuffix, objects };
}

function build(dir: string, generated: Set<K8sObject>): { kustomization: Kustomization; objects: K8sObject[]; references: NameReference[] } {
  const kustomization = parse(readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8')) as Kustomization;
  const objects: K8sObject[] = [];
  const references = [...BUILTIN_REFERENCES];
  for (const file of kustomization.configurations ?? []) {
    references.push(...((parse(readFileSync(path.join(dir, file), 'utf8')) as { nameReference: NameReference[] }).nameReference));
  }
  for (const resource of kustomization.resources ?? []) {
    const target = path.join(dir, resource);
    if (existsSync(path.join(target, 'kustomization.yaml'))) {
      const sub = build(target, generated);
      objects.push(...sub.objects);
      references.push(...sub.references.filter((r) => !references.includes(r)));
    } else {
      objects.push(...readYamlDocuments(target));
    }
  }
  for (const generator of kustomization.configMapGenerator ?? []) {
    const configMap: K8sObject = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: generator.name, ...(generator.options?.labels ? { labels: { ...generator.options.labels } } : {}) },
      data: Object.fromEntries(generator.files.map((file) => [path.basename(file), readFileSync(path.join(dir, file), 'utf8')])),
    };
    generated.add(configMap);
    objects.push(configMap);
  }
  for (const patch of kustomization.patches ?? []) {
    for (const patchObject of readYamlDocuments(path.join(dir, patch.path))) applyEnvPatch(objects, patchObject);
  }
  if (kustomization.namespace) for (const object of objects) object.metadata.namespace = kustomization.namespace;
  if (kustomization.nameSuffix) {
    for (const object of objects) rename(objects, references, object, `${object.metadata.name}${kustomization.nameSuffix}`);
  }
  for (const { pairs, includeSelectors } of kustomization.labels ?? []) {
    for (const object of objects) {
      object.metadata.labels = { ...object.metadata.labels, ...pairs };
      if (!includeSelectors) continue;
      if (object.kind === 'Deployment') {
        object.spec.selector.matchLabels = { ...object.spec.selector.matchLabels, ...pairs };
        object.spec.template.metadata.labels = { ...object.spec.template.metadata.labels, ...pairs };
      }
      if (object.kind === 'PodDisruptionBudget') object.spec.selector.matchLabels = { ...object.spec.selector.matchLabels, ...pairs };
    }
  }
  return { kustomization, objects, references };
}

/** Renames one object and every reference to it that kustomize knows about. */
function rename(objects: K8sObject[], references: NameReference[], target: K8sObject, name: string): void {
  const previous = target.metadata.name;
  target.metadata.name = name;
  for (const reference of references.filter((r) => r.kind === target.kind)) {
    for (const spec of reference.fieldSpecs) {
      for (const object of objects.filter((o) => o.kind === spec.kind)) {
        replaceAt(object, spec.path.split('/'), (value) => (value === previous ? name : value));
      }
    }
  }
}

/** Walks a kustomize field path, descending into every element of the arrays it meets. */
function replaceAt(node: unknown, parts: string[], replace: (value: unknown) => unknown): void {
  if (Array.isArray(node)) {
    for (const element of node) replaceAt(element, parts, replace);
    return;
  }
  if (typeof node !== 'object' || node === null || parts.length === 0) return;
  const record = node as Record<string, unknown>;
  const [head, ...rest] = parts as [string, ...string[]];
  if (!(head in record)) return;
  if (rest.length === 0) record[head] = replace(record[head]);
  else replaceAt(record[head], rest, replace);
}

interface Container {
  name: string;
  env?: { name: string }[];
}

/** A strategic-merge patch of a Deployment's containers' env (all the overlays patch). */
function applyEnvPatch(objects: K8sObject[], patch: K8sObject): void {
  const target = objects.find((o) => o.kind === patch.kind && o.metadata.name === patch.metadata.name);
  if (!target) throw new Error(`patch targets ${patch.kind}/${patch.metadata.name}, which the overlay does not contain`);
  for (const patchContainer of patch.spec.template.spec.containers as Container[]) {
    const container = (target.spec.template.spec.containers as Container[]).find((c) => c.name === patchContainer.name);
    if (!container) throw new Error(`patch targets container ${patchContainer.name}, which ${patch.metadata.name} does not have`);
    const names = new Set((patchContainer.env ?? []).map((e) => e.name));
    container.env = [...(patchContainer.env ?? []), ...(container.env ?? []).filter((e) => !names.has(e.name))];
  }
}

function contentHash(object: K8sObject): string {
  return createHash('sha256').update(JSON.stringify(object.data)).digest('hex').slice(0, 10);
}
