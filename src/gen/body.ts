/**
 * Event bodies: encoding a generated value the way the stream config says (Avro binary or JSON), and making
 * corrupt bodies that no decoder can read. Every corrupt body is checked to fail, so "corrupt" is a fact about
 * the bytes, not a hope.
 */
import type avro from 'avsc';
import { TributaryError } from '../core/errors.js';
import type { Prng } from './prng.js';

export type BodyFormat = 'avro' | 'json' | 'confluent-avro';

/** Confluent wire format: magic byte 0, the writer schema id (big-endian), then the Avro body. */
export function confluentFrame(schemaId: number, avroBody: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(schemaId, 1);
  return Buffer.concat([header, avroBody]);
}

export interface BodyCodec {
  encode(value: Record<string, unknown>): Buffer;
  /** the value in the other body format, for corrupt bodies */
  foreign(value: Record<string, unknown>): Buffer;
  /** true when the bytes cannot be decoded, not even leniently (ignoring trailing bytes) */
  fails(body: Buffer): boolean;
}

export function createBodyCodec(format: BodyFormat, type: avro.Type, confluentSchemaId = 1): BodyCodec {
  const json = (value: Record<string, unknown>): Buffer => Buffer.from(JSON.stringify(value, bytesAsBase64));
  const binary = (value: Record<string, unknown>): Buffer => type.toBuffer(value);
  if (format === 'json') {
    return {
      encode: json,
      foreign: binary,
      fails: (body) => {
        try {
          JSON.parse(body.toString('utf8'));
          return false;
        } catch (error) {
          // A syntax error is the verdict being asked for; anything else is a bug.
          if (error instanceof SyntaxError) return true;
          throw error;
        }
      },
    };
  }
  if (format === 'confluent-avro') {
    const avroCodec = createBodyCodec('avro', type);
    return {
      encode: (value) => confluentFrame(confluentSchemaId, binary(value)),
      foreign: json,
      fails: (body) => body.length < 5 || body[0] !== 0 || body.readUInt32BE(1) !== confluentSchemaId || avroCodec.fails(body.subarray(5)),
    };
  }
  return {
    encode: binary,
    foreign: json,
    fails: (body) => {
      try {
        return type.decode(body, 0).offset < 0;
      } catch (error) {
        // avsc throws on invalid union indexes, negative lengths and the like: that is the verdict being asked for.
        if (error instanceof Error) return true;
        throw error;
      }
    },
  };
}

function bytesAsBase64(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const original = this[key];
  return original instanceof Uint8Array ? Buffer.from(original).toString('base64') : value;
}

const ATTEMPTS = 8;
const ASCII_MASK = 0x7f;

export type CorruptionKind = 'truncated' | 'foreign' | 'garbage';

/**
 * A body that fails to decode, derived from a valid encoding, in one of three shapes seen in practice:
 * - truncated: a prefix of the valid body (always fails: the decoder needs the bytes that are missing);
 * - foreign: the value in the other format (JSON text on an Avro stream, Avro bytes on a JSON stream), the
 *   classic producer misconfiguration;
 * - garbage: random 7-bit bytes. Their high bit is clear so every varint is one byte and small: random bytes
 *   can announce an array of billions of items and make an Avro decoder allocate without bound, which tests
 *   a decoder's memory, not its error handling.
 * Foreign and garbage candidates are checked and fall back to truncation when they happen to decode.
 */
export function corruptBody(valid: Buffer, value: Record<string, unknown>, codec: BodyCodec, rng: Prng): Buffer {
  const shape = rng.int(0, 2);
  if (shape === 1) {
    const foreign = codec.foreign(value);
    if (codec.fails(foreign)) return foreign;
  } else if (shape === 2) {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const garbage = Buffer.allocUnsafe(rng.int(1, Math.max(8, valid.length)));
      for (let i = 0; i < garbage.length; i++) garbage[i] = rng.uint32() & ASCII_MASK;
      if (codec.fails(garbage)) return garbage;
    }
  }
  if (valid.length > 0) {
    const truncated = Buffer.from(valid.subarray(0, rng.int(0, valid.length - 1)));
    if (codec.fails(truncated)) return truncated;
  }
  throw new TributaryError('CONFIG_INVALID', 'this schema admits no corrupt bodies (its records encode to zero bytes); set the corrupt rate to 0');
}
