/**
 * SASL OAUTHBEARER (RFC 7628) for kafkajs, as a custom mechanism. kafkajs 2.2.4's built-in one treats any answer
 * to the client's first message as success; but a broker that rejects the token answers with an error challenge
 * (`{"status":"invalid_token"}`) and waits for the client to acknowledge it, so kafkajs's next request breaks the
 * connection and the failure surfaces, after every retry, as "No brokers in the broker pool". Here a non-empty
 * challenge is read as the rejection it is: acknowledged with %x01 as the RFC asks, and reported as an
 * authentication failure with the broker's reason.
 */
import kafkajs, { type Mechanism } from 'kafkajs';

const SOH = '\u0001';

/** The bytes of one SaslAuthenticate request, length-prefixed as kafkajs's own mechanisms encode them. */
function authBytes(payload: Buffer): { encode: () => Promise<Buffer> } {
  return {
    encode: async () => {
      const framed = Buffer.alloc(4 + payload.length);
      framed.writeInt32BE(payload.length, 0);
      payload.copy(framed, 4);
      return framed;
    },
  };
}

// kafkajs (CommonJS) spreads its errors into its exports, which Node's ESM loader cannot see as named exports; and
// its typings declare them without the message argument their constructors take.
const SaslAuthenticationError = kafkajs.KafkaJSSASLAuthenticationError as unknown as new (message: string) => Error;

/** The server's challenge: kafkajs hands over the SASL bytes still length-prefixed (a null length means none). */
const rawResponse = {
  decode: async (bytes: Buffer | null | undefined): Promise<Buffer> => {
    if (!bytes || bytes.length < 4) return Buffer.alloc(0);
    const length = bytes.readInt32BE(0);
    return length <= 0 ? Buffer.alloc(0) : bytes.subarray(4, 4 + length);
  },
  parse: async (bytes: Buffer): Promise<Buffer> => bytes,
};

export function oauthBearerMechanism(token: () => Promise<string>): Mechanism {
  return {
    mechanism: 'oauthbearer',
    authenticationProvider: ({ host, port, saslAuthenticate }) => ({
      authenticate: async () => {
        const value = await token();
        const initial = Buffer.from(`n,,${SOH}auth=Bearer ${value}${SOH}${SOH}`);
        const challenge = await saslAuthenticate({ request: authBytes(initial), response: rawResponse });
        if (!challenge || challenge.length === 0) return;
        // The broker rejected the token. Acknowledging lets it end the exchange with its own error, whose text is
        // the clearest reason there is; the exchange failing is the expected outcome, not something to report.
        const reason = await saslAuthenticate({ request: authBytes(Buffer.from(SOH)), response: rawResponse }).then(
          () => '',
          (error: unknown) => (error instanceof Error ? error.message : String(error)),
        );
        throw new SaslAuthenticationError(
          `SASL OAUTHBEARER authentication failed at ${host}:${port}: the broker rejected the token (${challenge.toString('utf8')})${reason ? `: ${reason}` : ''}`,
        );
      },
    }),
  };
}
