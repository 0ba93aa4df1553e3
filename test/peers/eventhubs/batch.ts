/**
 * Event Hubs' batch format: the SDK sends one AMQP transfer with message format 0x80013700 whose body is a series
 * of data sections, each one a complete encoded AMQP message (one event). The envelope's message annotations carry
 * the batch's partition key. A plain (format 0) message is a single event.
 */
import rhea, { type Message } from 'rhea';

export const BATCH_MESSAGE_FORMAT = 0x80013700;

export interface IncomingEvent {
  message: Message;
  encodedSize: number;
}

export interface IncomingBatch {
  events: IncomingEvent[];
  /** `x-opt-partition-key` of the envelope (or of the single message), when set. */
  partitionKey: string | null;
  /** Size of the transfer as received, for the link's max message size. */
  transferSize: number;
}

interface DataSection {
  typecode: number;
  content: unknown;
  multiple?: boolean;
}

function isDataSection(body: unknown): body is DataSection {
  return typeof body === 'object' && body !== null && 'typecode' in body && (body as DataSection).typecode === 0x75;
}

function partitionKeyOf(message: Message): string | null {
  const key: unknown = message.message_annotations?.['x-opt-partition-key'];
  return typeof key === 'string' && key !== '' ? key : null;
}

/** rhea's decode is typed with its looser message type; a decoded message always has a body field. */
function decode(bytes: Buffer): Message {
  return rhea.message.decode(bytes) as unknown as Message;
}

/**
 * @param received what rhea hands over: a decoded Message for format 0, the raw bytes for any other format
 * @param format the transfer's message format
 */
export function unpackTransfer(received: Message | Buffer, format: number): IncomingBatch {
  if (!Buffer.isBuffer(received)) {
    const size = rhea.message.encode(received).length;
    return { events: [{ message: received, encodedSize: size }], partitionKey: partitionKeyOf(received), transferSize: size };
  }
  if (format !== BATCH_MESSAGE_FORMAT) throw new Error(`unsupported message format 0x${format.toString(16)}`);
  const envelope = decode(received);
  const body: unknown = envelope.body;
  if (!isDataSection(body)) throw new Error('a batch envelope must carry its events as data sections');
  const sections = body.multiple ? (body.content as unknown[]) : [body.content];
  const events = sections.map((section): IncomingEvent => {
    if (!Buffer.isBuffer(section)) throw new Error('a batch data section must hold an encoded AMQP message');
    return { message: decode(section), encodedSize: section.length };
  });
  return { events, partitionKey: partitionKeyOf(envelope), transferSize: received.length };
}
