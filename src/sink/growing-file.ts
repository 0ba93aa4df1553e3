/**
 * A Parquet file that grows while its cell is open. Rows are encoded once, a row group at a time, as soon as a
 * group is full (on a pool thread, overlapping with reading and decoding), and every write of the file —
 * complete or an interim flush — only assembles the encoded groups plus the not-yet-full tail. Holding encoded
 * groups instead of JS values also keeps an open cell's memory small.
 *
 * Group boundaries fall every `rowGroupRows` rows of the file, a function of the data alone, so a rebuilt file
 * has the same bytes.
 */
import { assembleParquet, type EncodedRowGroup } from './parquet.js';
import type { TableData, TableSchema } from './table.js';

export type RowGroupEncoder = (table: TableData) => Promise<EncodedRowGroup>;

export class GrowingParquetFile {
  /** the tail being filled: callers push one value per column, then call `rowAdded` */
  columns: unknown[][];
  private tailRows = 0;
  private readonly sealed: Array<Promise<EncodedRowGroup>> = [];
  private sealedRows = 0;

  constructor(
    readonly schema: TableSchema,
    private readonly rowGroupRows: number,
    private readonly encode: RowGroupEncoder,
    /** sealed groups still encoding before `rowAdded` waits (bounds memory and the pool's queue) */
    private readonly maxInFlight = 2,
  ) {
    this.columns = schema.columns.map(() => []);
  }

  get rows(): number {
    return this.sealedRows + this.tailRows;
  }

  /**
   * Seals the tail into a row group once it is full. Returns a promise only then (the hot path stays
   * synchronous), which waits while too many groups are still encoding.
   */
  rowAdded(): Promise<void> | undefined {
    this.tailRows++;
    if (this.tailRows < this.rowGroupRows) return undefined;
    return this.seal();
  }

  private async seal(): Promise<void> {
    const table: TableData = { schema: this.schema, columns: this.columns };
    const encoding = this.encode(table);
    // A failure surfaces from `bytes()`; keep it from being reported as unhandled meanwhile.
    encoding.catch(() => undefined);
    this.sealed.push(encoding);
    this.sealedRows += this.tailRows;
    this.columns = this.schema.columns.map(() => []);
    this.tailRows = 0;
    const waitFor = this.sealed.length - this.maxInFlight;
    if (waitFor > 0) await this.sealed[waitFor - 1];
  }

  /** The whole file as it stands: sealed groups plus the tail, which stays open for more rows. */
  async bytes(): Promise<Uint8Array> {
    const groups = await Promise.all(this.sealed);
    if (this.tailRows > 0) groups.push(await this.encode({ schema: this.schema, columns: this.columns }));
    return assembleParquet(this.schema, groups);
  }
}
