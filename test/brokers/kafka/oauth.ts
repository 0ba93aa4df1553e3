/**
 * Unsecured JSON Web Signatures ({"alg":"none"}), the tokens Kafka's OAuthBearerUnsecuredValidatorCallbackHandler
 * accepts: it checks the structure, the `sub` claim and that `exp` lies ahead, and nothing else. For tests only.
 */
import { writeFile } from 'node:fs/promises';

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

export interface UnsecuredClaims {
  sub: string;
  /** seconds from now; negative for an expired token. Default 3600. */
  expiresInSeconds?: number;
  scope?: string;
}

export function unsecuredJws(claims: UnsecuredClaims): string {
  const now = Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = { sub: claims.sub, iat: now, exp: now + (claims.expiresInSeconds ?? 3600) };
  if (claims.scope !== undefined) payload.scope = claims.scope;
  return `${b64url({ alg: 'none' })}.${b64url(payload)}.`;
}

/** Writes a token to a file (as a Kubernetes projected token or a sidecar would) and returns the path. */
export async function writeUnsecuredToken(file: string, claims: UnsecuredClaims): Promise<string> {
  await writeFile(file, `${unsecuredJws(claims)}\n`, { mode: 0o600 });
  return file;
}
