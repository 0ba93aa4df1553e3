/**
 * A bounds guard for Avro binary data: walks one value of a (writer) schema over the bytes without building it,
 * and checks every length and count against the bytes that remain before any decoder would allocate for it.
 *
 * avsc trusts what it reads: a 10-byte body whose array count is 2^31 makes it allocate (and loop) until the
 * process dies, and an overlong varint can turn a count into Infinity. Run this first; when it accepts a body,
 * avsc (or any decoder that reads the same bytes) allocates at most in proportion to the body's size:
 * - strings, bytes and fixed never announce more bytes than remain;
 * - an array or map block of n items needs n times the smallest encoding of its item type, so it must fit in
 *   what remains (a block with a byte size must fit, and its items must fill it exactly);
 * - items of a type that encodes in zero bytes (null, an empty record) cannot be bounded by bytes, so a body
 *   may hold at most `ZERO_BYTE_ITEM_ALLOWANCE` plus its own length of them;
 * - varints are at most 5 bytes for int (and within int32) and 10 for long (and within 2^53, as avsc demands);
 * - union and enum indexes exist, booleans are 0 or 1, and nesting is at most `MAX_NESTING` deep (a recursive
 *   schema must not let the bytes pick the stack depth).
 *
 * The walk allocates nothing per value: the schema is compiled once into a small tree of nodes, and the walk
 * keeps its cursor in module state. Only a failure builds an object (what was wrong, and at which byte).
 */
import avro from 'avsc';

/** Zero-byte items a body may hold beyond one per body byte. */
export const ZERO_BYTE_ITEM_ALLOWANCE = 1024;
/** Deepest nesting of records, arrays, maps and unions a value may have. */
export const MAX_NESTING = 256;

export interface BoundsFailure {
  /** byte offset into the buffer given to the check */
  offset: number;
  message: string;
}

const enum Kind {
  Null,
  Boolean,
  Int,
  Long,
  Float,
  Double,
  Bytes,
  Fixed,
  Enum,
  Array,
  Map,
  Union,
  Record,
}

/** One node per schema type; every node has the same shape so the walk stays monomorphic. */
class Node {
  /** fixed: size; enum: symbol count */
  size = 0;
  /** the smallest number of bytes a value of this type encodes in (a lower bound for recursive types) */
  minBytes = 0;
  /** array items, map values, union branches, record fields */
  children: Node[] = [];
  /** for errors: the type's name or kind */
  label = '';
  constructor(readonly kind: Kind) {}
}

const compiled = new WeakMap<avro.Type, Node>();

function compile(type: avro.Type, named: Map<avro.Type, Node>): Node {
  const cached = compiled.get(type) ?? named.get(type);
  if (cached) return cached;
  const typeName = type.typeName;
  if (typeName.startsWith('logical:')) return compile((type as avro.types.LogicalType).underlyingType, named);
  let node: Node;
  switch (typeName) {
    case 'null':
      return leaf(Kind.Null, 0, 'null');
    case 'boolean':
      return leaf(Kind.Boolean, 1, 'boolean');
    case 'int':
      return leaf(Kind.Int, 1, 'int');
    case 'long':
      return leaf(Kind.Long, 1, 'long');
    case 'float':
      return leaf(Kind.Float, 4, 'float');
    case 'double':
      return leaf(Kind.Double, 8, 'double');
    case 'string':
      return leaf(Kind.Bytes, 1, 'string');
    case 'bytes':
      return leaf(Kind.Bytes, 1, 'bytes');
    case 'fixed':
      node = leaf(Kind.Fixed, (type as avro.types.FixedType).size, `fixed ${type.name ?? ''}`.trim());
      node.size = node.minBytes;
      return node;
    case 'enum':
      node = leaf(Kind.Enum, 1, `enum ${type.name ?? ''}`.trim());
      node.size = (type as avro.types.EnumType).symbols.length;
      return node;
    case 'array':
      node = leaf(Kind.Array, 1, 'array');
      node.children = [compile((type as avro.types.ArrayType).itemsType, named)];
      return node;
    case 'map':
      node = leaf(Kind.Map, 1, 'map');
      node.children = [compile((type as avro.types.MapType).valuesType as avro.Type, named)];
      return node;
    case 'union:wrapped':
    case 'union:unwrapped': {
      node = leaf(Kind.Union, 1, 'union');
      node.children = (type as avro.types.UnwrappedUnionType).types.map((t) => compile(t, named));
      node.minBytes = 1 + Math.min(...node.children.map((c) => c.minBytes));
      return node;
    }
    case 'record':
    case 'error': {
      // Registered before its fields compile, so a recursive reference finds it (with minBytes 0 for now: a
      // lower bound, which is all the count check needs).
      node = leaf(Kind.Record, 0, `record ${type.name ?? ''}`.trim());
      named.set(type, node);
      const fields = (type as avro.types.RecordType).fields;
      node.children = fields.map((f) => compile(f.type, named));
      node.minBytes = node.children.reduce((sum, c) => sum + c.minBytes, 0);
      return node;
    }
    default:
      throw new Error(`avro-bounds: unsupported Avro type "${typeName}"`);
  }
}

function leaf(kind: Kind, minBytes: number, label: string): Node {
  const node = new Node(kind);
  node.minBytes = minBytes;
  node.label = label;
  return node;
}

/** Unions and arrays compiled before a recursive record's size was known: settle their lower bounds again. */
function settle(root: Node): void {
  const seen = new Set<Node>();
  let changed = true;
  const visit = (node: Node): void => {
    if (seen.has(node)) return;
    seen.add(node);
    for (const child of node.children) visit(child);
    let min = node.minBytes;
    if (node.kind === Kind.Record) min = node.children.reduce((sum, c) => sum + c.minBytes, 0);
    else if (node.kind === Kind.Union) min = 1 + Math.min(...node.children.map((c) => c.minBytes));
    if (min !== node.minBytes) {
      node.minBytes = min;
      changed = true;
    }
  };
  // Bounded: minBytes only grow, and a cycle always passes through an array or map (min 1) or a union.
  for (let round = 0; changed && round < 64; round++) {
    changed = false;
    seen.clear();
    visit(root);
  }
}

export class BoundsGuard {
  private constructor(private readonly root: Node) {}

  static for(typeOrSchema: avro.Type | avro.Schema): BoundsGuard {
    const type = avro.Type.isType(typeOrSchema) ? (typeOrSchema as avro.Type) : avro.Type.forSchema(typeOrSchema as avro.Schema);
    let root = compiled.get(type);
    if (!root) {
      const named = new Map<avro.Type, Node>();
      root = compile(type, named);
      settle(root);
      compiled.set(type, root);
    }
    return new BoundsGuard(root);
  }

  /** The fewest bytes one value encodes in (a lower bound). */
  get minBytes(): number {
    return this.root.minBytes;
  }

  /**
   * Checks that `bytes[start, end)` holds exactly one value. undefined when it does; otherwise what is wrong and
   * at which byte (relative to `bytes`).
   */
  check(bytes: Uint8Array, start = 0, end = bytes.length): BoundsFailure | undefined {
    const stop = this.skip(bytes, start, end, end - start);
    if (stop < 0) return takeFailure();
    if (stop !== end) return { offset: stop, message: `${end - stop} trailing bytes after the value` };
    return undefined;
  }

  /**
   * Walks one value starting at `start`, returning where it ends, or -1 (then `lastFailure()` says why).
   * `budgetBytes` sets how many zero-byte items the value may hold (that many plus ZERO_BYTE_ITEM_ALLOWANCE).
   */
  skip(bytes: Uint8Array, start: number, end: number, budgetBytes: number): number {
    buf = bytes;
    limit = end;
    zeroBudget = ZERO_BYTE_ITEM_ALLOWANCE + budgetBytes;
    failure = undefined;
    try {
      return walk(this.root, start, 0);
    } finally {
      buf = EMPTY;
    }
  }

  /** Why the last `skip` returned -1. */
  lastFailure(): BoundsFailure {
    return takeFailure();
  }
}

/** avsc's precision limit for long (one short of Number.MAX_SAFE_INTEGER: 2^53 - 1 could be a rounded 2^53) */
const MAX_LONG = 9007199254740990;
const EMPTY = new Uint8Array(0);
let buf: Uint8Array = EMPTY;
let limit = 0;
let zeroBudget = 0;
let failure: BoundsFailure | undefined;
/** the value of the last varint read */
let varint = 0;

function takeFailure(): BoundsFailure {
  const f = failure ?? { offset: 0, message: 'unknown bounds failure' };
  failure = undefined;
  return f;
}

function fail(offset: number, message: string): number {
  failure = { offset, message };
  return -1;
}

/**
 * Reads a zig-zag varint at `pos` into `varint`; returns the position after it or -1. Arithmetic as avsc's
 * (integers for the low 28 bits, then floating point), so both read the same number.
 */
function readVarint(pos: number, maxBytes: number, what: string): number {
  // most varints are one byte: lengths and counts under 64, indexes, small numbers
  if (pos < limit) {
    const b0 = buf[pos]!;
    if (b0 < 0x80) {
      varint = (b0 >> 1) ^ -(b0 & 1);
      return pos + 1;
    }
  }
  const start = pos;
  let n = 0;
  let shift = 0;
  let b: number;
  do {
    if (pos >= limit) return fail(start, `${what}: truncated varint`);
    if (pos - start >= maxBytes) return fail(start, `${what}: varint longer than ${maxBytes} bytes`);
    b = buf[pos++]!;
    n |= (b & 0x7f) << shift;
    shift += 7;
  } while (b & 0x80 && shift < 28);
  if (!(b & 0x80)) {
    varint = (n >> 1) ^ -(n & 1);
    return pos;
  }
  let f = n >>> 0;
  let scale = 268435456; // 2 ** 28
  do {
    if (pos >= limit) return fail(start, `${what}: truncated varint`);
    if (pos - start >= maxBytes) return fail(start, `${what}: varint longer than ${maxBytes} bytes`);
    b = buf[pos++]!;
    f += (b & 0x7f) * scale;
    scale *= 128;
  } while (b & 0x80);
  varint = (f % 2 ? -(f + 1) : f) / 2;
  return pos;
}

function walk(node: Node, pos: number, depth: number): number {
  switch (node.kind) {
    case Kind.Null:
      return pos;
    case Kind.Boolean:
      if (pos >= limit) return fail(pos, 'boolean: truncated');
      if (buf[pos]! > 1) return fail(pos, `boolean: byte ${buf[pos]} is neither 0 nor 1`);
      return pos + 1;
    case Kind.Int:
      pos = readVarint(pos, 5, 'int');
      if (pos >= 0 && (varint > 2147483647 || varint < -2147483648)) return fail(pos, `int: ${varint} is outside 32 bits`);
      return pos;
    case Kind.Long: {
      const start = pos;
      pos = readVarint(pos, 10, 'long');
      if (pos >= 0 && !(varint >= -MAX_LONG && varint <= MAX_LONG)) return fail(start, `long: ${varint} is beyond 2^53 and would lose precision`);
      return pos;
    }
    case Kind.Float:
      return pos + 4 <= limit ? pos + 4 : fail(pos, `float: truncated (${limit - pos} of 4 bytes)`);
    case Kind.Double:
      return pos + 8 <= limit ? pos + 8 : fail(pos, `double: truncated (${limit - pos} of 8 bytes)`);
    case Kind.Bytes:
      return skipLength(node.label, pos);
    case Kind.Fixed:
      return pos + node.size <= limit ? pos + node.size : fail(pos, `${node.label}: ${node.size} bytes announced, ${limit - pos} remain`);
    case Kind.Enum: {
      const start = pos;
      pos = readVarint(pos, 10, node.label);
      if (pos >= 0 && !(varint >= 0 && varint < node.size)) return fail(start, `${node.label}: index ${varint} is not one of its ${node.size} symbols`);
      return pos;
    }
    case Kind.Union: {
      if (depth >= MAX_NESTING) return fail(pos, `nesting deeper than ${MAX_NESTING}`);
      const start = pos;
      pos = readVarint(pos, 10, 'union');
      if (pos < 0) return pos;
      if (!(varint >= 0 && varint < node.children.length)) return fail(start, `union: branch index ${varint} is not one of its ${node.children.length} branches`);
      return walk(node.children[varint]!, pos, depth + 1);
    }
    case Kind.Record: {
      if (depth >= MAX_NESTING) return fail(pos, `nesting deeper than ${MAX_NESTING}`);
      const fields = node.children;
      for (let i = 0; i < fields.length && pos >= 0; i++) pos = walk(fields[i]!, pos, depth + 1);
      return pos;
    }
    case Kind.Array:
    case Kind.Map:
      if (depth >= MAX_NESTING) return fail(pos, `nesting deeper than ${MAX_NESTING}`);
      return skipBlocks(node, pos, depth);
    default:
      return fail(pos, `unknown node kind ${String(node.kind)}`);
  }
}

function skipLength(what: string, pos: number): number {
  const start = pos;
  pos = readVarint(pos, 10, what);
  if (pos < 0) return pos;
  if (varint < 0) return fail(start, `${what}: negative length ${varint}`);
  if (varint > limit - pos) return fail(start, `${what}: length ${varint} exceeds the ${limit - pos} bytes that remain`);
  return pos + varint;
}

function skipBlocks(node: Node, pos: number, depth: number): number {
  const isMap = node.kind === Kind.Map;
  const what = isMap ? 'map' : 'array';
  const item = node.children[0]!;
  // a map entry is its key (at least its length byte) and its value
  const itemMin = isMap ? 1 + item.minBytes : item.minBytes;
  for (;;) {
    const blockStart = pos;
    pos = readVarint(pos, 10, `${what} block count`);
    if (pos < 0) return pos;
    let count = varint;
    if (count === 0) return pos;
    let blockEnd = -1;
    if (count < 0) {
      count = -count;
      const sizeAt = pos;
      pos = readVarint(pos, 10, `${what} block size`);
      if (pos < 0) return pos;
      if (varint < 0) return fail(sizeAt, `${what}: negative block size ${varint}`);
      if (varint > limit - pos) return fail(sizeAt, `${what}: block size ${varint} exceeds the ${limit - pos} bytes that remain`);
      blockEnd = pos + varint;
    }
    const itemsStart = pos;
    const room = (blockEnd >= 0 ? blockEnd : limit) - pos;
    if (itemMin > 0) {
      if (count > room / itemMin) return fail(blockStart, `${what}: block count ${count} needs at least ${count * itemMin} bytes, ${room} remain`);
    } else {
      zeroBudget -= count;
      if (zeroBudget < 0) return fail(blockStart, `${what}: block count ${count} of zero-byte items exceeds what the body's size allows`);
    }
    for (let i = 0; i < count; i++) {
      if (isMap) {
        pos = skipLength('map key', pos);
        if (pos < 0) return pos;
      }
      pos = walk(item, pos, depth + 1);
      if (pos < 0) return pos;
    }
    if (blockEnd >= 0 && pos !== blockEnd) return fail(blockStart, `${what}: block size says ${blockEnd - itemsStart} bytes, its ${count} items take ${pos - itemsStart}`);
  }
}
