/**
 * The Confluent wire format (magic byte 0, then the writer schema's registry id as a big-endian INT32, then the
 * Avro binary body) and a client for the Confluent-compatible schema registry API that resolves those ids
 * (`GET /schemas/ids/{id}`, served by Confluent Schema Registry, Redpanda, Karapace, Apicurio's ccompat API).
 *
 * A registered schema never changes under its id, so every id is fetched once per process; concurrent lookups of
 * the same id share one request, and a failed lookup is forgotten so the next batch asks again.
 */
import { TributaryError, errorMessage } from '../../core/errors.js';
import { DEFAULT_RETRY, withRetry, type RetryPolicy } from '../../core/retry.js';

const MAGIC_BYTE = 0;
const HEADER_BYTES = 5;

export interface ConfluentFrame {
  schemaId: number;
  /** where the Avro body starts */
  payloadOffset: number;
}

/** The frame header of a Confluent-framed body, or undefined when the bytes are not in that format. */
export function parseConfluentFrame(bytes: Uint8Array): ConfluentFrame | undefined {
  if (bytes.length < HEADER_BYTES || bytes[0] !== MAGIC_BYTE) return undefined;
  const schemaId = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getInt32(1, false);
  if (schemaId < 0) return undefined;
  return { schemaId, payloadOffset: HEADER_BYTES };
}

export interface SchemaRegistryOptions {
  /** Basic auth (Confluent Cloud: API key and secret). */
  username?: string;
  password?: string;
  /** per request; default 10 s */
  timeoutMs?: number;
  /** retries of transient failures (timeouts, 429, 5xx, network); default DEFAULT_RETRY */
  retry?: RetryPolicy;
  fetch?: typeof fetch;
}

interface SchemaResponse {
  schema?: unknown;
  schemaType?: unknown;
}

export class SchemaRegistryClient {
  private readonly cache = new Map<number, Promise<string>>();
  private readonly baseUrl: string;
  private readonly authorization: string | undefined;

  constructor(
    baseUrl: string,
    private readonly options: SchemaRegistryOptions = {},
  ) {
    let parsed: URL;
    try {
      parsed = new URL(baseUrl);
    } catch (error) {
      throw new TributaryError('CONFIG_INVALID', `schema registry URL "${baseUrl}" is not a URL`, { cause: error });
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new TributaryError('CONFIG_INVALID', `schema registry URL "${baseUrl}" must be http or https`);
    }
    if ((options.username === undefined) !== (options.password === undefined)) {
      throw new TributaryError('CONFIG_INVALID', 'schema registry: set both username and password, or neither');
    }
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.authorization =
      options.username === undefined ? undefined : `Basic ${Buffer.from(`${options.username}:${options.password}`).toString('base64')}`;
  }

  /** The writer schema (Avro JSON text) registered under `id`. */
  getSchema(id: number, signal?: AbortSignal): Promise<string> {
    if (!Number.isInteger(id) || id < 0) return Promise.reject(new TributaryError('DECODE_FAILED', `invalid schema id ${id}`));
    let pending = this.cache.get(id);
    if (!pending) {
      pending = withRetry(() => this.fetchSchema(id, signal), { policy: this.options.retry ?? DEFAULT_RETRY, signal });
      this.cache.set(id, pending);
      pending.catch(() => this.cache.delete(id));
    }
    return pending;
  }

  private async fetchSchema(id: number, signal: AbortSignal | undefined): Promise<string> {
    const url = `${this.baseUrl}/schemas/ids/${id}`;
    const timeout = AbortSignal.timeout(this.options.timeoutMs ?? 10_000);
    const headers: Record<string, string> = { accept: 'application/vnd.schemaregistry.v1+json, application/json' };
    if (this.authorization) headers.authorization = this.authorization;
    let response: Response;
    try {
      response = await (this.options.fetch ?? fetch)(url, { headers, signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
    } catch (error) {
      if (signal?.aborted) throw new TributaryError('ABORTED', 'schema lookup aborted', { cause: error });
      throw new TributaryError('BROKER_TRANSIENT', `schema registry ${url}: ${timeout.aborted ? 'timed out' : errorMessage(error)}`, { cause: error });
    }
    const text = await response.text();
    if (!response.ok) throw statusError(response.status, url, id, text);
    let body: SchemaResponse;
    try {
      body = JSON.parse(text) as SchemaResponse;
    } catch (error) {
      throw new TributaryError('BROKER_PERMANENT', `schema registry ${url}: response is not JSON`, { cause: error });
    }
    if (typeof body.schema !== 'string') throw new TributaryError('BROKER_PERMANENT', `schema registry ${url}: response has no "schema" string`);
    const type = body.schemaType ?? 'AVRO';
    if (type !== 'AVRO') throw new TributaryError('DECODE_FAILED', `schema ${id} is a ${String(type)} schema; only Avro bodies are decoded`);
    return body.schema;
  }
}

/** 404: the id is unknown (the event is bad: dead-letter it); 401/403: credentials; 408/429/5xx: retry. */
function statusError(status: number, url: string, id: number, body: string): TributaryError {
  const detail = registryMessage(body);
  if (status === 404) return new TributaryError('DECODE_FAILED', `unknown schema id ${id} (schema registry ${url}: 404${detail})`);
  if (status === 401 || status === 403) return new TributaryError('AUTHENTICATION_FAILED', `schema registry ${url}: ${status}${detail}; check the registry credentials`);
  if (status === 408 || status === 429 || status >= 500) return new TributaryError('BROKER_TRANSIENT', `schema registry ${url}: ${status}${detail}`);
  return new TributaryError('BROKER_PERMANENT', `schema registry ${url}: ${status}${detail}`);
}

/** The registry's own `{ error_code, message }` text, when there is one. */
function registryMessage(body: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    // A proxy's or load balancer's error page is not JSON and carries no registry message: the status says it all.
    return '';
  }
  const message = (parsed as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? ` ${message}` : '';
}
