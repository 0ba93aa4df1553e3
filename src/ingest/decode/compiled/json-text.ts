/**
 * JSON text of nested Avro values, built while decoding instead of from decoded objects, and equal to what the
 * avsc path produces (`JSON.stringify` of avsc's value, bytes as base64): numbers as `String(n)` (non-finite ones
 * as `null`), strings with JSON's escaping, map keys in a JavaScript object's property order.
 *
 * The text is written as UTF-8 straight into the json_text column's bytes (writeInto / finishInto: no string, no
 * copy afterwards; bench/decode-orders.ts), or into a scratch buffer where a piece must become a string (map
 * values, record fields written out of order): a string built by concatenation is a tree of pieces that costs more
 * memory than its characters for as long as the row is held (measured: ~90 B more per order row), and string
 * values from the body are copied as bytes, never decoded.
 */

import type { ColumnBuilder } from '../../../core/column-builder.js';

interface SliceBuffer extends Buffer {
  utf8Slice(start: number, end: number): string;
  latin1Slice(start: number, end: number): string;
}

const own = Buffer.allocUnsafe(1 << 16) as SliceBuffer;
/** where the text is written: `own`, or a column's bytes (writeInto) */
let scratch = own;
/** the text is scratch[base .. length) */
let base = 0;
let length = 0;
/** every byte written so far is ASCII, so the text decodes as latin1 (cheaper, same result) */
let ascii = true;

function reserve(bytes: number): void {
  if (length + bytes <= scratch.length) return;
  const grown = Buffer.allocUnsafe(Math.max(scratch.length * 2, length + bytes)) as SliceBuffer;
  scratch.copy(grown, 0, 0, length);
  scratch = grown;
}

/** Starts a text in the own buffer. */
export function reset(): void {
  scratch = own;
  base = 0;
  restart();
}

/** Starts the text again where it began. */
function restart(): void {
  length = base;
  ascii = true;
}

/** The text written since the last reset. */
export function text(): string {
  return ascii ? scratch.latin1Slice(base, length) : scratch.utf8Slice(base, length);
}

/**
 * Starts a text written straight into a utf8 column's bytes, after its last value (no copy afterwards): the
 * column must not be appended to until `finishInto` (a throw in between leaves it as it was).
 */
export function writeInto(column: ColumnBuilder): void {
  scratch = column.bytes;
  base = column.byteLength;
  restart();
}

/**
 * Ends the text begun by writeInto as the column's next value: its bytes as they stand when they are valid
 * UTF-8, else as text() decodes them (a string value's invalid bytes, copied as they were, become U+FFFD there).
 */
export function finishInto(column: ColumnBuilder): void {
  column.bytes = scratch as ColumnBuilder['bytes']; // grown while writing, with the column's bytes copied
  column.appendWritten(length, ascii);
}

/** Starts a nested piece of text (a map value, a record field written out of order); returns the text so far. */
export function swap(next: string): string {
  const previous = text();
  restart();
  append(next);
  return previous;
}

export function append(fragment: string): void {
  const n = fragment.length;
  reserve(n * 3);
  for (let i = 0; i < n; i++) {
    const c = fragment.charCodeAt(i);
    if (c >= 0x80) {
      length += scratch.write(fragment.slice(i), length, 'utf8');
      ascii = false;
      return;
    }
    scratch[length++] = c;
  }
}

/**
 * Text known to be ASCII (a record's `{"name":` keys, brackets), as its bytes: a byte copy, where append() reads
 * the string a character at a time and checks each for UTF-8.
 */
export function appendAscii(bytes: Uint8Array): void {
  const n = bytes.length;
  reserve(n);
  const at = length;
  for (let i = 0; i < n; i++) scratch[at + i] = bytes[i]!;
  length = at + n;
}

/** One ASCII character, by its code. */
export function appendByte(code: number): void {
  reserve(1);
  scratch[length++] = code;
}

/** The bytes of `text` when it is all ASCII (for appendAscii), else undefined. */
export function asciiBytes(text: string): Uint8Array | undefined {
  const bytes = Buffer.from(text, 'utf8');
  return bytes.length === text.length ? new Uint8Array(bytes) : undefined;
}

/** A 32-bit integer (an Avro int) in decimal, as String(value) writes it, digit by digit. */
export function appendInteger(value: number): void {
  if (value < 0) {
    if (value === -2147483648) {
      append('-2147483648'); // its magnitude is past writeDigits' range
      return;
    }
    reserve(12);
    scratch[length++] = 0x2d;
    writeDigits(-value);
    return;
  }
  reserve(11);
  writeDigits(value);
}

/**
 * A number's JSON text, as `String(value)` writes it (non-finite ones as `null`). Amounts with at most two
 * decimals below 10^7 (prices, totals) are written digit by digit: when cents / 100 is exactly the value, the
 * decimal I.FF parses back to it, and no shorter decimal does (two decimals with at most two fractional digits
 * lie 0.01 apart, far more than the spacing of doubles there), so those digits with trailing zeros removed are
 * the shortest round-trip text, which is what String gives (ECMAScript Number::toString). String() costs ~120 ns.
 */
export function appendNumber(value: number): void {
  const negative = value < 0;
  const magnitude = negative ? -value : value;
  if (magnitude < 1e7) {
    const cents = Math.round(magnitude * 100);
    if (cents / 100 === magnitude) {
      reserve(12);
      if (negative) scratch[length++] = 0x2d;
      const whole = (cents / 100) | 0;
      writeDigits(whole);
      const fraction = cents - whole * 100;
      if (fraction !== 0) {
        scratch[length++] = 0x2e;
        const tens = (fraction / 10) | 0;
        scratch[length++] = 0x30 + tens;
        const ones = fraction - tens * 10;
        if (ones !== 0) scratch[length++] = 0x30 + ones;
      }
      return;
    }
  }
  append(Number.isFinite(value) ? String(value) : 'null');
}

/** A non-negative integer below 2^31 in decimal. */
function writeDigits(value: number): void {
  let digits = 1;
  for (let rest = value; rest >= 10; rest = (rest / 10) | 0) digits++;
  let at = length + digits;
  length = at;
  let rest = value;
  do {
    const next = (rest / 10) | 0;
    scratch[--at] = 0x30 + rest - next * 10;
    rest = next;
  } while (rest !== 0);
}

// A string needs escaping when it holds a quote, a backslash, a control character or a lone surrogate; decoded
// UTF-8 never holds a lone surrogate, so the other three are all the fast path must rule out.
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /["\\\u0000-\u001f]/;

export function quote(value: string): string {
  return NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : `"${value}"`;
}

export function appendString(value: string): void {
  append(quote(value));
}

/**
 * A string value straight from the body's UTF-8 bytes: copied when it needs no escaping (invalid sequences then
 * decode to U+FFFD in the final text exactly as they would alone, since a quote, never a continuation byte,
 * follows them), else decoded and escaped.
 */
export function appendUtf8(source: SliceBuffer, start: number, end: number): void {
  reserve(end - start + 2);
  const at = length;
  scratch[length++] = 0x22;
  let plain = true;
  for (let i = start; i < end; i++) {
    const b = source[i]!;
    if (b < 0x20 || b === 0x22 || b === 0x5c) {
      plain = false;
      break;
    }
    if (b >= 0x80) ascii = false;
    scratch[length++] = b;
  }
  if (plain) {
    scratch[length++] = 0x22;
    return;
  }
  length = at;
  append(JSON.stringify(source.utf8Slice(start, end)));
}

/**
 * A map's entries in the order `JSON.stringify` lists an object's own properties: array-index keys ascending,
 * then the others in insertion order; a repeated key keeps its first place and its last value; `__proto__` is
 * not an own property of what avsc builds (assigning it sets the prototype), so it is left out.
 */
export function mapText(keys: string[], values: string[]): string {
  const entries = new Map<string, string>();
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    if (key === '__proto__') continue;
    entries.set(key, values[i]!);
  }
  const indexKeys: string[] = [];
  const otherKeys: string[] = [];
  for (const key of entries.keys()) (isArrayIndex(key) ? indexKeys : otherKeys).push(key);
  indexKeys.sort((a, b) => Number(a) - Number(b));
  let out = '{';
  let first = true;
  for (const key of [...indexKeys, ...otherKeys]) {
    out += `${first ? '' : ','}${JSON.stringify(key)}:${entries.get(key)!}`;
    first = false;
  }
  return `${out}}`;
}

function isArrayIndex(key: string): boolean {
  return /^(?:0|[1-9]\d*)$/.test(key) && Number(key) < 4294967295;
}
