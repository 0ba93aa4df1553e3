/**
 * Generator hints: an optional `gen` attribute on an Avro field or type (Avro ignores attributes it does not
 * define, so schemas stay valid for every other tool). They make synthetic data look like the real thing
 * (quantities 1-6, prices with two decimals, a total that is the sum of its lines) without the generator knowing
 * any field name. Validated strictly so a typo in a schema is an error, not a silently ignored hint.
 */
import { z } from 'zod';

const range = z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]).refine(([lo, hi]) => lo <= hi, 'expected [min, max] with min <= max');

export const hintsSchema = z.strictObject({
  min: z.number().optional().describe('numbers: lower bound (inclusive)'),
  max: z.number().optional().describe('numbers: upper bound (inclusive for integers)'),
  decimals: z.number().int().min(0).max(12).optional().describe('floats and doubles: round to this many decimals'),
  choices: z.array(z.union([z.string(), z.number()])).min(1).optional().describe('strings and numbers: pick one of these'),
  weights: z.array(z.number().positive()).min(1).optional().describe('relative weights of `choices` or of enum symbols'),
  prefix: z.string().optional().describe('strings: prefix + zero-padded index, e.g. "SKU-00042"'),
  width: z.number().int().min(1).max(20).optional().describe('strings with prefix: digits of the index'),
  cardinality: z.number().int().min(1).optional().describe('strings with prefix: number of distinct values'),
  length: range.optional().describe('strings and bytes: [min, max] length of random content'),
  minItems: z.number().int().nonnegative().optional().describe('arrays and maps: fewest entries'),
  maxItems: z.number().int().nonnegative().optional().describe('arrays and maps: most entries'),
  keys: z.array(z.string()).min(1).optional().describe('maps: the fixed key set, every key present'),
  nullProbability: z.number().min(0).max(1).optional().describe('unions with null: probability of null'),
  probability: z.number().min(0).max(1).optional().describe('booleans: probability of true'),
  sticky: z.boolean().optional().describe('one value per partition key, the same for every event of that key'),
  counter: z.enum(['perKey', 'global']).optional().describe('int/long: 1, 2, 3... per partition key or per stream'),
  sumOver: z.strictObject({
    array: z.string().min(1).describe('an array-of-records field of the same record'),
    multiply: z.array(z.string().min(1)).min(1).describe('numeric fields of the items, multiplied per item'),
  }).optional().describe('numbers: sum over the items of an array field of the product of some of their fields'),
  offsetMs: z.tuple([z.number().int(), z.number().int()]).refine(([lo, hi]) => lo <= hi, 'expected [min, max]').optional()
    .describe('timestamps and dates: offset from the event time'),
}).refine((h) => h.min === undefined || h.max === undefined || h.min <= h.max, { message: 'min must not exceed max', path: ['min'] })
  .refine((h) => h.minItems === undefined || h.maxItems === undefined || h.minItems <= h.maxItems, { message: 'minItems must not exceed maxItems', path: ['minItems'] })
  .refine((h) => h.weights === undefined || h.choices === undefined || h.weights.length === h.choices.length, {
    message: 'weights needs one entry per choice',
    path: ['weights'],
  });

export type Hints = z.infer<typeof hintsSchema>;
