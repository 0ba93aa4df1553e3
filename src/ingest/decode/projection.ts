/**
 * Turns a stream's Avro record schema into the columns of its raw table: nested records are flattened into
 * `parent_child` columns, `["null", T]` unions become nullable T, logical timestamps become Parquet timestamps,
 * enums become strings, and what has no flat Parquet equivalent (arrays, maps, other unions) is kept whole as a JSON
 * column. Derived from the schema alone, so no field name is hard-coded anywhere.
 */
import type { ColumnSpec, ColumnType } from '../../core/table.js';

type AvroSchema = string | AvroSchema[] | { type: AvroSchema; [key: string]: unknown };

export interface ProjectedColumn extends ColumnSpec {
  /** field names from the record root */
  path: string[];
  /** json_text columns only: the value can hold bytes, which JSON text carries as base64 */
  holdsBytes?: boolean;
}

interface NamedSchemas {
  [fullName: string]: AvroSchema;
}

export function projectColumns(schema: unknown): ProjectedColumn[] {
  const named: NamedSchemas = {};
  const root = resolveNamed(schema as AvroSchema, named, '');
  if (typeof root !== 'object' || Array.isArray(root) || root.type !== 'record') {
    throw new TypeError('a stream schema must be an Avro record');
  }
  const columns: ProjectedColumn[] = [];
  collect(root, [], false, named, columns);
  return columns;
}

function collect(record: { [key: string]: unknown }, prefix: string[], nullable: boolean, named: NamedSchemas, out: ProjectedColumn[]): void {
  const namespace = typeof record.namespace === 'string' ? record.namespace : '';
  for (const field of record.fields as Array<{ name: string; type: AvroSchema }>) {
    const path = [...prefix, field.name];
    let type = resolveNamed(field.type, named, namespace);
    let fieldNullable = nullable;
    if (Array.isArray(type)) {
      const nonNull = type.filter((branch) => branch !== 'null');
      // a union with null can be null, also when it stays whole as a JSON column (["null", "string", {record}])
      if (nonNull.length < type.length) fieldNullable = true;
      if (nonNull.length === 1 && nonNull.length < type.length) type = resolveNamed(nonNull[0]!, named, namespace);
    }
    if (typeof type === 'object' && !Array.isArray(type) && type.type === 'record') {
      collect(type, path, fieldNullable, named, out);
      continue;
    }
    const columnKind = columnType(type);
    out.push({
      name: path.join('_'),
      path,
      type: columnKind,
      nullable: fieldNullable,
      ...(columnKind === 'json_text' ? { holdsBytes: holdsBytes(type, named, namespace, new Set()) } : {}),
    });
  }
}

function columnType(schema: AvroSchema): ColumnType {
  if (Array.isArray(schema)) return 'json_text';
  if (typeof schema === 'string') return primitiveType(schema);
  const logical = schema.logicalType;
  if (logical === 'timestamp-millis' || logical === 'local-timestamp-millis') return 'timestamp_ms';
  if (logical === 'timestamp-micros' || logical === 'local-timestamp-micros') return 'timestamp_us';
  switch (schema.type) {
    case 'enum':
      return 'string';
    case 'fixed':
      return 'bytes';
    case 'array':
    case 'map':
      return 'json_text';
    default:
      return typeof schema.type === 'string' ? primitiveType(schema.type) : 'json_text';
  }
}

function primitiveType(name: string): ColumnType {
  switch (name) {
    case 'boolean':
      return 'boolean';
    case 'int':
      return 'int32';
    case 'long':
      return 'int64';
    case 'float':
      return 'float';
    case 'double':
      return 'double';
    case 'string':
      return 'string';
    case 'bytes':
      return 'bytes';
    default:
      return 'json_text';
  }
}

function holdsBytes(schema: AvroSchema, named: NamedSchemas, namespace: string, seen: Set<unknown>): boolean {
  const resolved = resolveNamed(schema, named, namespace);
  if (seen.has(resolved)) return false;
  seen.add(resolved);
  if (typeof resolved === 'string') return resolved === 'bytes';
  if (Array.isArray(resolved)) return resolved.some((branch) => holdsBytes(branch, named, namespace, seen));
  switch (resolved.type) {
    case 'fixed':
    case 'bytes':
      return true;
    case 'array':
      return holdsBytes(resolved.items as AvroSchema, named, namespace, seen);
    case 'map':
      return holdsBytes(resolved.values as AvroSchema, named, namespace, seen);
    case 'record':
    case 'error':
      return (resolved.fields as Array<{ type: AvroSchema }>).some((f) => holdsBytes(f.type, named, namespace, seen));
    default:
      return typeof resolved.type !== 'string' && holdsBytes(resolved.type, named, namespace, seen);
  }
}

/** Follows references to named types declared earlier in the schema, registering the ones declared here. */
function resolveNamed(schema: AvroSchema, named: NamedSchemas, namespace: string): AvroSchema {
  if (typeof schema === 'string') {
    return named[schema] ?? named[`${namespace}.${schema}`] ?? schema;
  }
  if (Array.isArray(schema)) return schema.map((branch) => resolveNamed(branch, named, namespace));
  if (typeof schema.name === 'string' && (schema.type === 'record' || schema.type === 'enum' || schema.type === 'fixed')) {
    const ns = typeof schema.namespace === 'string' ? schema.namespace : namespace;
    const fullName = schema.name.includes('.') || !ns ? schema.name : `${ns}.${schema.name}`;
    named[fullName] = schema;
    named[schema.name] = schema;
  }
  return schema;
}

/** Reads a column's value out of a decoded record; null when any record on the way is null. */
export function compileGetter(column: ProjectedColumn): (record: Record<string, unknown>) => unknown {
  const { path, type } = column;
  const toJson = type === 'json_text';
  // A replacer makes JSON.stringify several times slower; only values that can hold bytes need one.
  const jsonValue = column.holdsBytes ? jsonWithBytes : jsonPlain;
  if (path.length === 1) {
    const [key] = path as [string];
    return toJson ? (r) => jsonValue(r[key]) : (r) => r[key] ?? null;
  }
  return (record) => {
    let value: unknown = record;
    for (const key of path) {
      if (value === null || value === undefined) return null;
      value = (value as Record<string, unknown>)[key];
    }
    return toJson ? jsonValue(value) : (value ?? null);
  };
}

function jsonPlain(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}

/** JSON text of a value that may hold bytes (as base64); null for null. */
export function jsonWithBytes(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  // The replacer sees Buffers after their toJSON ran, so look at the holder's original value instead.
  return JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown) {
    const original = this[key];
    if (original instanceof Uint8Array) return Buffer.from(original).toString('base64');
    return typeof v === 'bigint' ? v.toString() : v;
  });
}
