/**
 * ObjectStore metadata is any string -> string map; blob metadata names must be C# identifiers and values travel
 * as HTTP headers (ASCII). Identifier names and URI-safe values pass unchanged, so what other tools see (a
 * dead-letter count `decode: "12"`, a checkpoint's `sequencenumber`) reads as written; anything else is escaped
 * reversibly.
 */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ESCAPED_NAME = 'tq_x_';

export function encodeMetadata(metadata: Record<string, string>): Record<string, string> {
  const encoded: Record<string, string> = {};
  for (const [name, value] of Object.entries(metadata)) {
    encoded[encodeName(name)] = encodeURIComponent(value);
  }
  return encoded;
}

export function decodeMetadata(metadata: Record<string, string> | undefined): Record<string, string> {
  const decoded: Record<string, string> = {};
  for (const [name, value] of Object.entries(metadata ?? {})) {
    decoded[decodeName(name)] = decodeValue(value);
  }
  return decoded;
}

function encodeName(name: string): string {
  if (IDENTIFIER.test(name) && !name.toLowerCase().startsWith(ESCAPED_NAME)) return name;
  return ESCAPED_NAME + Buffer.from(name, 'utf8').toString('hex');
}

function decodeName(name: string): string {
  if (!name.toLowerCase().startsWith(ESCAPED_NAME)) return name;
  return Buffer.from(name.slice(ESCAPED_NAME.length), 'hex').toString('utf8');
}

/** Metadata set by other tools may hold a bare `%`; such a value was never escaped by us and is returned as is. */
function decodeValue(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch (error) {
    if (error instanceof URIError) return value;
    throw error;
  }
}
