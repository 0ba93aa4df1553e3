/**
 * An Avro body decoder compiled from the reader schema (and, for Confluent-framed bodies, the writer schema it
 * resolves from) into a tree of closures that append each projected column's value straight to that column's
 * builder (../../../core/column-builder.ts): numbers into a Float64Array or Int32Array, strings as UTF-8 bytes
 * copied from the body, nested values (arrays, maps) as their JSON text built as UTF-8 while they are read. No
 * object per record and no JS string per value.
 *
 * The rows are the ones the avsc path produces (avsc's value, then projection.ts's getters), which the decode
 * tests check body by body, failures included. Resolution follows avsc's rules: numeric promotions (int -> long,
 * float, double; long -> float, double; float -> double) and string <-> bytes; reader fields matched by name or
 * alias, missing ones filled from their defaults, writer-only fields skipped (still bounds-checked); enum symbols
 * by name (the reader's default for unknown ones); nullable unions by branch.
 *
 * Not compiled (the caller falls back to avsc, and says so): unions other than null + one type, recursive
 * schemas, and any writer/reader pair avsc would not resolve (different names, missing defaults, unknown enum
 * symbols without a default, incompatible types) - avsc then reports the error per event as it always has.
 */
import avro from 'avsc';
import { builderKind, type ColumnBuilder } from '../../../core/column-builder.js';
import { jsonWithBytes, type ProjectedColumn } from '../projection.js';
import * as cur from './cursor.js';
import * as json from './json-text.js';

type Op = () => void;

/**
 * Decodes one body, appending one row to each of `columns` (one builder per projected column), or throws a
 * BodyError; after a throw some builders may hold the row and others not (the caller truncates them).
 */
export type BodyDecoder = (buffer: Buffer, start: number, end: number, columns: ColumnBuilder[]) => void;

export type CompileOutcome = { decoder: BodyDecoder } | { fallback: string };

class Unsupported extends Error {}

/** The columns being filled; set per body by the decoder, appended to by the compiled ops. */
let out: ColumnBuilder[] = [];

export function compileBodyDecoder(readerSchema: unknown, writerSchema: unknown | undefined, columns: readonly ProjectedColumn[]): CompileOutcome {
  try {
    const reader = avro.Type.forSchema(readerSchema as avro.Schema);
    const writer = writerSchema === undefined ? reader : avro.Type.forSchema(writerSchema as avro.Schema);
    const compiler = new Compiler(columns);
    const root = compiler.record(reader as avro.types.RecordType, writer, []);
    if (compiler.next !== columns.length) throw new Unsupported(`schema walk found ${compiler.next} columns, projection ${columns.length}`);
    const decoder: BodyDecoder = (buffer, start, end, columns) => {
      out = columns;
      cur.begin(buffer, start, end);
      root();
      cur.finish();
    };
    return { decoder };
  } catch (error) {
    if (error instanceof Unsupported) return { fallback: error.message };
    throw error;
  }
}

type Named = avro.Type & { name?: string; aliases?: string[] };
type UnionLike = avro.Type & { types: avro.Type[] };

function nullableBranch(type: avro.Type): avro.Type | undefined {
  if (!type.typeName.startsWith('union')) return undefined;
  const branches = (type as UnionLike).types;
  if (branches.length !== 2) throw new Unsupported(`union ${JSON.stringify(type.schema())}: only ["null", T] unions are compiled`);
  const nonNull = branches.filter((b) => b.typeName !== 'null');
  if (nonNull.length !== 1) throw new Unsupported(`union ${JSON.stringify(type.schema())}: only ["null", T] unions are compiled`);
  return nonNull[0]!;
}

function compatibleName(reader: Named, writer: Named): boolean {
  if (!writer.name) return true;
  return reader.name === writer.name || (reader.aliases ?? []).includes(writer.name);
}

function cannot(reader: avro.Type, writer: avro.Type): Unsupported {
  return new Unsupported(`cannot read ${JSON.stringify(writer.schema())} as ${JSON.stringify(reader.schema())}`);
}

/** The smallest number of bytes a value of the (writer) type encodes in. */
function minBytes(type: avro.Type, seen = new Set<avro.Type>()): number {
  switch (type.typeName) {
    case 'null':
      return 0;
    case 'float':
      return 4;
    case 'double':
      return 8;
    case 'fixed':
      return (type as avro.types.FixedType).size;
    case 'record':
    case 'error': {
      if (seen.has(type)) throw new Unsupported(`recursive schema ${(type as Named).name ?? ''}`);
      seen.add(type);
      const sum = (type as avro.types.RecordType).fields.reduce((n, f) => n + minBytes(f.type, seen), 0);
      seen.delete(type);
      return sum;
    }
    default:
      return 1;
  }
}

class Compiler {
  next = 0;
  private readonly stack = new Set<avro.Type>();

  constructor(private readonly columns: readonly ProjectedColumn[]) {}

  /** Ops for a record flattened into columns, starting at `this.next`. */
  record(reader: avro.types.RecordType, writer: avro.Type, path: string[]): Op {
    if (writer.typeName !== 'record' && writer.typeName !== 'error') throw cannot(reader, writer);
    if (!compatibleName(reader as Named, writer as Named)) throw cannot(reader, writer);
    if (this.stack.has(reader)) throw new Unsupported(`recursive schema ${reader.name ?? ''}`);
    this.stack.add(reader);
    const match = matchFields(reader, writer as avro.types.RecordType);
    const fieldOps = new Map<avro.types.Field, Op>();
    const defaults: Op[] = [];
    for (const field of reader.fields) {
      const writerField = match.get(field);
      const first = this.next;
      const op = writerField ? this.field(field.type, writerField.type, [...path, field.name]) : undefined;
      if (op) fieldOps.set(field, op);
      else {
        this.field(field.type, field.type, [...path, field.name]); // assigns the columns; the op is unused
        defaults.push(this.defaultColumns(field, path, first, this.next));
      }
    }
    const ops: Op[] = [...defaults];
    for (const writerField of (writer as avro.types.RecordType).fields) {
      const readerField = [...match.entries()].find(([, w]) => w === writerField)?.[0];
      ops.push(readerField ? fieldOps.get(readerField)! : skipOp(writerField.type));
    }
    this.stack.delete(reader);
    return sequence(ops);
  }

  /** Ops for one reader field: a flattened record, or one column. */
  private field(reader: avro.Type, writer: avro.Type, path: string[]): Op {
    const inner = nullableBranch(reader);
    if (inner && (inner.typeName === 'record' || inner.typeName === 'error')) {
      const first = this.next;
      const writerInner = nullableBranch(writer);
      if (writer.typeName === 'null') {
        this.record(inner as avro.types.RecordType, inner, path);
        return nullColumns(first, this.next);
      }
      if (!writerInner) return this.record(inner as avro.types.RecordType, writer, path);
      const body = this.record(inner as avro.types.RecordType, writerInner, path);
      return unionOp(writer, body, nullColumns(first, this.next));
    }
    if (reader.typeName === 'record' || reader.typeName === 'error') return this.record(reader as avro.types.RecordType, writer, path);
    const column = this.columns[this.next];
    if (!column || column.path.join('.') !== path.join('.')) throw new Unsupported(`column order differs from the projection at ${path.join('.')}`);
    const k = this.next++;
    return columnOp(reader, writer, k, column);
  }

  /** Constant column values for a reader field the writer lacks, from its default, as the avsc path has them. */
  private defaultColumns(field: avro.types.Field, path: string[], first: number, next: number): Op {
    const value = (field as avro.types.Field & { defaultValue(): unknown }).defaultValue();
    if (value === undefined) throw new Unsupported(`no matching writer field for default-less ${path.concat(field.name).join('.')}`);
    const root: Record<string, unknown> = {};
    let at = root;
    for (const key of path) at = at[key] = {} as Record<string, unknown>;
    at[field.name] = value;
    const values: unknown[] = [];
    for (let k = first; k < next; k++) values.push(columnValue(this.columns[k]!, root));
    return () => {
      for (let i = 0; i < values.length; i++) out[first + i]!.appendValue(values[i]);
    };
  }
}

/** A column's value read out of an avsc-shaped record, as projection.ts's getters do it. */
function columnValue(column: ProjectedColumn, record: Record<string, unknown>): unknown {
  let value: unknown = record;
  for (const key of column.path) {
    if (value === null || value === undefined) return null;
    value = (value as Record<string, unknown>)[key];
  }
  if (column.type === 'json_text') return value === null || value === undefined ? null : jsonWithBytes(value);
  return value ?? null;
}

function matchFields(reader: avro.types.RecordType, writer: avro.types.RecordType): Map<avro.types.Field, avro.types.Field> {
  const byName = new Map(writer.fields.map((f) => [f.name, f]));
  const match = new Map<avro.types.Field, avro.types.Field>();
  const used = new Set<avro.types.Field>();
  for (const field of reader.fields) {
    const names = [...new Set([field.name, ...((field as avro.types.Field & { aliases?: string[] }).aliases ?? [])])];
    const found = names.map((n) => byName.get(n)).filter((f): f is avro.types.Field => f !== undefined);
    if (found.length > 1) throw new Unsupported(`ambiguous aliasing for ${reader.name ?? ''}.${field.name}`);
    if (found.length === 1) {
      if (used.has(found[0]!)) throw new Unsupported(`writer field ${found[0]!.name} feeds two reader fields`);
      used.add(found[0]!);
      match.set(field, found[0]!);
    }
  }
  return match;
}

function sequence(ops: Op[]): Op {
  switch (ops.length) {
    case 0:
      return () => {};
    case 1:
      return ops[0]!;
    case 2: {
      const [a, b] = ops as [Op, Op];
      return () => {
        a();
        b();
      };
    }
    default:
      return () => {
        for (let i = 0; i < ops.length; i++) ops[i]!();
      };
  }
}

function nullColumns(first: number, next: number): Op {
  return () => {
    for (let k = first; k < next; k++) out[k]!.appendNull();
  };
}

/** A writer union of null and one type: the branch index picks `whenNull` or `body`. */
function unionOp(writer: avro.Type, body: Op, whenNull: Op): Op {
  const branches = (writer as UnionLike).types;
  const nullIndex = branches.findIndex((b) => b.typeName === 'null');
  return () => {
    const index = cur.readLong();
    if (index === nullIndex) whenNull();
    else if (index === 1 - nullIndex) body();
    else throw new cur.BodyError(`invalid union index: ${index}`);
  };
}

/** Reads a value of a resolvable primitive pair; undefined when the pair is not a primitive one. */
function primitiveReader(reader: avro.Type, writer: avro.Type): (() => unknown) | undefined {
  const r = reader.typeName;
  const w = writer.typeName;
  const numeric: Record<string, string[]> = { long: ['int', 'long'], float: ['int', 'long', 'float'], double: ['int', 'long', 'float', 'double'], int: ['int'] };
  if (numeric[r]) {
    if (!numeric[r]!.includes(w)) throw cannot(reader, writer);
    switch (w) {
      case 'int':
        return cur.readInt;
      case 'long':
        return cur.readLong;
      case 'float':
        return cur.readFloat;
      default:
        return cur.readDouble;
    }
  }
  switch (r) {
    case 'null':
      if (w !== 'null') throw cannot(reader, writer);
      return () => null;
    case 'boolean':
      if (w !== 'boolean') throw cannot(reader, writer);
      return cur.readBoolean;
    case 'string':
      if (w !== 'string' && w !== 'bytes') throw cannot(reader, writer);
      return cur.readString;
    case 'bytes':
      if (w !== 'string' && w !== 'bytes') throw cannot(reader, writer);
      return cur.readBytes;
    case 'fixed': {
      const size = (reader as avro.types.FixedType).size;
      if (w !== 'fixed' || (writer as avro.types.FixedType).size !== size || !compatibleName(reader as Named, writer as Named)) throw cannot(reader, writer);
      return () => cur.readFixed(size);
    }
    case 'enum': {
      const symbols = enumSymbols(reader, writer);
      return () => {
        const index = cur.readLong();
        const symbol = symbols[index];
        if (symbol === undefined) throw new cur.BodyError(`invalid ${(writer as Named).name ?? ''} enum index: ${index}`);
        return symbol;
      };
    }
    default:
      return undefined;
  }
}

/** Writer symbol index -> reader symbol (the reader's default for symbols it lacks), as avsc resolves them. */
function enumSymbols(reader: avro.Type, writer: avro.Type): string[] {
  if (writer.typeName !== 'enum' || !compatibleName(reader as Named, writer as Named)) throw cannot(reader, writer);
  const readerSymbols = (reader as avro.types.EnumType).symbols;
  const fallback = (reader as avro.types.EnumType & { default?: string }).default;
  return (writer as avro.types.EnumType).symbols.map((s) => {
    if (readerSymbols.includes(s)) return s;
    if (fallback === undefined) throw cannot(reader, writer);
    return fallback;
  });
}

function columnOp(reader: avro.Type, writer: avro.Type, k: number, column: ProjectedColumn): Op {
  const inner = nullableBranch(reader);
  if (inner) {
    if (writer.typeName === 'null') return () => out[k]!.appendNull();
    const writerInner = nullableBranch(writer);
    if (!writerInner) return columnOp(inner, writer, k, column);
    return unionOp(writer, columnOp(inner, writerInner, k, column), () => out[k]!.appendNull());
  }
  if (writer.typeName.startsWith('union')) throw cannot(reader, writer);
  if (column.type === 'json_text') {
    if (reader.typeName === 'null') {
      if (writer.typeName !== 'null') throw cannot(reader, writer);
      return () => out[k]!.appendNull();
    }
    const text = jsonOp(reader, writer);
    return () => {
      const column = out[k]!;
      json.writeInto(column);
      text();
      json.finishInto(column);
    };
  }
  const read = primitiveReader(reader, writer);
  if (!read) throw cannot(reader, writer);
  // One closure site per common read, so each call inside is monomorphic and V8 inlines it (a shared
  // `append(read())` site sees every reader and calls them all indirectly). Numbers go straight to a typed column
  // only where its kind takes them as they are (int32 columns take ints, float64 columns every number).
  if (read === cur.readString) {
    if (column.type !== 'string') return () => out[k]!.appendValue(cur.readString());
    return () => {
      const start = cur.readStringSpan();
      out[k]!.appendUtf8(cur.bytes, start, cur.position());
    };
  }
  const float64 = builderKind(column.type) === 'float64';
  if (float64 && read === cur.readLong) return () => out[k]!.appendNumber(cur.readLong());
  if ((float64 || column.type === 'int32') && read === cur.readInt) return () => out[k]!.appendNumber(cur.readInt());
  if (float64 && read === cur.readDouble) return () => out[k]!.appendNumber(cur.readDouble());
  if (reader.typeName === 'enum' && column.type === 'string') {
    // Avro symbols are ASCII names, so their bytes are valid UTF-8 as they stand.
    const symbols = enumSymbols(reader, writer).map((s) => Buffer.from(s, 'utf8'));
    return () => {
      const index = cur.readLong();
      const symbol = symbols[index];
      if (symbol === undefined) throw new cur.BodyError(`invalid ${(writer as Named).name ?? ''} enum index: ${index}`);
      out[k]!.appendValidUtf8(symbol, 0, symbol.length);
    };
  }
  return () => out[k]!.appendValue(read());
}

const BASE64_QUOTE = (value: Buffer): string => `"${value.toString('base64')}"`;

/** Appends the JSON text of one value (reader-shaped, read with the writer's encoding) to json.text. */
function jsonOp(reader: avro.Type, writer: avro.Type, stack = new Set<avro.Type>()): Op {
  const inner = nullableBranch(reader);
  if (inner) {
    if (writer.typeName === 'null') return () => json.append('null');
    const writerInner = nullableBranch(writer);
    if (!writerInner) return jsonOp(inner, writer, stack);
    return unionOp(writer, jsonOp(inner, writerInner, stack), () => json.append('null'));
  }
  if (writer.typeName.startsWith('union')) throw cannot(reader, writer);
  switch (reader.typeName) {
    case 'null':
      if (writer.typeName !== 'null') throw cannot(reader, writer);
      return () => json.append('null');
    case 'boolean':
      if (writer.typeName !== 'boolean') throw cannot(reader, writer);
      return () => json.append(cur.readBoolean() ? 'true' : 'false');
    case 'int':
    case 'long':
    case 'float':
    case 'double': {
      const read = primitiveReader(reader, writer) as () => number;
      // Monomorphic sites for the common reads (see columnOp).
      if (read === cur.readInt) return () => json.appendInteger(cur.readInt());
      if (read === cur.readLong) return () => json.appendNumber(cur.readLong());
      if (read === cur.readDouble) return () => json.appendNumber(cur.readDouble());
      return () => json.appendNumber(read());
    }
    case 'string': {
      primitiveReader(reader, writer);
      return () => {
        const start = cur.readStringSpan();
        json.appendUtf8(cur.bytes, start, cur.position());
      };
    }
    case 'bytes':
    case 'fixed': {
      const read = primitiveReader(reader, writer) as () => Buffer;
      return () => json.append(BASE64_QUOTE(read()));
    }
    case 'enum': {
      const quoted = enumSymbols(reader, writer).map((s) => json.quote(s));
      return () => {
        const index = cur.readLong();
        const text = quoted[index];
        if (text === undefined) throw new cur.BodyError(`invalid ${(writer as Named).name ?? ''} enum index: ${index}`);
        json.append(text);
      };
    }
    case 'array': {
      if (writer.typeName !== 'array') throw cannot(reader, writer);
      const itemWriter = (writer as avro.types.ArrayType).itemsType;
      const item = jsonOp((reader as avro.types.ArrayType).itemsType, itemWriter, stack);
      const min = minBytes(itemWriter);
      return () => {
        json.appendByte(0x5b); // [
        let first = true;
        for (let n = cur.readBlockCount(min, 'array'); n !== 0; n = cur.readBlockCount(min, 'array')) {
          const blockEnd = cur.blockEnd;
          for (let i = 0; i < n; i++) {
            if (!first) json.appendByte(0x2c); // ,
            first = false;
            item();
          }
          cur.checkBlockEnd(blockEnd, 'array');
        }
        json.appendByte(0x5d); // ]
      };
    }
    case 'map': {
      if (writer.typeName !== 'map') throw cannot(reader, writer);
      const valueWriter = (writer as avro.types.MapType).valuesType as avro.Type;
      const value = jsonOp((reader as avro.types.MapType).valuesType as avro.Type, valueWriter, stack);
      const min = 1 + minBytes(valueWriter);
      return () => {
        const keys: string[] = [];
        const values: string[] = [];
        const outer = json.swap('');
        for (let n = cur.readBlockCount(min, 'map'); n !== 0; n = cur.readBlockCount(min, 'map')) {
          const blockEnd = cur.blockEnd;
          for (let i = 0; i < n; i++) {
            keys.push(cur.readString());
            json.swap('');
            value();
            values.push(json.text());
          }
          cur.checkBlockEnd(blockEnd, 'map');
        }
        json.swap(outer);
        json.append(json.mapText(keys, values));
      };
    }
    case 'record':
    case 'error':
      return jsonRecordOp(reader as avro.types.RecordType, writer, stack);
    default:
      throw new Unsupported(`type ${reader.typeName} is not compiled`);
  }
}

/** `{"a":..,"b":..}` in the reader's field order; fields the writer sends in another order are buffered. */
function jsonRecordOp(reader: avro.types.RecordType, writer: avro.Type, stack: Set<avro.Type>): Op {
  if ((writer.typeName !== 'record' && writer.typeName !== 'error') || !compatibleName(reader as Named, writer as Named)) throw cannot(reader, writer);
  if (stack.has(reader)) throw new Unsupported(`recursive schema ${reader.name ?? ''}`);
  stack.add(reader);
  const match = matchFields(reader, writer as avro.types.RecordType);
  const writerFields = (writer as avro.types.RecordType).fields;
  const keyText = reader.fields.map((f, i) => `${i === 0 ? '{' : ','}${JSON.stringify(f.name)}:`);
  const inOrder =
    match.size === reader.fields.length &&
    writerFields.length === reader.fields.length &&
    reader.fields.every((f, i) => match.get(f) === writerFields[i]);
  if (inOrder) {
    const ops = reader.fields.map((f, i) => jsonOp(f.type, writerFields[i]!.type, stack));
    stack.delete(reader);
    if (ops.length === 0) return () => json.append('{}');
    const keyBytes = keyText.map(json.asciiBytes);
    if (keyBytes.every((k) => k !== undefined)) {
      const keys = keyBytes as Uint8Array[];
      return () => {
        for (let i = 0; i < ops.length; i++) {
          json.appendAscii(keys[i]!);
          ops[i]!();
        }
        json.appendByte(0x7d); // }
      };
    }
    return () => {
      for (let i = 0; i < ops.length; i++) {
        json.append(keyText[i]!);
        ops[i]!();
      }
      json.append('}');
    };
  }
  // Out of order, skipped or defaulted fields: each read field's text is kept, then all are written in order.
  const slots: Array<{ constant?: string; op?: Op }> = reader.fields.map((field) => {
    const writerField = match.get(field);
    if (writerField) return { op: jsonOp(field.type, writerField.type, stack) };
    const value = (field as avro.types.Field & { defaultValue(): unknown }).defaultValue();
    if (value === undefined) throw new Unsupported(`no matching writer field for default-less ${reader.name ?? ''}.${field.name}`);
    return { constant: jsonWithBytes(value) ?? 'null' };
  });
  const reads: Array<{ slot: number; op: Op }> = writerFields.map((wf) => {
    const slot = reader.fields.findIndex((f) => match.get(f) === wf);
    return slot >= 0 ? { slot, op: slots[slot]!.op! } : { slot: -1, op: skipOp(wf.type) };
  });
  stack.delete(reader);
  const constants = slots.map((s) => s.constant ?? '');
  return () => {
    const texts = constants.slice();
    const outer = json.swap('');
    for (let i = 0; i < reads.length; i++) {
      const read = reads[i]!;
      if (read.slot < 0) {
        read.op();
        continue;
      }
      json.swap('');
      read.op();
      texts[read.slot] = json.text();
    }
    json.swap(outer);
    let text = texts.length === 0 ? '{}' : '';
    for (let i = 0; i < texts.length; i++) text += keyText[i]! + texts[i]!;
    json.append(texts.length === 0 ? text : `${text}}`);
  };
}

/** Passes over a writer value it does not need, with the same checks as a read. */
function skipOp(writer: avro.Type, stack = new Set<avro.Type>()): Op {
  switch (writer.typeName) {
    case 'null':
      return () => {};
    case 'boolean':
      return () => void cur.readBoolean();
    case 'int':
      return () => void cur.readInt();
    case 'long':
      return () => void cur.readLong();
    case 'float':
      return () => cur.skip(4, 'float');
    case 'double':
      return () => cur.skip(8, 'double');
    case 'string':
    case 'bytes':
      return () => cur.skipBytes(writer.typeName);
    case 'fixed': {
      const size = (writer as avro.types.FixedType).size;
      return () => cur.skip(size, 'fixed');
    }
    case 'enum': {
      const count = (writer as avro.types.EnumType).symbols.length;
      return () => {
        const index = cur.readLong();
        if (!(index >= 0 && index < count)) throw new cur.BodyError(`invalid ${(writer as Named).name ?? ''} enum index: ${index}`);
      };
    }
    case 'array':
    case 'map': {
      const isMap = writer.typeName === 'map';
      const itemType = isMap ? ((writer as avro.types.MapType).valuesType as avro.Type) : (writer as avro.types.ArrayType).itemsType;
      const item = skipOp(itemType, stack);
      const min = (isMap ? 1 : 0) + minBytes(itemType);
      return () => {
        for (let n = cur.readBlockCount(min, writer.typeName); n !== 0; n = cur.readBlockCount(min, writer.typeName)) {
          const blockEnd = cur.blockEnd;
          for (let i = 0; i < n; i++) {
            if (isMap) cur.skipBytes('map key');
            item();
          }
          cur.checkBlockEnd(blockEnd, writer.typeName);
        }
      };
    }
    case 'record':
    case 'error': {
      if (stack.has(writer)) throw new Unsupported(`recursive schema ${(writer as Named).name ?? ''}`);
      stack.add(writer);
      const ops = (writer as avro.types.RecordType).fields.map((f) => skipOp(f.type, stack));
      stack.delete(writer);
      return sequence(ops);
    }
    default: {
      if (!writer.typeName.startsWith('union')) throw new Unsupported(`type ${writer.typeName} is not compiled`);
      const branches = (writer as UnionLike).types.map((b) => skipOp(b, stack));
      return () => {
        const index = cur.readLong();
        const branch = branches[index];
        if (!branch) throw new cur.BodyError(`invalid union index: ${index}`);
        branch();
      };
    }
  }
}
