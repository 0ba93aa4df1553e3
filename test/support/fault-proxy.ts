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
  | { kind: 'hang' };

export interface ProxiedRequest {
  /** 1-based, over the proxy's lifetime */
  index: number;
  method: string;
  url: string;
}

export interface FaultProxy {
  port: number;
  /** every request seen, in order */
  requests: ProxiedRequest[];
  close(): Promise<void>;
}

export async function startFaultProxy(
  targetPort: number,
  decide: (request: ProxiedRequest) => FaultAction | Promise<FaultAction>,
): Promise<FaultProxy> {
  const requests: ProxiedRequest[] = [];
  const hanging = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    const request: ProxiedRequest = { index: requests.length + 1, method: req.method ?? 'GET', url: req.url ?? '/' };
    requests.push(request);
    Promise.resolve(decide(request)).then(
      (action) => act(action, req, res),
      (error: unknown) => {
        res.statusCode = 599;
        res.end(String(error));
      },
    );
  });

  const act = (action: FaultAction, req: http.IncomingMessage, res: http.ServerResponse): void => {
    switch (action.kind) {
      case 'status':
        req.resume();
        req.once('end', () => {
          res.writeHead(action.status, action.errorCode ? { 'x-ms-error-code': action.errorCode } : {});
          res.end();
        });
        return;
      case 'reset':
        req.socket.destroy();
        return;
      case 'hang':
        req.resume();
        hanging.add(res);
        return;
      case 'forward': {
        const upstream = http.request(
          { host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers },
          (response) => {
            res.writeHead(response.statusCode ?? 502, response.headers);
            response.pipe(res);
          },
        );
        // The service went away mid-request (an outage): the client sees its connection drop, as it would.
        upstream.once('error', () => req.socket.destroy());
        req.pipe(upstream);
        return;
      }
    }
  };

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    close: async () => {
      for (const res of hanging) res.socket?.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}
