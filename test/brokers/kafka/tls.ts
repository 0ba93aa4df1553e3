/**
 * TLS material for the broker's SASL_SSL listener, made with the JDK's keytool: a throwaway CA, a broker key pair
 * whose certificate the CA signs for 127.0.0.1 and localhost, a PKCS12 keystore holding the chain and a truststore
 * holding the CA. Clients get the CA as PEM (kafkajs `ssl: { ca }`, Tributary `tls.caFile`).
 *
 * Eight keytool runs cost seconds (tens of seconds on a busy machine), so the material is made once per cache
 * folder, valid for 30 days, and made anew when fewer than 2 of them remain. It protects nothing but test brokers.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { withLock } from './lock.js';

const execFileAsync = promisify(execFile);

export interface BrokerTls {
  keystore: string;
  truststore: string;
  /** one password for both stores and the key (PKCS12 has one) */
  password: string;
  caFile: string;
  caPem: string;
}

const VALIDITY_DAYS = 30;
const RENEW_BEFORE_MS = 2 * 24 * 3600_000;

interface Manifest {
  password: string;
  expiresAt: number;
}

/** The cached material under `<cacheDir>/tls`, made now if absent or close to expiry. */
export async function brokerTls(cacheDir: string, keytool: string): Promise<BrokerTls> {
  const dir = path.join(cacheDir, 'tls');
  const manifestFile = path.join(dir, 'manifest.json');
  const read = async (): Promise<BrokerTls | undefined> => {
    const manifest = await readFile(manifestFile, 'utf8').then((text) => JSON.parse(text) as Manifest, () => undefined);
    if (!manifest || manifest.expiresAt - Date.now() < RENEW_BEFORE_MS) return undefined;
    return { ...files(dir), password: manifest.password, caPem: await readFile(files(dir).caFile, 'utf8') };
  };
  const cached = await read();
  if (cached) return cached;
  await mkdir(cacheDir, { recursive: true });
  return withLock(`${dir}.lock`, async () => {
    const again = await read();
    if (again) return again;
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    const password = randomBytes(12).toString('hex');
    const expiresAt = Date.now() + VALIDITY_DAYS * 24 * 3600_000;
    await makeStores(dir, keytool, password);
    await writeFile(manifestFile, JSON.stringify({ password, expiresAt } satisfies Manifest));
    return (await read())!;
  });
}

function files(dir: string): Omit<BrokerTls, 'password' | 'caPem'> {
  return { keystore: path.join(dir, 'broker.p12'), truststore: path.join(dir, 'truststore.p12'), caFile: path.join(dir, 'ca.pem') };
}

async function makeStores(dir: string, keytool: string, password: string): Promise<void> {
  const { keystore, truststore, caFile } = files(dir);
  const ca = path.join(dir, 'ca.p12');
  const csr = path.join(dir, 'broker.csr');
  const signed = path.join(dir, 'broker.pem');
  const store = (file: string): string[] => ['-keystore', file, '-storetype', 'PKCS12', '-storepass', password];
  // EC keys generate far faster than RSA; a short-lived, client-only-compiled JVM per run starts faster.
  const key = ['-keyalg', 'EC', '-groupname', 'secp256r1', '-validity', String(VALIDITY_DAYS)];
  const jvm = ['-J-XX:TieredStopAtLevel=1', '-J-XX:+UseSerialGC'];
  const run = async (...args: string[]): Promise<void> => {
    try {
      await execFileAsync(keytool, [...jvm, ...args], { timeout: 120_000 });
    } catch (error) {
      const failed = error as { stderr?: string; stdout?: string; message: string };
      throw new Error(`keytool ${args[0]} failed: ${failed.stderr || failed.stdout || failed.message}`);
    }
  };
  // The CA and the broker's key pair do not depend on each other.
  await Promise.all([
    run('-genkeypair', '-alias', 'ca', '-dname', 'CN=Tributary test CA', '-ext', 'bc:c', ...key, ...store(ca)),
    run('-genkeypair', '-alias', 'broker', '-dname', 'CN=localhost', ...key, ...store(keystore)),
  ]);
  await Promise.all([
    run('-exportcert', '-rfc', '-alias', 'ca', '-file', caFile, ...store(ca)),
    run('-certreq', '-alias', 'broker', '-file', csr, ...store(keystore)),
  ]);
  await run('-gencert', '-rfc', '-alias', 'ca', '-infile', csr, '-outfile', signed, '-validity', String(VALIDITY_DAYS),
    '-ext', 'san=ip:127.0.0.1,dns:localhost', '-ext', 'eku=serverAuth', ...store(ca));
  // The chain must reach the CA before the signed certificate can replace the broker's self-signed one.
  await Promise.all([
    run('-importcert', '-noprompt', '-alias', 'ca', '-file', caFile, ...store(keystore)).then(() =>
      run('-importcert', '-noprompt', '-alias', 'broker', '-file', signed, ...store(keystore)),
    ),
    run('-importcert', '-noprompt', '-alias', 'ca', '-file', caFile, ...store(truststore)),
  ]);
}
