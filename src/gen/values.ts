/**
 * A value generator compiled from any Avro record schema: primitives, logical types, enums, fixed, arrays, maps,
 * nested and recursive records, unions. Three fields are overridden by the stream config (the event id, the
 * event time, the partition key); every other value is random, shaped by optional `gen` hints (see hints.ts).
 *
 * Values follow avsc's `wrapUnions: 'auto'` convention, the one the decode workers use: a union is unwrapped
 * unless two branches fall in the same bucket (int and long, string and enum, two records...), in which case
 * the value is wrapped as `{ <branch name>: value }`.
 */
import avro from 'avsc';
import { describeIssues } from '../config/load.js';
import { TributaryError } from '../core/errors.js';
import { hintsSchema, type Hints } from './hints.js';
import { uuidFor } from './ids.js';
import { Prng } from './prng.js';

/** What one event's values depend on besides randomness. */
export interface ValueContext {
  rng: Prng;
  /** event time, epoch milliseconds */
  eventTimeMs: number;
  /** position of the event in its stream's generation order; unique per stream */
  ordinal: number;
  /** the unique event id as text (uuid-shaped) */
  eventId: string;
  /** partition-key index in [0, keys), or -1 when the stream has no key field */
  keyIndex: number;
  /** the partition key as text (`keyString(keyIndex)`), '' when there is none */
  key: string;
}

export type OverrideKind = 'eventId' | 'eventTime' | 'partitionKey';

export interface FieldOverride {
  kind: OverrideKind;
  /** dotted path of a record field from the root record */
  path: string;
  /** where the path comes from, for error messages (`streams.orders.eventId`) */
  configPath: string;
}

export interface RecordGenerator {
  /** the avsc type to encode with (`wrapUnions: 'auto'`) */
  readonly type: avro.Type;
  generate(ctx: ValueContext): Record<string, unknown>;
  /** the partition key of key index i as text, formatted the way the key field holds it */
  keyString(index: number): string;
}

export interface CompileOptions {
  overrides: FieldOverride[];
  /** schema file or stream, for error messages */
  origin: string;
  /** mixes into key strings of uuid-typed key fields */
  salt: number;
}

type Gen = (ctx: ValueContext, depth: number) => unknown;
type AvroSchemaNode = string | AvroSchemaNode[] | { [key: string]: unknown };

interface Compiled {
  gen: Gen;
  /** avsc's ambiguity bucket (see getTypeBucket in avsc/lib/types.js) */
  bucket: string;
  /** name of the branch when wrapped in a union */
  branchName: string;
}

interface NamedEntry {
  schema: Record<string, unknown>;
  namespace: string;
  compiled: Compiled | undefined;
}

/** Beyond this nesting depth unions pick null and arrays/maps are empty, so recursive schemas terminate. */
const MAX_DEPTH = 16;
const PRIMITIVES = new Set(['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string']);
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const MS_PER_DAY = 86_400_000;
const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function compileRecordGenerator(schema: unknown, options: CompileOptions): RecordGenerator {
  let type: avro.Type;
  try {
    type = avro.Type.forSchema(schema as avro.Schema, { wrapUnions: 'auto' });
  } catch (error) {
    throw new TributaryError('CONFIG_INVALID', `${options.origin}: not a valid Avro schema: ${(error as Error).message}`, { cause: error });
  }
  const compiler = new SchemaCompiler(options);
  const root = compiler.compileRoot(schema as AvroSchemaNode);
  return {
    type,
    generate: (ctx) => root(ctx, 0) as Record<string, unknown>,
    keyString: compiler.keyString,
  };
}

class SchemaCompiler {
  private readonly named = new Map<string, NamedEntry>();
  private readonly overrides = new Map<string, FieldOverride>();
  private readonly bound = new Set<string>();
  keyString: (index: number) => string = (index) => String(index);

  constructor(private readonly options: CompileOptions) {
    for (const override of options.overrides) this.overrides.set(override.path, override);
  }

  compileRoot(schema: AvroSchemaNode): Gen {
    const resolved = typeof schema === 'string' ? undefined : schema;
    if (!resolved || Array.isArray(resolved) || (resolved.type !== 'record' && resolved.type !== 'error')) {
      throw this.fail('', 'a stream schema must be an Avro record');
    }
    const { gen } = this.compile(schema, '', {}, '');
    for (const override of this.options.overrides) {
      if (!this.bound.has(override.path)) {
        throw new TributaryError(
          'CONFIG_INVALID',
          `${override.configPath}: no field "${override.path}" in ${this.options.origin} that can be generated (a record field, not inside an array or map)`,
        );
      }
    }
    return gen;
  }

  private fail(path: string, message: string): TributaryError {
    return new TributaryError('CONFIG_INVALID', `${this.options.origin}${path ? ` field ${path}` : ''}: ${message}`);
  }

  private hints(raw: unknown, path: string): Hints {
    if (raw === undefined) return {};
    const parsed = hintsSchema.safeParse(raw);
    if (!parsed.success) throw this.fail(path, `invalid gen hints:\n${describeIssues(parsed.error)}`);
    return parsed.data;
  }

  private qualify(name: string, namespace: string): string {
    return name.includes('.') || !namespace ? name : `${namespace}.${name}`;
  }

  private compile(schema: AvroSchemaNode, namespace: string, hints: Hints, path: string): Compiled {
    if (typeof schema === 'string') {
      if (PRIMITIVES.has(schema)) return this.primitive(schema, undefined, hints, path);
      const entry = this.named.get(this.qualify(schema, namespace)) ?? this.named.get(schema);
      if (!entry) throw this.fail(path, `unknown type "${schema}"`);
      const kind = entry.schema.type;
      if ((kind === 'enum' || kind === 'fixed') && Object.keys(hints).length > 0) {
        return this.compileDefinition(entry.schema, entry.namespace, hints, path);
      }
      // Looked up lazily: a record may refer to itself before its compilation finishes.
      const lazy: Gen = (ctx, depth) => entry.compiled!.gen(ctx, depth);
      return { gen: entry.compiled?.gen ?? lazy, bucket: bucketOf(kind as string), branchName: this.fullName(entry.schema, entry.namespace) };
    }
    if (Array.isArray(schema)) return this.union(schema, namespace, hints, path);
    const ownHints = { ...this.hints(schema.gen, path), ...hints };
    const kind = schema.type;
    if (typeof kind !== 'string') return this.compile(kind as AvroSchemaNode, namespace, ownHints, path);
    if (PRIMITIVES.has(kind)) return this.primitive(kind, typeof schema.logicalType === 'string' ? schema.logicalType : undefined, ownHints, path);
    switch (kind) {
      case 'record':
      case 'error':
      case 'enum':
      case 'fixed': {
        const ns = typeof schema.namespace === 'string' ? schema.namespace : namespace;
        const fullName = this.fullName(schema, ns);
        const entry: NamedEntry = { schema, namespace: fullName.includes('.') ? fullName.slice(0, fullName.lastIndexOf('.')) : '', compiled: undefined };
        this.named.set(fullName, entry);
        entry.compiled = this.compileDefinition(schema, entry.namespace, ownHints, path);
        return entry.compiled;
      }
      case 'array':
        return this.array(schema, namespace, ownHints, path);
      case 'map':
        return this.map(schema, namespace, ownHints, path);
      default:
        throw this.fail(path, `unknown type "${kind}"`);
    }
  }

  private fullName(schema: Record<string, unknown>, namespace: string): string {
    return this.qualify(String(schema.name), namespace);
  }

  private compileDefinition(schema: Record<string, unknown>, namespace: string, hints: Hints, path: string): Compiled {
    const branchName = this.fullName(schema, namespace);
    switch (schema.type) {
      case 'record':
      case 'error':
        return { gen: this.record(schema, namespace, path), bucket: 'object', branchName };
      case 'enum': {
        const symbols = schema.symbols as string[];
        return { gen: this.pick(symbols, hints.weights, path), bucket: 'string', branchName };
      }
      default: {
        const size = Number(schema.size);
        return { gen: (ctx) => randomBytes(ctx.rng, size), bucket: 'buffer', branchName };
      }
    }
  }

  private record(schema: Record<string, unknown>, namespace: string, path: string): Gen {
    const fields = schema.fields as Array<Record<string, unknown>>;
    const names = fields.map((field) => String(field.name));
    const gens: Gen[] = [];
    const derived: Array<{ name: string; compute: (record: Record<string, unknown>) => number }> = [];
    for (const field of fields) {
      const name = String(field.name);
      const fieldPath = path ? `${path}.${name}` : name;
      const override = this.overrides.get(fieldPath);
      const hints = this.hints(field.gen, fieldPath);
      if (override) {
        gens.push(this.override(override, field.type as AvroSchemaNode, namespace, hints, fieldPath));
        this.bound.add(fieldPath);
      } else if (hints.sumOver) {
        derived.push({ name, compute: this.sumOver(hints, fields, field, namespace, fieldPath) });
        gens.push(() => 0);
      } else {
        const gen = this.compile(field.type as AvroSchemaNode, namespace, hints, fieldPath).gen;
        gens.push(hints.sticky ? this.sticky(gen, fieldPath) : gen);
      }
    }
    const count = names.length;
    return (ctx, depth) => {
      const out: Record<string, unknown> = {};
      for (let i = 0; i < count; i++) out[names[i]!] = gens[i]!(ctx, depth + 1);
      for (const d of derived) out[d.name] = d.compute(out);
      return out;
    };
  }

  /**
   * One value per partition key (a device stays at its site): drawn once per key from a generator seeded by
   * the key, so it does not depend on which event of the key came first, and cached.
   */
  private sticky(gen: Gen, path: string): Gen {
    const cache = new Map<number, unknown>();
    const salt = this.options.salt;
    return (ctx, depth) => {
      if (ctx.keyIndex < 0) return gen(ctx, depth);
      if (!cache.has(ctx.keyIndex)) cache.set(ctx.keyIndex, gen({ ...ctx, rng: new Prng(salt, `${path}#${ctx.keyIndex}`) }, depth));
      return cache.get(ctx.keyIndex);
    };
  }

  /** Sum over the items of a sibling array of the product of some item fields (an order total from its lines). */
  private sumOver(hints: Hints, fields: Array<Record<string, unknown>>, field: Record<string, unknown>, namespace: string, path: string): (record: Record<string, unknown>) => number {
    const { array, multiply } = hints.sumOver!;
    const sibling = fields.find((f) => f.name === array);
    if (!sibling) throw this.fail(path, `gen.sumOver.array: no sibling field "${array}"`);
    const items = this.arrayItemFields(sibling.type as AvroSchemaNode, namespace);
    const missing = multiply.filter((name) => !items?.includes(name));
    if (!items || missing.length > 0) {
      throw this.fail(path, `gen.sumOver: "${array}" must be an array of records with the fields ${multiply.join(', ')}`);
    }
    const base = typeof field.type === 'string' ? field.type : undefined;
    if (base !== 'int' && base !== 'long' && base !== 'float' && base !== 'double') {
      throw this.fail(path, 'gen.sumOver needs an int, long, float or double field');
    }
    const scale = hints.decimals === undefined ? undefined : 10 ** hints.decimals;
    return (record) => {
      const values = record[array];
      let total = 0;
      if (Array.isArray(values)) {
        for (const item of values as Array<Record<string, unknown>>) {
          let product = 1;
          for (const name of multiply) product *= Number(item[name] ?? 0);
          total += product;
        }
      }
      if (base === 'int' || base === 'long') return Math.round(total);
      const rounded = scale === undefined ? total : Math.round(total * scale) / scale;
      return base === 'float' ? Math.fround(rounded) : rounded;
    };
  }

  /** Field names of the records an array field holds, or undefined when it is not an array of records. */
  private arrayItemFields(schema: AvroSchemaNode, namespace: string): string[] | undefined {
    if (typeof schema !== 'object' || Array.isArray(schema) || schema.type !== 'array') return undefined;
    let items = schema.items as AvroSchemaNode;
    if (typeof items === 'string') items = (this.named.get(this.qualify(items, namespace)) ?? this.named.get(items))?.schema as AvroSchemaNode;
    if (typeof items !== 'object' || Array.isArray(items) || items.type !== 'record') return undefined;
    return (items.fields as Array<{ name: string }>).map((f) => f.name);
  }

  private primitive(kind: string, logical: string | undefined, hints: Hints, path: string): Compiled {
    const gen = (() => {
      switch (kind) {
        case 'null':
          return () => null;
        case 'boolean': {
          const p = hints.probability ?? 0.5;
          return (ctx: ValueContext) => ctx.rng.chance(p);
        }
        case 'int':
        case 'long':
          return this.integer(kind, logical, hints, path);
        case 'float':
        case 'double':
          return this.floating(kind, hints);
        case 'string':
          return this.string(logical, hints, path);
        default: {
          const [lo, hi] = hints.length ?? [4, 16];
          return (ctx: ValueContext) => randomBytes(ctx.rng, ctx.rng.int(lo, hi));
        }
      }
    })();
    return { gen, bucket: bucketOf(kind), branchName: kind };
  }

  private integer(kind: 'int' | 'long', logical: string | undefined, hints: Hints, path: string): Gen {
    const offset = (ctx: ValueContext): number => (hints.offsetMs ? ctx.rng.int(hints.offsetMs[0], hints.offsetMs[1]) : 0);
    switch (logical) {
      case 'timestamp-millis':
      case 'local-timestamp-millis':
        if (kind === 'long') return (ctx) => ctx.eventTimeMs + offset(ctx);
        break;
      case 'timestamp-micros':
      case 'local-timestamp-micros':
        if (kind === 'long') return (ctx) => (ctx.eventTimeMs + offset(ctx)) * 1000;
        break;
      case 'date':
        if (kind === 'int') return (ctx) => Math.floor((ctx.eventTimeMs + offset(ctx)) / MS_PER_DAY);
        break;
      case 'time-millis':
        if (kind === 'int') return (ctx) => modulo(ctx.eventTimeMs + offset(ctx), MS_PER_DAY);
        break;
      case 'time-micros':
        if (kind === 'long') return (ctx) => modulo(ctx.eventTimeMs + offset(ctx), MS_PER_DAY) * 1000;
        break;
      default:
        break;
    }
    if (hints.choices) {
      if (!hints.choices.every((c) => typeof c === 'number' && Number.isInteger(c))) throw this.fail(path, 'gen.choices of an integer field must be integers');
      return this.pick(hints.choices, hints.weights, path);
    }
    if (hints.counter) {
      const perKey = hints.counter === 'perKey';
      const counters = new Map<number, number>();
      return (ctx) => {
        const slot = perKey ? ctx.keyIndex : -1;
        const next = (counters.get(slot) ?? 0) + 1;
        counters.set(slot, next);
        return next;
      };
    }
    const lo = Math.ceil(hints.min ?? 0);
    const hi = Math.floor(hints.max ?? (kind === 'int' ? 1000 : 1_000_000));
    if (lo > hi) throw this.fail(path, `gen.min..max holds no integer`);
    if (kind === 'int' && (lo < INT32_MIN || hi > INT32_MAX)) throw this.fail(path, 'gen.min..max exceeds the int range');
    if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi)) throw this.fail(path, 'gen.min..max must be safe integers');
    return (ctx) => ctx.rng.int(lo, hi);
  }

  private floating(kind: 'float' | 'double', hints: Hints): Gen {
    const single = kind === 'float';
    if (hints.choices) {
      const choices = hints.choices.map(Number);
      const pick = this.pick(choices, hints.weights, '');
      return single ? (ctx, depth) => Math.fround(pick(ctx, depth) as number) : pick;
    }
    const lo = hints.min ?? 0;
    const span = (hints.max ?? 1000) - lo;
    const scale = hints.decimals === undefined ? undefined : 10 ** hints.decimals;
    return (ctx) => {
      let value = lo + ctx.rng.float() * span;
      if (scale !== undefined) value = Math.round(value * scale) / scale;
      return single ? Math.fround(value) : value;
    };
  }

  private string(logical: string | undefined, hints: Hints, path: string): Gen {
    if (hints.choices) return this.pick(hints.choices.map(String), hints.weights, path);
    if (logical === 'uuid') return (ctx) => randomUuid(ctx.rng);
    if (hints.prefix !== undefined || hints.cardinality !== undefined) {
      const prefix = hints.prefix ?? '';
      const cardinality = hints.cardinality ?? 1000;
      const width = hints.width ?? String(cardinality - 1).length;
      return (ctx) => prefix + String(ctx.rng.int(0, cardinality - 1)).padStart(width, '0');
    }
    const [lo, hi] = hints.length ?? [8, 16];
    return (ctx) => randomText(ctx.rng, ctx.rng.int(lo, hi));
  }

  private pick<T>(choices: readonly T[], weights: readonly number[] | undefined, path: string): Gen {
    if (choices.length === 0) throw this.fail(path, 'nothing to choose from');
    if (!weights) return (ctx) => choices[Math.floor(ctx.rng.float() * choices.length)];
    if (weights.length !== choices.length) throw this.fail(path, `gen.weights has ${weights.length} entries for ${choices.length} choices`);
    const cumulative = new Float64Array(weights.length);
    let total = 0;
    weights.forEach((w, i) => {
      total += w;
      cumulative[i] = total;
    });
    return (ctx) => {
      const u = ctx.rng.float() * total;
      let lo = 0;
      let hi = cumulative.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (cumulative[mid]! > u) hi = mid;
        else lo = mid + 1;
      }
      return choices[lo];
    };
  }

  private array(schema: Record<string, unknown>, namespace: string, hints: Hints, path: string): Compiled {
    const items = this.compile(schema.items as AvroSchemaNode, namespace, elementHints(hints), `${path}[]`).gen;
    const lo = hints.minItems ?? 0;
    const hi = hints.maxItems ?? Math.max(lo, 4);
    return {
      gen: (ctx, depth) => {
        const n = depth > MAX_DEPTH ? 0 : ctx.rng.int(lo, hi);
        const out: unknown[] = new Array(n);
        for (let i = 0; i < n; i++) out[i] = items(ctx, depth + 1);
        return out;
      },
      bucket: 'array',
      branchName: 'array',
    };
  }

  private map(schema: Record<string, unknown>, namespace: string, hints: Hints, path: string): Compiled {
    const values = this.compile(schema.values as AvroSchemaNode, namespace, elementHints(hints), `${path}{}`).gen;
    const fixedKeys = hints.keys;
    const lo = hints.minItems ?? 0;
    const hi = hints.maxItems ?? Math.max(lo, 3);
    return {
      gen: (ctx, depth) => {
        const out: Record<string, unknown> = {};
        if (depth > MAX_DEPTH) return out;
        if (fixedKeys) {
          for (const key of fixedKeys) out[key] = values(ctx, depth + 1);
        } else {
          const n = ctx.rng.int(lo, hi);
          for (let i = 0; i < n; i++) out[randomText(ctx.rng, 6)] = values(ctx, depth + 1);
        }
        return out;
      },
      bucket: 'object',
      branchName: 'map',
    };
  }

  private union(branches: AvroSchemaNode[], namespace: string, hints: Hints, path: string): Compiled {
    const compiled = branches.map((branch) => this.compile(branch, namespace, hints, path));
    const wrapped = isAmbiguous(compiled);
    const gens = compiled.map((c) => c.gen);
    const names = compiled.map((c) => c.branchName);
    const nullIndex = compiled.findIndex((c) => c.bucket === 'null');
    const others = compiled.map((_, i) => i).filter((i) => i !== nullIndex);
    // A field overridden below this union must exist, so the union always takes the record branch holding it.
    const forced = [...this.overrides.keys()].some((p) => p.startsWith(`${path}.`))
      ? compiled.findIndex((c) => c.bucket === 'object' && c.branchName !== 'map')
      : -1;
    const nullProbability = nullIndex < 0 ? 0 : (hints.nullProbability ?? 1 / compiled.length);
    const gen: Gen = (ctx, depth) => {
      let index: number;
      if (forced >= 0) index = forced;
      else if (nullIndex >= 0 && (depth > MAX_DEPTH || others.length === 0 || ctx.rng.chance(nullProbability))) index = nullIndex;
      else index = others[Math.floor(ctx.rng.float() * others.length)]!;
      const value = gens[index]!(ctx, depth);
      return wrapped && value !== null ? { [names[index]!]: value } : value;
    };
    return { gen, bucket: 'union', branchName: 'union' };
  }

  private override(override: FieldOverride, schema: AvroSchemaNode, namespace: string, hints: Hints, path: string): Gen {
    const branches = Array.isArray(schema) ? schema : [schema];
    const resolved = branches.map((branch) => this.describe(branch, namespace));
    const wrapped = Array.isArray(schema) && isAmbiguous(resolved.map((r) => ({ bucket: r.bucket })));
    for (let i = 0; i < resolved.length; i++) {
      const gen = this.overrideFor(override, resolved[i]!, hints, path);
      if (gen) {
        const name = resolved[i]!.branchName;
        return wrapped ? (ctx, depth) => ({ [name]: gen(ctx, depth) }) : gen;
      }
    }
    const expected = { eventId: 'string, long, int, bytes or fixed(16)', eventTime: 'long (timestamp), double or string', partitionKey: 'string, int or long' }[override.kind];
    throw new TributaryError(
      'CONFIG_INVALID',
      `${override.configPath}: field "${path}" of ${this.options.origin} is ${JSON.stringify(schema)}; expected ${expected}`,
    );
  }

  /** The base type of a branch, following named references, without compiling it. */
  private describe(schema: AvroSchemaNode, namespace: string): { base: string; logical: string | undefined; size: number; bucket: string; branchName: string; hints: Hints } {
    if (typeof schema === 'string') {
      if (PRIMITIVES.has(schema)) return { base: schema, logical: undefined, size: 0, bucket: bucketOf(schema), branchName: schema, hints: {} };
      const entry = this.named.get(this.qualify(schema, namespace)) ?? this.named.get(schema);
      if (!entry) throw this.fail('', `unknown type "${schema}"`);
      return this.describe(entry.schema as AvroSchemaNode, entry.namespace);
    }
    if (Array.isArray(schema)) return { base: 'union', logical: undefined, size: 0, bucket: 'union', branchName: 'union', hints: {} };
    const kind = typeof schema.type === 'string' ? schema.type : 'complex';
    const named = kind === 'record' || kind === 'enum' || kind === 'fixed' || kind === 'error';
    if (named) {
      const ns = typeof schema.namespace === 'string' ? schema.namespace : namespace;
      const fullName = this.fullName(schema, ns);
      if (!this.named.has(fullName)) this.compile(schema, namespace, {}, '');
      return { base: kind, logical: undefined, size: Number(schema.size ?? 0), bucket: bucketOf(kind), branchName: fullName, hints: {} };
    }
    const logical = typeof schema.logicalType === 'string' ? schema.logicalType : undefined;
    return { base: kind, logical, size: 0, bucket: bucketOf(kind), branchName: kind, hints: this.hints(schema.gen, '') };
  }

  private overrideFor(override: FieldOverride, type: ReturnType<SchemaCompiler['describe']>, fieldHints: Hints, path: string): Gen | undefined {
    const { base, logical } = type;
    switch (override.kind) {
      case 'eventId':
        if (base === 'string') return (ctx) => ctx.eventId;
        if (base === 'long') return (ctx) => ctx.ordinal + 1;
        if (base === 'int') {
          return (ctx) => {
            if (ctx.ordinal + 1 > INT32_MAX) throw new RangeError(`event id field ${path} is an int; ${ctx.ordinal + 1} events do not fit`);
            return ctx.ordinal + 1;
          };
        }
        if (base === 'bytes' || (base === 'fixed' && type.size === 16)) return (ctx) => Buffer.from(ctx.eventId.replace(/-/g, ''), 'hex');
        return undefined;
      case 'eventTime':
        if (base === 'long') return logical === 'timestamp-micros' || logical === 'local-timestamp-micros' ? (ctx) => ctx.eventTimeMs * 1000 : (ctx) => ctx.eventTimeMs;
        if (base === 'double') return (ctx) => ctx.eventTimeMs;
        if (base === 'string') return (ctx) => new Date(ctx.eventTimeMs).toISOString();
        return undefined;
      case 'partitionKey': {
        if (base === 'int' || base === 'long') {
          this.keyString = (index) => String(index);
          return (ctx) => ctx.keyIndex;
        }
        if (base !== 'string') return undefined;
        const hints = { ...type.hints, ...fieldHints };
        const leaf = path.slice(path.lastIndexOf('.') + 1);
        const salt = this.options.salt;
        if (logical === 'uuid') this.keyString = (index) => uuidFor(index, salt);
        else if (hints.prefix !== undefined) this.keyString = (index) => hints.prefix + String(index).padStart(hints.width ?? 1, '0');
        else this.keyString = (index) => `${leaf}-${index}`;
        // The stream generator formats the key once per event (it also routes on it) and passes it in.
        return (ctx) => ctx.key;
      }
    }
  }
}

function elementHints(hints: Hints): Hints {
  const { minItems: _minItems, maxItems: _maxItems, keys: _keys, nullProbability: _null, ...rest } = hints;
  return rest;
}

function bucketOf(kind: string): string {
  switch (kind) {
    case 'int':
    case 'long':
    case 'float':
    case 'double':
      return 'number';
    case 'bytes':
    case 'fixed':
      return 'buffer';
    case 'enum':
      return 'string';
    case 'map':
    case 'record':
    case 'error':
      return 'object';
    default:
      return kind;
  }
}

function isAmbiguous(branches: ReadonlyArray<{ bucket: string }>): boolean {
  const seen = new Set<string>();
  for (const { bucket } of branches) {
    if (seen.has(bucket)) return true;
    seen.add(bucket);
  }
  return false;
}

function modulo(value: number, divisor: number): number {
  return ((value % divisor) + divisor) % divisor;
}

function randomBytes(rng: Prng, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) out[i] = rng.uint32() & 0xff;
  return out;
}

function randomText(rng: Prng, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHANUMERIC[rng.uint32() % ALPHANUMERIC.length];
  return out;
}

function randomUuid(rng: Prng): string {
  const hex = (n: number): string => n.toString(16).padStart(8, '0');
  const a = hex(rng.uint32());
  const b = hex(rng.uint32());
  const c = hex(rng.uint32());
  const d = hex(rng.uint32());
  const variant = '89ab'[rng.uint32() & 3];
  return `${a}-${b.slice(0, 4)}-4${b.slice(5, 8)}-${variant}${c.slice(1, 4)}-${c.slice(4)}${d}`;
}
