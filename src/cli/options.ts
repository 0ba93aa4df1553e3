/**
 * Option parsing shared by the commands. Parsers throw commander's InvalidArgumentError, so a bad value is a usage
 * error (exit 2, the usage line) naming the option and the value; checks that need the config (stream names)
 * throw CONFIG_INVALID, also exit 2, naming the value and the accepted ones.
 */
import { InvalidArgumentError } from 'commander';
import type { TributaryConfig } from '../config/schema.js';
import { TributaryError } from '../core/errors.js';
import { DEAD_LETTER_REASONS, type DeadLetterReason } from '../sink/dead-letter.js';

/** An integer in [min, max] written in decimal digits ("12abc", "1e3" and "" are rejected). */
export function integer(min: number, max: number = Number.MAX_SAFE_INTEGER): (text: string) => number {
  return (text) => {
    const value = /^-?\d+$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new InvalidArgumentError(`expected an integer ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`}, got "${text}".`);
    }
    return value;
  };
}

/** One of `choices`, named in the error. */
export function oneOf<T extends string>(choices: readonly T[]): (text: string) => T {
  return (text) => {
    if (!(choices as readonly string[]).includes(text)) throw new InvalidArgumentError(`"${text}" is not one of ${choices.join(', ')}.`);
    return text as T;
  };
}

/** The stream names of the config; an unknown name fails naming it and the configured ones. */
export function checkStreams(config: TributaryConfig, names: readonly string[], flag = '--stream'): void {
  const known = Object.keys(config.streams);
  for (const name of names) {
    if (!known.includes(name)) {
      throw new TributaryError('CONFIG_INVALID', `${flag}: "${name}" is not a configured stream; expected one of: ${known.join(', ')}`);
    }
  }
}

/** `late,decode`: dead-letter reasons, each one that exists; an unknown one fails naming it and the known ones. */
export function parseReasons(text: string, flag = '--reason'): DeadLetterReason[] {
  const reasons = text.split(',').map((r) => r.trim()).filter((r) => r !== '');
  if (reasons.length === 0) throw new TributaryError('CONFIG_INVALID', `${flag}: expected one or more of ${DEAD_LETTER_REASONS.join(', ')}`);
  for (const reason of reasons) {
    if (!(DEAD_LETTER_REASONS as readonly string[]).includes(reason)) {
      throw new TributaryError('CONFIG_INVALID', `${flag}: "${reason}" is not a dead-letter reason; expected one of ${DEAD_LETTER_REASONS.join(', ')}`);
    }
  }
  return reasons as DeadLetterReason[];
}

/** parseReasons as a commander option parser: a bad reason is a usage error. */
export function reasonList(text: string): DeadLetterReason[] {
  try {
    return parseReasons(text);
  } catch (error) {
    throw new InvalidArgumentError(`${(error as Error).message.replace(/^--reason: /, '')}.`);
  }
}
