/** "a[0].b.c" from a path of keys and indexes, the way every config error names its field. */
export function fieldName(parts: ReadonlyArray<PropertyKey>): string {
  return parts.reduce<string>(
    (acc, part) => (typeof part === 'number' ? `${acc}[${part}]` : acc ? `${acc}.${String(part)}` : String(part)),
    '',
  );
}
