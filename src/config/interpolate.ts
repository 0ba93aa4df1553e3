/**
 * `${VAR}` in config string values, as Vector and Benthos allow: `${VAR}` is the environment variable (an error
 * naming the field when it is unset), `${VAR:-default}` falls back to the default when VAR is unset or empty, and
 * `$${` is a literal `${`. Keys are never interpolated; only strings are, so numbers and booleans keep their type.
 */
import { fieldName } from './field-name.js';

const TOKEN = /\$\$\{|\$\{([^}]*)\}/g;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface Interpolated {
  value: unknown;
  /** one line per problem, each starting with the field: `source.sasl.password: environment variable X is not set` */
  problems: string[];
}

export function interpolateEnvironment(raw: unknown, env: Readonly<Record<string, string | undefined>>): Interpolated {
  const problems: string[] = [];
  const visit = (value: unknown, at: PropertyKey[]): unknown => {
    if (typeof value === 'string') return interpolateString(value, env, (problem) => problems.push(`${fieldName(at) || '(root)'}: ${problem}`));
    if (Array.isArray(value)) return value.map((item, i) => visit(item, [...at, i]));
    if (typeof value === 'object' && value !== null) {
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, visit(item, [...at, key])]));
    }
    return value;
  };
  return { value: visit(raw, []), problems };
}

export function interpolateString(text: string, env: Readonly<Record<string, string | undefined>>, report: (problem: string) => void): string {
  return text.replace(TOKEN, (token, body: string | undefined) => {
    if (token === '$${') return '${';
    const expression = body ?? '';
    const split = expression.indexOf(':-');
    const name = split >= 0 ? expression.slice(0, split) : expression;
    if (!NAME.test(name)) {
      report(`"\${${expression}}" is not an environment variable reference (letters, digits, _; write $\${ for a literal \${)`);
      return token;
    }
    const value = env[name];
    if (split >= 0) return value === undefined || value === '' ? expression.slice(split + 2) : value;
    if (value === undefined) {
      report(`environment variable ${name} is not set (referenced as \${${name}}; write $\${ for a literal \${)`);
      return token;
    }
    return value;
  });
}
