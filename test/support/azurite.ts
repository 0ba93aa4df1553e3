/**
 * Azurite (the Azure Storage emulator, npm `azurite`) as a child process for tests: blob service only, on a free
 * loopback port, stopped by the test that started it. Nothing here depends on anything installed by hand.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

/** Azurite's fixed development account; public by design (documented by Microsoft), not a secret. */
export const DEV_ACCOUNT = 'devstoreaccount1';
export const DEV_ACCOUNT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface AzuriteOptions {
  /**
   * Keep blobs on disk in a temporary folder instead of in memory, so `suspend()`/`resume()` (an outage) keeps the
   * data. Default false.
   */
  persistent?: boolean;
  /** How long to wait for the "listens on" line. Default 30 s (the machine is shared). */
  startTimeoutMs?: number;
}

export interface Azurite {
  connectionString: string;
  /** http://127.0.0.1:<port>/devstoreaccount1 */
  blobEndpoint: string;
  port: number;
  /** Kills Azurite for good and removes its folder. */
  stop(): Promise<void>;
  /** Stops the process (an outage); with `persistent` the data stays for `resume()`. */
  suspend(): Promise<void>;
  /** Starts Azurite again on the same port after `suspend()`. */
  resume(): Promise<void>;
  /** `suspend()` then `resume()`. In-memory instances come back empty. */
  restart(): Promise<void>;
}

const LISTENS = /listens on https?:\/\/[^:\s]+:(\d+)/;

export async function startAzurite(options: AzuriteOptions = {}): Promise<Azurite> {
  const location = await mkdtemp(path.join(os.tmpdir(), 'tributary-azurite-'));
  const timeoutMs = options.startTimeoutMs ?? 30_000;
  let child: ChildProcess | undefined;
  let starting: Promise<void> | undefined;
  let stopped = false;
  let port: number;
  try {
    ({ child, port } = await launch(location, 0, Boolean(options.persistent), timeoutMs));
  } catch (error) {
    await rm(location, { recursive: true, force: true });
    throw error;
  }
  const blobEndpoint = `http://127.0.0.1:${port}/${DEV_ACCOUNT}`;

  const suspend = async (): Promise<void> => {
    // A failed start is reported to whoever called resume(); here we only wait for it to settle.
    await starting?.then(() => undefined, () => undefined);
    const running = child;
    child = undefined;
    if (running) await terminate(running);
  };
  const resume = async (): Promise<void> => {
    if (stopped) throw new Error('Azurite was stopped for good; start a new instance');
    if (child) return;
    // Two callers resuming at once (a test's timer and its cleanup) must not launch two processes.
    starting ??= launch(location, port, Boolean(options.persistent), timeoutMs).then(
      (launched) => {
        child = launched.child;
        starting = undefined;
      },
      (error: unknown) => {
        starting = undefined;
        throw error;
      },
    );
    await starting;
  };

  return {
    connectionString: devConnectionString(blobEndpoint),
    blobEndpoint,
    port,
    suspend,
    resume,
    restart: async () => {
      await suspend();
      await resume();
    },
    stop: async () => {
      stopped = true;
      await suspend();
      await rm(location, { recursive: true, force: true });
    },
  };
}

export function devConnectionString(blobEndpoint: string): string {
  return `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT};AccountKey=${DEV_ACCOUNT_KEY};BlobEndpoint=${blobEndpoint};`;
}

function azuriteBlobMain(): string {
  return createRequire(import.meta.url).resolve('azurite/dist/src/blob/main.js');
}

async function launch(location: string, port: number, persistent: boolean, timeoutMs: number): Promise<{ child: ChildProcess; port: number }> {
  const args = [
    azuriteBlobMain(),
    '--blobHost', '127.0.0.1',
    '--blobPort', String(port),
    '--disableTelemetry',
    '--skipApiVersionCheck',
    '--silent',
  ];
  // Azurite refuses --location together with --inMemoryPersistence; the working directory is the temp folder either way.
  args.push(...(persistent ? ['--location', location] : ['--inMemoryPersistence']));
  const child = spawn(process.execPath, args, { cwd: location, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  try {
    const listening = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Azurite did not start within ${timeoutMs} ms:\n${output.join('')}`)), timeoutMs);
      const onData = (chunk: Buffer): void => {
        output.push(chunk.toString('utf8'));
        const match = LISTENS.exec(output.join(''));
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`Azurite exited before listening (code ${code}, signal ${signal}):\n${output.join('')}`));
      });
    });
    // Keep draining the pipes so a chatty Azurite never blocks on a full buffer.
    child.stdout?.removeAllListeners('data').resume();
    child.stderr?.removeAllListeners('data').resume();
    return { child, port: listening };
  } catch (error) {
    await terminate(child);
    throw error;
  }
}

/** SIGTERM lets Azurite close its database cleanly (persistent data survives); SIGKILL if it lingers. */
async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const escalate = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(escalate);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
