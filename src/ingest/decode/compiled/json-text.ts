/**
 * JSON text of nested Avro values, built while decoding instead of from decoded objects, and equal to what the
 * avsc path produces (`JSON.stringify` of avsc's value, bytes as base64): numbers as `String(n)` (non-finite ones
 * as `null`), strings with JSON's escaping, map keys in a JavaScript object's property order.
 */

/** Text of the value being built; one nested value at a time (a column's value is finished before the next). */
export let text = '';

export function reset(): void {
  text = '';
}

/** Starts a nested piece of text (a map value, a record field written out of order); returns the text so far. */
export function swap(next: string): string {
  const previous = text;
  text = next;
  return previous;
}

export function append(fragment: string): void {
  text += fragment;
}

/** Small integers (counts, quantities) from a table instead of a number-to-string conversion each. */
const SMALL_INTEGERS = Array.from({ length: 1024 }, (_, i) => String(i));

export function appendInteger(value: number): void {
  text += value >= 0 && value < 1024 ? SMALL_INTEGERS[value]! : String(value);
}

export function appendNumber(value: number): void {
  text += Number.isFinite(value) ? String(value) : 'null';
}

// A string needs escaping when it holds a quote, a backslash, a control character or a lone surrogate; decoded
// UTF-8 never holds a lone surrogate, so the other three are all the fast path must rule out.
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /["\\\u0000-\u001f]/;

export function quote(value: string): string {
  return NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : `"${value}"`;
}

export function appendString(value: string): void {
  text += NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : `"${value}"`;
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
