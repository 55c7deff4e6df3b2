// Validation of admin input against zod schemas, with failures as AdminErrors that name the
// field (the API's `{ error: { code, message, field } }`).
import { z } from 'zod';
import { AdminError } from './errors.js';

/** `a.b[2]` from a zod issue path. */
function fieldName(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += (out ? '.' : '') + String(p);
  }
  return out;
}

/** The first problem of a failed parse, as an AdminError naming the field. */
export function issueToError(error: z.ZodError, prefix = ''): AdminError {
  // Unknown fields first: a misspelt name is the likeliest mistake and the most useful to report.
  const issue = error.issues.find((i) => i.code === 'unrecognized_keys') ?? error.issues[0]!;
  const base = fieldName(issue.path);
  const join = (f: string) => (prefix && f ? `${prefix}.${f}` : prefix || f);
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!;
    const field = join(base ? `${base}.${key}` : key);
    const more = issue.keys.length > 1 ? ` (and ${issue.keys.slice(1).map((k) => `'${k}'`).join(', ')})` : '';
    return new AdminError('invalid', `unknown field '${field}'${more}`, field);
  }
  const field = join(base);
  let message = issue.message;
  if (issue.code === 'invalid_type' && /received undefined$/.test(issue.message)) message = 'is required';
  else if (issue.code === 'invalid_value' && 'values' in issue) message = `must be one of ${issue.values.map(String).join(', ')}`;
  else if (issue.code === 'too_small' && issue.origin === 'number') message = `must be at least ${issue.minimum}`;
  else if (issue.code === 'too_big' && issue.origin === 'number') message = `must be at most ${issue.maximum}`;
  else message = message.replace(/^Invalid input: /, '');
  return new AdminError('invalid', field ? `${field}: ${message}` : message, field || undefined);
}

export function parseInput<S extends z.ZodType>(schema: S, input: unknown, prefix = ''): z.output<S> {
  const r = schema.safeParse(input);
  if (!r.success) throw issueToError(r.error, prefix);
  return r.data;
}

/** Refuses anything but a JSON object (arrays and null included). */
export function requireObject(input: unknown, what = 'the request body'): Record<string, unknown> {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new AdminError('invalid', `${what} must be a JSON object`);
  }
  return input as Record<string, unknown>;
}

/** The schema's fields, each optional and without its default: what a PATCH may carry. */
export function patchSchemaOf<T extends z.ZodRawShape>(shape: T) {
  const fields: Record<string, z.ZodType> = {};
  for (const [k, v] of Object.entries(shape)) {
    const inner = v instanceof z.ZodDefault ? (v.unwrap() as z.ZodType) : (v as z.ZodType);
    fields[k] = inner.optional();
  }
  return z.object(fields).strict();
}
