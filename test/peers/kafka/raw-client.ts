/**
 * A bare Kafka client for the peer's own tests: requests are encoded by kafkajs's request encoders and responses
 * decoded by kafkajs's response decoders, so the two ends of every exchange are someone else's reading of the
 * protocol (an oracle for the peer's encodings), with no kafkajs client logic (retries, metadata caches) between.
 */
import net from 'node:net';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

interface KafkajsEncoder {
  readonly buffer: Buffer;
}
interface ProtocolRequest {
  apiKey: number;
  apiVersion: number;
  apiName: string;
  encode(): Promise<KafkajsEncoder>;
  expectResponse?: () => boolean;
}
interface ProtocolResponse {
  decode(payload: Buffer): Promise<unknown>;
  parse(decoded: unknown): Promise<unknown>;
}
export type RequestFactory = (options: Record<string, unknown>) => { request: ProtocolRequest; response: ProtocolResponse };
interface RequestDefinition {
  versions: string[];
  protocol(options: { version: number }): RequestFactory;
}
type ApiVersionTable = Record<number, { minVersion: number; maxVersion: number }>;

const { requests, lookup } = require('kafkajs/src/protocol/requests') as {
  requests: Record<string, RequestDefinition>;
  lookup: (versions: ApiVersionTable) => (apiKey: number, definition: RequestDefinition) => RequestFactory;
};
const createRequest = require('kafkajs/src/protocol/request') as (options: {
  correlationId: number;
  clientId: string;
  request: ProtocolRequest;
}) => Promise<KafkajsEncoder>;
const apiKeys = require('kafkajs/src/protocol/requests/apiKeys') as Record<string, number>;

export { requests as kafkajsRequests, lookup as kafkajsLookup, apiKeys as kafkajsApiKeys };
export type { RequestDefinition, ApiVersionTable };

/** kafkajs's encoder and decoder for one API at one version. */
export function api(name: string, version: number): RequestFactory {
  const definition = requests[name];
  if (!definition) throw new RangeError(`kafkajs has no request ${name}`);
  return definition.protocol({ version });
}

export class RawClient {
  private buffered: Buffer = Buffer.alloc(0);
  private readonly waiting = new Map<number, (payload: Buffer) => void>();
  private correlationId = 0;
  readonly closed: Promise<void>;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      while (this.buffered.length >= 4 && this.buffered.length >= 4 + this.buffered.readInt32BE(0)) {
        const size = this.buffered.readInt32BE(0);
        const correlationId = this.buffered.readInt32BE(4);
        const payload = this.buffered.subarray(8, 4 + size);
        this.buffered = this.buffered.subarray(4 + size);
        const resolve = this.waiting.get(correlationId);
        this.waiting.delete(correlationId);
        resolve?.(payload);
      }
    });
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.off('error', reject);
        resolve(new RawClient(socket));
      });
      socket.once('error', reject);
    });
  }

  /** Sends one request; resolves with kafkajs's decoded (not yet parsed) response. */
  async decoded(factory: RequestFactory, options: Record<string, unknown> = {}): Promise<unknown> {
    const { request, response } = factory(options);
    const payload = await this.exchange(request);
    return response.decode(payload);
  }

  /** Sends one request; resolves with kafkajs's parsed response (rejects on error codes, as a client would). */
  async send(factory: RequestFactory, options: Record<string, unknown> = {}): Promise<unknown> {
    const { request, response } = factory(options);
    const payload = await this.exchange(request);
    return response.parse(await response.decode(payload));
  }

  /** Sends a request that expects no response (produce with acks=0). */
  async fire(factory: RequestFactory, options: Record<string, unknown>): Promise<void> {
    const { request } = factory(options);
    const frame = await createRequest({ correlationId: ++this.correlationId, clientId: 'raw-client', request });
    this.socket.write(frame.buffer);
  }

  close(): void {
    this.socket.destroy();
  }

  private async exchange(request: ProtocolRequest): Promise<Buffer> {
    const correlationId = ++this.correlationId;
    const frame = await createRequest({ correlationId, clientId: 'raw-client', request });
    return new Promise((resolve, reject) => {
      const onClose = (): void => reject(new Error(`connection closed before the ${request.apiName} response`));
      this.socket.once('close', onClose);
      this.waiting.set(correlationId, (payload) => {
        this.socket.off('close', onClose);
        resolve(payload);
      });
      this.socket.write(frame.buffer);
    });
  }
}
