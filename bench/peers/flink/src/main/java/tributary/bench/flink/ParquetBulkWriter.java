package tributary.bench.flink;

import java.io.IOException;
import java.util.List;
import org.apache.flink.api.common.serialization.BulkWriter;
import org.apache.flink.core.fs.FSDataOutputStream;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.hadoop.ParquetFileWriter;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.api.WriteSupport;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.io.OutputFile;
import org.apache.parquet.io.PositionOutputStream;

/**
 * Parquet part files (Snappy) for Flink's FileSink: what flink-parquet's ParquetWriterFactory does, written here
 * because the registry reached from these machines does not serve flink-parquet. parquet-hadoop writes into the
 * stream FileSink opens; the stream stays open when the Parquet writer closes, since FileSink commits it itself.
 */
abstract class ParquetBulkWriter<T> implements BulkWriter.Factory<T> {
  private static final long serialVersionUID = 1L;
  /** row groups of 8 MiB: Tributary encodes row groups of 32,768 order rows, about 5 MiB */
  private static final int ROW_GROUP_BYTES = 8 << 20;

  /** a new WriteSupport for each part file (they hold the record consumer of one file) */
  protected abstract WriteSupport<T> writeSupport();

  /**
   * Columns whose values are (nearly) all different: parquet-mr would build a dictionary for each row group until
   * it overflows and then fall back to plain encoding, hashing every value on the way (a fifth of the job's CPU in
   * a profile). A user tuning the job would turn it off for them, as here.
   */
  protected abstract List<String> uniqueColumns();

  @Override
  public BulkWriter<T> create(FSDataOutputStream out) throws IOException {
    Builder<T> builder = new Builder<>(new StreamFile(out), writeSupport())
        .withCompressionCodec(CompressionCodecName.SNAPPY)
        .withRowGroupSize(ROW_GROUP_BYTES)
        .withWriteMode(ParquetFileWriter.Mode.OVERWRITE);
    for (String column : uniqueColumns()) builder = builder.withDictionaryEncoding(column, false);
    ParquetWriter<T> writer = builder.build();
    return new BulkWriter<>() {
      @Override
      public void addElement(T element) throws IOException {
        writer.write(element);
      }

      @Override
      public void flush() {
        // Parquet can only end a file, not flush part of a row group; FileSink rolls bulk files on checkpoints
        // (and at the end of a bounded run), when finish() is called.
      }

      @Override
      public void finish() throws IOException {
        writer.close();
      }
    };
  }

  private static final class Builder<T> extends ParquetWriter.Builder<T, Builder<T>> {
    private final WriteSupport<T> support;

    Builder(OutputFile file, WriteSupport<T> support) {
      super(file);
      this.support = support;
    }

    @Override
    protected Builder<T> self() {
      return this;
    }

    @Override
    protected WriteSupport<T> getWriteSupport(Configuration conf) {
      return support;
    }
  }

  /** The FileSink stream as Parquet's output file. */
  private record StreamFile(FSDataOutputStream out) implements OutputFile {
    @Override
    public PositionOutputStream create(long blockSizeHint) {
      return new PositionOutputStream() {
        @Override
        public long getPos() throws IOException {
          return out.getPos();
        }

        @Override
        public void write(int b) throws IOException {
          out.write(b);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
          out.write(b, off, len);
        }

        @Override
        public void flush() throws IOException {
          out.flush();
        }

        @Override
        public void close() throws IOException {
          out.flush(); // FileSink closes and commits the stream
        }
      };
    }

    @Override
    public PositionOutputStream createOrOverwrite(long blockSizeHint) {
      return create(blockSizeHint);
    }

    @Override
    public boolean supportsBlockSize() {
      return false;
    }

    @Override
    public long defaultBlockSize() {
      return 0;
    }
  }
}
