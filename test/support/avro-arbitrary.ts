/** fast-check values of any avsc type (seeded through fast-check's own seed), for properties over Avro encodings. */
import avro from 'avsc';
import fc from 'fast-check';

export function avroValue(type: avro.Type, depth = 0): fc.Arbitrary<unknown> {
  const name = type.typeName;
  if (name.startsWith('logical:')) return avroValue((type as avro.types.LogicalType).underlyingType, depth);
  switch (name) {
    case 'null':
      return fc.constant(null);
    case 'boolean':
      return fc.boolean();
    case 'int':
      return fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
    case 'long':
      return fc.oneof(fc.integer(), fc.integer({ min: -9007199254740990, max: 9007199254740990 }), fc.constantFrom(9007199254740990, -9007199254740990, 0, -1));
    case 'float':
      return fc.float({ noNaN: true }).map((f) => Math.fround(f));
    case 'double':
      return fc.double();
    case 'string':
      return fc.string({ unit: 'grapheme', maxLength: 40 });
    case 'bytes':
      return fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b));
    case 'fixed':
      return fc.uint8Array({ minLength: (type as avro.types.FixedType).size, maxLength: (type as avro.types.FixedType).size }).map((b) => Buffer.from(b));
    case 'enum':
      return fc.constantFrom(...(type as avro.types.EnumType).symbols);
    case 'array':
      if (depth > 3) return fc.constant([]);
      return fc.array(avroValue((type as avro.types.ArrayType).itemsType, depth + 1), { maxLength: 6 });
    case 'map':
      if (depth > 3) return fc.constant({});
      return fc.dictionary(fc.string({ maxLength: 8 }), avroValue((type as avro.types.MapType).valuesType as avro.Type, depth + 1), { maxKeys: 5 });
    case 'union:unwrapped':
    case 'union:wrapped': {
      const branches = (type as avro.types.UnwrappedUnionType).types;
      // deep down, only branches that end the recursion
      const usable = depth > 3 ? branches.filter((b) => !['record', 'array', 'map'].includes(b.typeName)) : branches;
      const wrapped = name === 'union:wrapped';
      return fc.oneof(
        ...(usable.length > 0 ? usable : branches).map((b) =>
          avroValue(b, depth + 1).map((v) => (wrapped && v !== null ? { [b.branchName ?? b.typeName]: v } : v)),
        ),
      );
    }
    case 'record':
    case 'error': {
      const fields = (type as avro.types.RecordType).fields;
      return fc.tuple(...fields.map((f) => avroValue(f.type, depth + 1))).map((values) => Object.fromEntries(fields.map((f, i) => [f.name, values[i]])));
    }
    default:
      throw new Error(`avroValue: unsupported type ${name}`);
  }
}
