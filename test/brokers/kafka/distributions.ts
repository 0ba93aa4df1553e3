/**
 * The Apache Kafka broker builds the tests run against, as Maven coordinates. The broker jar brings no SLF4J
 * backend, so each line names one: reload4j for 3.9 (what Kafka 3.x ships in its tarball), log4j2 for 4.x.
 */

export type KafkaLine = '3.9' | '4';

export interface MavenArtifact {
  groupId: string;
  artifactId: string;
  version: string;
}

export interface KafkaDistribution {
  /** the name used in test titles and in TRIBUTARY_KAFKA_VERSIONS */
  line: KafkaLine;
  kafkaVersion: string;
  logging: 'reload4j' | 'log4j2';
  dependencies: MavenArtifact[];
}

export const KAFKA_DISTRIBUTIONS: Record<KafkaLine, KafkaDistribution> = {
  '3.9': {
    line: '3.9',
    kafkaVersion: '3.9.2',
    logging: 'reload4j',
    dependencies: [
      { groupId: 'org.apache.kafka', artifactId: 'kafka_2.13', version: '3.9.2' },
      { groupId: 'org.slf4j', artifactId: 'slf4j-reload4j', version: '1.7.36' },
    ],
  },
  '4': {
    line: '4',
    kafkaVersion: '4.4.0',
    logging: 'log4j2',
    dependencies: [
      { groupId: 'org.apache.kafka', artifactId: 'kafka_2.13', version: '4.4.0' },
      { groupId: 'org.apache.logging.log4j', artifactId: 'log4j-slf4j2-impl', version: '2.26.1' },
      { groupId: 'org.apache.logging.log4j', artifactId: 'log4j-core', version: '2.26.1' },
      // kafka-clients still declares slf4j-api 1.7, which cannot see an SLF4J 2 provider: the broker would log nothing.
      { groupId: 'org.slf4j', artifactId: 'slf4j-api', version: '2.0.17' },
    ],
  },
};

/** Lines to test, from TRIBUTARY_KAFKA_VERSIONS (comma-separated, e.g. "3.9" or "3.9,4"); both by default. */
export function selectedLines(env: NodeJS.ProcessEnv = process.env): KafkaLine[] {
  const raw = env.TRIBUTARY_KAFKA_VERSIONS?.trim();
  if (!raw) return ['3.9', '4'];
  const lines = raw.split(',').map((s) => s.trim()).filter(Boolean);
  for (const line of lines) {
    if (!(line in KAFKA_DISTRIBUTIONS)) throw new Error(`TRIBUTARY_KAFKA_VERSIONS: "${line}" is not one of ${Object.keys(KAFKA_DISTRIBUTIONS).join(', ')}`);
  }
  return lines as KafkaLine[];
}
