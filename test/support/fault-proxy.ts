/**
 * An HTTP proxy in front of a real service (Azurite) that injects faults at chosen requests, so tests of retries and
 * atomic uploads are deterministic: "the third request gets a 503", "Azurite stops while the blocks upload".
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type FaultAction =
  | { kind: 'forward' }
  /** answer with this status and the storage error code, without reaching the service */
  | { kind: 'status'; status: number; errorCode?: string }
  /** drop the connection without an answer */
  | { kind: 'reset' }
  /** never answer (the client's timeout has to fire) */
  | { kind: 'hang' }
  /** pass the request to the service, then drop the connection before the answer: it took effect, the client
   * cannot know */
  | { kind: 'lose-answer' };

export interface ProxiedRequest {
  /** 1-based, over the proxy's lifetime */
  index: number;
  method: string;
  url: string;
  /** the whole request body, read before `decide` is asked */
  body: Buffer;
}

export interface FaultProxy {
  port: number;
  /** every request seen, in order */
  requests: ProxiedRequest[];
  /** forwarded requests whose connection to the service failed (the service was down) */
  readonly unreachable: number;
  close(): Promise<void>;
}

export async function startFaultProxy(
  targetPort: number,
  decide: (request: ProxiedRequest) => FaultAction | Promise<FaultAction>,
): Promise<FaultProxy> {
  const requests: ProxiedRequest[] = [];
  const hanging = new Set<http.ServerResponse>();
  let unreachable = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('end', () => {
      const request: ProxiedRequest = { index: requests.length + 1, method: req.method ?? 'GET', url: req.url ?? '/', body: Buffer.concat(chunks) };
      requests.push(request);
      Promise.resolve(decide(request)).then(
        (action) => act(action, request, req, res),
        (error: unknown) => {
          // A failing hook is a broken test, not a fault to inject: answer with a status no retry policy accepts.
          res.writeHead(418, { 'x-ms-error-code': 'FaultProxyHookFailed' });
          res.end(String(error));
        },
      );
    });
  });

  const act = (action: FaultAction, request: ProxiedRequest, req: http.IncomingMessage, res: http.ServerResponse): void => {
    switch (action.kind) {
      case 'status':
        res.writeHead(action.status, action.errorCode ? { 'x-ms-error-code': action.errorCode } : {});
        res.end();
        return;
      case 'reset':
        req.socket.destroy();
        return;
      case 'hang':
        hanging.add(res);
        return;
      case 'forward':
      case 'lose-answer': {
        const upstream = http.request(
          { host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers },
          (response) => {
            if (action.kind === 'lose-answer') {
              response.resume();
              response.once('end', () => req.socket.destroy());
              return;
            }
            res.writeHead(response.statusCode ?? 502, response.headers);
            response.pipe(res);
          },
        );
        // The service went away mid-request (an outage): the client sees its connection drop, as it would.
        upstream.once('error', () => {
          unreachable += 1;
          req.socket.destroy();
        });
        upstream.end(request.body);
        return;
      }
    }
  };

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    get unreachable() {
      return unreachable;
    },
    close: async () => {
      for (const res of hanging) res.socket?.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}
