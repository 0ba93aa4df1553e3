/**
 * A Confluent-compatible schema registry for tests (node:http on loopback): register schemas under subjects and
 * serve them by id, with the registry's status codes and `{ error_code, message }` error bodies. Faults can be
 * injected (`failNext`) and requests are counted, so clients' retries and caching can be checked.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SchemaRegistryPeerOptions {
  /** When set, every request must carry these Basic credentials. */
  username?: string;
  password?: string;
}

interface Registered {
  id: number;
  schema: string;
  schemaType: string;
}

export class SchemaRegistryPeer {
  private readonly byId = new Map<number, Registered>();
  private readonly subjects = new Map<string, number[]>();
  private readonly faults: number[] = [];
  /** GET /schemas/ids/{id} requests received, by id */
  readonly lookups = new Map<number, number>();
  private nextId = 1;

  private constructor(
    private readonly server: http.Server,
    private readonly options: SchemaRegistryPeerOptions,
  ) {}

  static async start(options: SchemaRegistryPeerOptions = {}): Promise<SchemaRegistryPeer> {
    let peer: SchemaRegistryPeer | undefined;
    const server = http.createServer((request, response) => peer!.handle(request, response));
    peer = new SchemaRegistryPeer(server, options);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return peer;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Registers a schema under a subject; an identical schema gets its existing id, as in Confluent's registry. */
  register(subject: string, schema: string | object, schemaType = 'AVRO'): number {
    const text = typeof schema === 'string' ? schema : JSON.stringify(schema);
    const existing = [...this.byId.values()].find((r) => r.schema === text && r.schemaType === schemaType);
    const id = existing?.id ?? this.nextId++;
    if (!existing) this.byId.set(id, { id, schema: text, schemaType });
    const versions = this.subjects.get(subject) ?? [];
    if (!versions.includes(id)) versions.push(id);
    this.subjects.set(subject, versions);
    return id;
  }

  /** The next `times` requests answer with `status` (e.g. 503) before any other handling. */
  failNext(status: number, times = 1): void {
    for (let i = 0; i < times; i++) this.faults.push(status);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve, reject) => this.server.close((error) => (error ? reject(error) : resolve())));
  }

  private handle(request: http.IncomingMessage, response: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => this.route(request, Buffer.concat(chunks).toString('utf8'), response));
  }

  private route(request: http.IncomingMessage, body: string, response: http.ServerResponse): void {
    const send = (status: number, payload: unknown): void => {
      response.writeHead(status, { 'content-type': 'application/vnd.schemaregistry.v1+json' });
      response.end(JSON.stringify(payload));
    };
    const fault = this.faults.shift();
    if (fault !== undefined) return send(fault, { error_code: fault * 100, message: `injected fault ${fault}` });
    if (this.options.username !== undefined) {
      const expected = `Basic ${Buffer.from(`${this.options.username}:${this.options.password ?? ''}`).toString('base64')}`;
      if (request.headers.authorization !== expected) return send(401, { error_code: 401, message: 'Unauthorized' });
    }
    const path = new URL(request.url ?? '/', 'http://registry').pathname;
    const byId = /^\/schemas\/ids\/(\d+)$/.exec(path);
    if (request.method === 'GET' && byId) {
      const id = Number(byId[1]);
      this.lookups.set(id, (this.lookups.get(id) ?? 0) + 1);
      const found = this.byId.get(id);
      if (!found) return send(404, { error_code: 40403, message: `Schema ${id} not found` });
      return send(200, found.schemaType === 'AVRO' ? { schema: found.schema } : { schema: found.schema, schemaType: found.schemaType });
    }
    const versions = /^\/subjects\/([^/]+)\/versions$/.exec(path);
    if (request.method === 'POST' && versions) {
      let parsed: { schema?: unknown; schemaType?: unknown };
      try {
        parsed = JSON.parse(body) as typeof parsed;
      } catch {
        return send(422, { error_code: 42201, message: 'Invalid schema: request body is not JSON' });
      }
      if (typeof parsed.schema !== 'string') return send(422, { error_code: 42201, message: 'Invalid schema: no schema string' });
      const id = this.register(decodeURIComponent(versions[1]!), parsed.schema, typeof parsed.schemaType === 'string' ? parsed.schemaType : 'AVRO');
      return send(200, { id });
    }
    return send(404, { error_code: 404, message: `HTTP 404 Not Found: ${request.method} ${path}` });
  }
}
