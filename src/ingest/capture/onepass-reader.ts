/**
 * One pass over a Capture block's inflated bytes: each EventData record (SequenceNumber, Offset, EnqueuedTimeUtc,
 * SystemProperties, Properties, Body) is read with a cursor straight into columns: positions and enqueued times
 * into typed arrays, the body as a (start, end) span into the block (decoded in place later, never copied here)
 * and the Properties map as a span too, decoded only when someone asks (property columns, dead letters).
 *
 * It is a fast path, not a second set of rules: it takes only blocks in which every record is plainly good (every
 * length and count within the block, varints short, map blocks with plain counts, an envelope that the avsc-based
 * reader would accept without an envelope error, the records filling the block exactly). On anything else it
 * answers `undefined` and the caller reads the block with the avsc-based reader (event-reader.ts), which decides
 * every hostile case (failures, their record and byte, envelope errors, unpositioned events) exactly as before.
 * So it never needs to match an error message, only to refuse what it is not sure of.
 */
import type avro from 'avsc';
import type { ApplicationProperties } from '../../core/source.js';
import { parseEnqueuedTimeUtc } from './format.js';
import type { ColumnBuilder } from '../../core/column-builder.js';

/**
 * One block's records, column-major: rows [0, count) of arrays that may be longer (the reader's own, reused);
 * spans are byte offsets into the block's data (text is never decoded here: the lane copies the bytes into its
 * columns, `offsetText` and `partitionKeyText` make strings where one is needed).
 */
export interface EnvelopeColumns {
  count: number;
  positions: Float64Array;
  enqueuedTimes: Float64Array;
  /** the Offset (printable ASCII) */
  offsetStarts: Uint32Array;
  offsetEnds: Uint32Array;
  /** the x-opt-partition-key system property's string or bytes (UTF-8 text once decoded); start -1 when none */
  keyStarts: Int32Array;
  keyEnds: Int32Array;
  bodyStarts: Uint32Array;
  bodyEnds: Uint32Array;
  propertyStarts: Uint32Array;
  propertyEnds: Uint32Array;
}

/** Record `i`'s Offset as text. */
export function offsetText(data: Buffer, block: EnvelopeColumns, i: number): string {
  return data.toString('latin1', block.offsetStarts[i]!, block.offsetEnds[i]!);
}

/** Record `i`'s partition key as text (bytes decoded as UTF-8, as the avsc-based reader does), or null. */
export function partitionKeyText(data: Buffer, block: EnvelopeColumns, i: number): string | null {
  const start = block.keyStarts[i]!;
  return start < 0 ? null : data.toString('utf8', start, block.keyEnds[i]!);
}

export interface OnePassReader {
  /**
   * The block's columns, or undefined when the block is not plainly good (read it with the avsc-based reader).
   * They are the reader's own arrays, refilled by the next `read` (so a lane allocates none per block): rows
   * [0, count) are this block's, and nothing may keep them past the next call.
   */
  read(data: Buffer, count: number): EnvelopeColumns | undefined;
  /** the application properties of a span `read` gave, as the avsc-based reader makes them */
  properties(data: Buffer, start: number, end: number): ApplicationProperties;
  /**
   * Appends to `columns[n]` the text of property `names[n]` (UTF-8 keys) in a span `read` gave: what
   * `String(properties(...)[name])` would be for a property that is there (the last one of that name; string and
   * bytes values copied as UTF-8, never decoded), else null. No object, and nothing made of other properties.
   */
  appendProperties(data: Buffer, start: number, end: number, names: readonly Buffer[], columns: readonly ColumnBuilder[]): void;
}

const enum V {
  Null,
  Boolean,
  Int,
  Long,
  Float,
  Double,
  String,
  Bytes,
}

/** What `value` makes of a map value it reads. */
const enum Make {
  Nothing,
  Property,
}

const PRIMITIVES: Record<string, V> = { null: V.Null, boolean: V.Boolean, int: V.Int, long: V.Long, float: V.Float, double: V.Double, string: V.String, bytes: V.Bytes };
const FIELDS = ['SequenceNumber', 'Offset', 'EnqueuedTimeUtc', 'SystemProperties', 'Properties', 'Body'] as const;
const MAX_TIME_MS = 8.64e15;
const MAX_OFFSET_CHARS = 64;
const PARTITION_KEY_BYTES = Buffer.from('x-opt-partition-key', 'latin1');
const PROTO_BYTES = Buffer.from('__proto__', 'latin1');
/** a position varint of at most 7 bytes holds at most 2^48: always a safe integer, never a precision question */
const MAX_SHORT_VARINT = 7;
/** appendProperties: the value is text made from a number or boolean, not a span */
const FOUND_TEXT = -2;

function primitive(type: unknown): V | undefined {
  const name = typeof type === 'string' ? type : type !== null && typeof type === 'object' && Object.keys(type).length === 1 ? (type as { type?: unknown }).type : undefined;
  return typeof name === 'string' ? PRIMITIVES[name] : undefined;
}

/** A map's value branches (a union of primitives, or one primitive as a one-branch list with no index). */
function mapValues(type: unknown): { branches: V[]; union: boolean } | undefined {
  if (type === null || typeof type !== 'object' || Array.isArray(type) || (type as { type?: unknown }).type !== 'map') return undefined;
  const values = (type as { values?: unknown }).values;
  if (Array.isArray(values)) {
    const branches = values.map(primitive);
    return branches.every((b) => b !== undefined) && branches.length > 0 ? { branches: branches as V[], union: true } : undefined;
  }
  const one = primitive(values);
  return one === undefined || one === V.Null ? undefined : { branches: [one], union: false };
}

/** The reader for a writer schema of Capture's shape, or undefined for any other schema (avsc reads those). */
export function onePassReader(schema: avro.Schema): OnePassReader | undefined {
  const record = schema as { type?: unknown; fields?: Array<{ name: string; type: unknown }> };
  if (record.type !== 'record' || !Array.isArray(record.fields) || record.fields.length !== FIELDS.length) return undefined;
  if (!record.fields.every((f, i) => f.name === FIELDS[i])) return undefined;
  const [seq, offset, time, system, props, body] = record.fields.map((f) => f.type);
  if (primitive(seq) !== V.Long || primitive(offset) !== V.String || primitive(time) !== V.String) return undefined;
  const systemValues = mapValues(system);
  const propertyValues = mapValues(props);
  if (!systemValues || !propertyValues) return undefined;
  // Body: bytes, or a union of null and bytes in either order
  let bodyNull = -1;
  let bodyBytes = -1;
  if (primitive(body) === V.Bytes) bodyBytes = -2;
  else if (Array.isArray(body) && body.length === 2) {
    const kinds = body.map(primitive);
    bodyNull = kinds.indexOf(V.Null);
    bodyBytes = kinds.indexOf(V.Bytes);
    if (bodyNull < 0 || bodyBytes < 0) return undefined;
  } else return undefined;
  return new Reader(systemValues, propertyValues, bodyNull, bodyBytes);
}

function envelopeColumns(capacity: number): EnvelopeColumns {
  return {
    count: 0,
    positions: new Float64Array(capacity),
    enqueuedTimes: new Float64Array(capacity),
    offsetStarts: new Uint32Array(capacity),
    offsetEnds: new Uint32Array(capacity),
    keyStarts: new Int32Array(capacity),
    keyEnds: new Int32Array(capacity),
    bodyStarts: new Uint32Array(capacity),
    bodyEnds: new Uint32Array(capacity),
    propertyStarts: new Uint32Array(capacity),
    propertyEnds: new Uint32Array(capacity),
  };
}

/** Thrown (and caught in `read`) when a block is not plainly good; it never leaves this module. */
const REFUSE = new Error('not plainly good');
/** Node's Buffer slicers without toString's argument checks (the callers have checked the bounds). */
interface SliceBuffer extends Buffer {
  utf8Slice(start: number, end: number): string;
  latin1Slice(start: number, end: number): string;
}
const NO_BYTES = Buffer.alloc(0) as SliceBuffer;

/**
 * `YYYY-MM-DDTHH:MM:SS.sssZ` with an hour below 24 (T24:00 is only valid at :00.000) and seconds below 60: a
 * strict ISO time, which Date.parse reads as its minute plus its seconds and milliseconds, or NaN for the minute.
 */
function isoSecondsAndMs(data: Buffer, p: number): boolean {
  return (
    digits(data, p, p + 4) && data[p + 4] === 0x2d && digits(data, p + 5, p + 7) && data[p + 7] === 0x2d && digits(data, p + 8, p + 10) && data[p + 10] === 0x54 &&
    digits(data, p + 11, p + 13) && (data[p + 11]! - 0x30) * 10 + data[p + 12]! - 0x30 < 24 && data[p + 13] === 0x3a && digits(data, p + 14, p + 16) &&
    data[p + 16] === 0x3a && digits(data, p + 17, p + 19) && data[p + 17]! < 0x36 && data[p + 19] === 0x2e && digits(data, p + 20, p + 23) && data[p + 23] === 0x5a
  );
}

function sameBytes(data: Buffer, start: number, length: number, text: Buffer): boolean {
  if (length !== text.length) return false;
  for (let k = 0; k < length; k++) if (data[start + k] !== text[k]) return false;
  return true;
}

function digits(data: Buffer, from: number, to: number): boolean {
  for (let p = from; p < to; p++) if (data[p]! < 0x30 || data[p]! > 0x39) return false;
  return true;
}

class Reader implements OnePassReader {
  private data: SliceBuffer = NO_BYTES;
  private pos = 0;
  private end = 0;
  /** the minute (`YYYY-MM-DDTHH:MM`) of the last ISO time read, and its time; zero bytes match no ISO minute */
  private readonly lastMinute = Buffer.alloc(16) as SliceBuffer;
  private lastMinuteMs = Number.NaN;
  /** where the text `textValue` passed over starts */
  private textStart = 0;
  /** appendProperties' scratch: per wanted name, where its value was found */
  private found = new Int32Array(0);
  private foundEnd = new Int32Array(0);
  private readonly foundText: string[] = [];
  /** what `read` fills and returns, grown to the largest block seen */
  private columns = envelopeColumns(0);

  constructor(
    private readonly system: { branches: V[]; union: boolean },
    private readonly props: { branches: V[]; union: boolean },
    private readonly bodyNull: number,
    private readonly bodyBytes: number,
  ) {}

  read(data: Buffer, count: number): EnvelopeColumns | undefined {
    // each record takes at least 6 bytes (one per field); more records than that is not plainly good
    if (count < 0 || count * 6 > data.length) return undefined;
    this.data = data as SliceBuffer;
    this.pos = 0;
    this.end = data.length;
    if (this.columns.positions.length < count) this.columns = envelopeColumns(Math.max(count, this.columns.positions.length * 2));
    const out = this.columns;
    out.count = count;
    try {
      for (let i = 0; i < count; i++) this.record(out, i);
    } catch (error) {
      if (error === REFUSE) return undefined;
      throw error;
    } finally {
      this.data = NO_BYTES;
    }
    return this.pos === this.end ? out : undefined;
  }

  properties(data: Buffer, start: number, end: number): ApplicationProperties {
    this.data = data as SliceBuffer;
    this.pos = start;
    this.end = end;
    const out: ApplicationProperties = {};
    for (let n = this.count(); n > 0; n = this.count()) {
      for (let k = 0; k < n; k++) {
        const name = this.string();
        // as avsc builds the map and toProperties copies it: plain assignment, later keys win
        out[name] = this.value(this.props, Make.Property) as ApplicationProperties[string];
      }
    }
    this.data = NO_BYTES;
    return out;
  }

  appendProperties(data: Buffer, start: number, end: number, names: readonly Buffer[], columns: readonly ColumnBuilder[]): void {
    if (this.found.length < names.length) {
      this.found = new Int32Array(names.length);
      this.foundEnd = new Int32Array(names.length);
    }
    const found = this.found;
    const foundEnd = this.foundEnd;
    const texts = this.foundText;
    // per name: -1 none (or null), a span's start, or FOUND_TEXT with the text in `texts`
    found.fill(-1, 0, names.length);
    this.data = data as SliceBuffer;
    this.pos = start;
    this.end = end;
    for (let n = this.count(); n > 0; n = this.count()) {
      for (let k = 0; k < n; k++) {
        const length = this.long();
        if (length < 0 || length > this.end - this.pos) throw REFUSE;
        const key = this.pos;
        this.pos += length;
        let name = 0;
        while (name < names.length && !sameBytes(data, key, length, names[name]!)) name++;
        if (name === names.length) {
          this.value(this.props, Make.Nothing);
          continue;
        }
        const at = this.pos;
        let where: number;
        if (this.textValue(this.props)) {
          where = this.textStart;
          foundEnd[name] = this.pos;
        } else {
          this.pos = at;
          const value = this.value(this.props, Make.Property);
          where = value === null || value === undefined ? -1 : FOUND_TEXT;
          if (where === FOUND_TEXT) texts[name] = String(value);
        }
        // every column of that name (a name listed twice fills both)
        for (let other = name; other < names.length; other++) {
          if (other !== name && !names[other]!.equals(names[name]!)) continue;
          found[other] = where;
          foundEnd[other] = foundEnd[name]!;
          if (where === FOUND_TEXT) texts[other] = texts[name]!;
        }
      }
    }
    this.data = NO_BYTES;
    for (let name = 0; name < names.length; name++) {
      const where = found[name]!;
      if (where === -1) columns[name]!.appendNull();
      else if (where === FOUND_TEXT) columns[name]!.appendString(texts[name]!);
      else columns[name]!.appendUtf8(data, where, foundEnd[name]!);
    }
  }

  private record(out: EnvelopeColumns, i: number): void {
    const sequence = this.long();
    if (sequence < 0) throw REFUSE;
    const offsetStart = this.offset();
    const offsetEnd = this.pos;
    const time = this.time();
    let keyStart = -1;
    let keyEnd = -1;
    for (let n = this.count(); n > 0; n = this.count()) {
      for (let k = 0; k < n; k++) {
        // later keys win, as in the map avsc builds; a key that is not text is no key
        if (this.keyIs(PARTITION_KEY_BYTES)) {
          if (this.textValue(this.system)) {
            keyStart = this.textStart;
            keyEnd = this.pos;
          } else keyStart = keyEnd = -1;
        } else this.value(this.system, Make.Nothing);
      }
    }
    out.propertyStarts[i] = this.pos;
    for (let n = this.count(); n > 0; n = this.count()) {
      for (let k = 0; k < n; k++) {
        // avsc would set the map's prototype: rare enough to leave to it
        if (this.keyIs(PROTO_BYTES)) throw REFUSE;
        this.value(this.props, Make.Nothing);
      }
    }
    out.propertyEnds[i] = this.pos;
    let bodyStart = this.pos;
    let bodyEnd = this.pos;
    const branch = this.bodyBytes === -2 ? -2 : this.long();
    if (branch === this.bodyBytes) {
      const length = this.long();
      if (length < 0 || length > this.end - this.pos) throw REFUSE;
      bodyStart = this.pos;
      bodyEnd = this.pos + length;
      this.pos = bodyEnd;
    } else if (branch === this.bodyNull) bodyStart = bodyEnd = this.pos;
    else throw REFUSE;
    out.positions[i] = sequence;
    out.offsetStarts[i] = offsetStart;
    out.offsetEnds[i] = offsetEnd;
    out.enqueuedTimes[i] = time;
    out.keyStarts[i] = keyStart;
    out.keyEnds[i] = keyEnd;
    out.bodyStarts[i] = bodyStart;
    out.bodyEnds[i] = bodyEnd;
  }

  /**
   * Offset: printable ASCII of 1 to 64 bytes (what the avsc-based reader accepts, without its regex); else refused.
   * Answers where it starts (it ends at the cursor).
   */
  private offset(): number {
    const length = this.long();
    if (length < 1 || length > MAX_OFFSET_CHARS || length > this.end - this.pos) throw REFUSE;
    const data = this.data;
    const start = this.pos;
    const stop = start + length;
    for (let p = start; p < stop; p++) {
      const b = data[p]!;
      if (b < 0x20 || b >= 0x80) throw REFUSE;
    }
    this.pos = stop;
    return start;
  }

  /**
   * A map value that is a string or bytes: passed over, its text's span left at [textStart, pos); true. Any other
   * value is passed over like `value` does; false.
   */
  private textValue(map: { branches: V[]; union: boolean }): boolean {
    const at = this.pos;
    const kind = this.branch(map);
    if (kind !== V.String && kind !== V.Bytes) {
      this.pos = at;
      this.value(map, Make.Nothing);
      return false;
    }
    const length = this.long();
    if (length < 0 || length > this.end - this.pos) throw REFUSE;
    this.textStart = this.pos;
    this.pos += length;
    return true;
  }

  /**
   * EnqueuedTimeUtc. Capture's ISO form (2026-01-01T00:00:07.123Z, 24 bytes) is read as its minute, parsed once
   * by parseEnqueuedTimeUtc and cached, plus its seconds and milliseconds: the same number, since an ISO time is
   * linear in those. Any other text goes through parseEnqueuedTimeUtc whole.
   */
  private time(): number {
    const length = this.long();
    if (length < 0 || length > this.end - this.pos) throw REFUSE;
    const data = this.data;
    const p = this.pos;
    this.pos += length;
    let time: number;
    if (length === 24 && isoSecondsAndMs(data, p)) {
      const minute = this.lastMinute;
      let same = 0;
      while (same < 16 && data[p + same] === minute[same]) same++;
      if (same < 16) {
        data.copy(minute, 0, p, p + 16);
        this.lastMinuteMs = parseEnqueuedTimeUtc(`${this.lastMinute.latin1Slice(0, 16)}:00.000Z`);
      }
      const seconds = (data[p + 17]! - 0x30) * 10 + data[p + 18]! - 0x30;
      const ms = (data[p + 20]! - 0x30) * 100 + (data[p + 21]! - 0x30) * 10 + data[p + 22]! - 0x30;
      time = this.lastMinuteMs + seconds * 1000 + ms;
    } else time = parseEnqueuedTimeUtc(data.utf8Slice(p, this.pos));
    if (!(Number.isFinite(time) && Math.abs(time) <= MAX_TIME_MS)) throw REFUSE;
    return time;
  }

  /** A map block's item count: plain positive counts only (a negative one, with a byte size, is refused). */
  private count(): number {
    const n = this.long();
    // every item is at least two bytes (a key length and a value or union index)
    if (n < 0 || n * 2 > this.end - this.pos) throw REFUSE;
    return n;
  }

  /** A map value's type: its union branch (read and checked), or the map's one value type. */
  private branch(map: { branches: V[]; union: boolean }): V {
    if (!map.union) return map.branches[0]!;
    const index = this.long();
    if (index < 0 || index >= map.branches.length) throw REFUSE;
    return map.branches[index]!;
  }

  /**
   * One map value, checked and passed over; `make` says what to make of it: nothing (the usual case: no string
   * or number per system property), or the value as a property.
   */
  private value(map: { branches: V[]; union: boolean }, make: Make): unknown {
    const property = make === Make.Property;
    switch (this.branch(map)) {
      case V.Null:
        return null;
      case V.Boolean: {
        if (this.pos >= this.end) throw REFUSE;
        const b = this.data[this.pos++]!;
        if (b > 1) throw REFUSE;
        return b === 1;
      }
      case V.Int:
      case V.Long: {
        const n = this.long();
        return make === Make.Nothing ? undefined : n;
      }
      case V.Float:
        if (this.pos + 4 > this.end) throw REFUSE;
        this.pos += 4;
        return property ? this.data.readFloatLE(this.pos - 4) : undefined;
      case V.Double:
        if (this.pos + 8 > this.end) throw REFUSE;
        this.pos += 8;
        return property ? this.data.readDoubleLE(this.pos - 8) : undefined;
      case V.String:
      case V.Bytes:
        if (make !== Make.Nothing) return this.string();
        this.skipLength();
        return undefined;
    }
  }

  /** A zigzag varint of at most 7 bytes (so a safe integer); a longer one is refused. */
  private long(): number {
    const data = this.data;
    let pos = this.pos;
    let b = pos < this.end ? data[pos++]! : -1;
    if (b < 0) throw REFUSE;
    let n = b & 0x7f;
    let scale = 128;
    let bytes = 1;
    while (b & 0x80) {
      if (pos >= this.end || ++bytes > MAX_SHORT_VARINT) throw REFUSE;
      b = data[pos++]!;
      n += (b & 0x7f) * scale;
      scale *= 128;
    }
    this.pos = pos;
    return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
  }

  private string(): string {
    const length = this.long();
    if (length < 0 || length > this.end - this.pos) throw REFUSE;
    const start = this.pos;
    this.pos += length;
    return this.data.utf8Slice(start, this.pos);
  }

  private skipLength(): void {
    const length = this.long();
    if (length < 0 || length > this.end - this.pos) throw REFUSE;
    this.pos += length;
  }

  /** Skips a map key, saying whether its bytes are `text`'s: compared, never decoded. */
  private keyIs(text: Buffer): boolean {
    const length = this.long();
    if (length < 0 || length > this.end - this.pos) throw REFUSE;
    const start = this.pos;
    this.pos += length;
    return sameBytes(this.data, start, length, text);
  }
}

