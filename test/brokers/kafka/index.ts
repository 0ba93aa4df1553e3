/**
 * A real Apache Kafka broker for tests, fetched from Maven Central (org.apache.kafka:kafka_2.13) into a cache
 * folder git ignores, started as one KRaft node (broker and controller) on free loopback ports. Needs Java 17+
 * (and Maven the first time). Four listeners, each with what a client needs in `broker.listeners`:
 *
 * - `plaintext`   PLAINTEXT
 * - `saslPlain`   SASL_PLAINTEXT, PLAIN, the Event Hubs convention: user `$ConnectionString`, password a
 *                 connection string (`username`, `password`)
 * - `saslSsl`     SASL_SSL, PLAIN as above; the certificate is signed by a CA made with keytool (`caPem`, `caFile`)
 * - `oauthbearer` SASL_PLAINTEXT, OAUTHBEARER, Kafka's unsecured validator: any unsigned JWS with `sub` and a
 *                 future `exp` (`unsecuredJws`, `writeUnsecuredToken`)
 *
 * Automatic topic creation is off (as on Event Hubs): create topics with `broker.createTopic(name, partitions)`,
 * and give topics and groups names no other file uses (`broker.uniqueName('orders')`), since the broker is shared.
 *
 * In a test file (the broker starts once per run and Kafka line, the global setup stops it):
 *
 *   describeKafka('my source', (broker) => {
 *     it('reads', async () => {
 *       const topic = broker().uniqueName('orders');
 *       await broker().createTopic(topic, 4);
 *       const kafka = new Kafka(broker().clientConfig('saslSsl'));          // kafkajs, any listener
 *       const source = { kind: 'kafka', ...broker().sourceFields('saslSsl'), topics: { orders: topic }, groupId };
 *       await broker().highWatermarks(topic); await broker().committedOffsets(groupId, topic);
 *     });
 *   });
 *
 * `describeKafka` runs its block once per Kafka line (3.9 and 4 by default; TRIBUTARY_KAFKA_VERSIONS=3.9 narrows
 * it) and skips it, with the reason in its title, where Java is missing. `useKafkaBroker(line)` is the same
 * without the loop. Outside vitest, `startKafkaBroker({ line })` starts a broker you own (`await broker.stop()`).
 */
export { KafkaBroker, OwnedKafkaBroker, startKafkaBroker, type KafkaBrokerInfo, type ListenerName, type StartKafkaBrokerOptions } from './broker.js';
export { KAFKA_DISTRIBUTIONS, selectedLines, type KafkaDistribution, type KafkaLine } from './distributions.js';
export { describeKafka, kafkaSuite, useKafkaBroker } from './fixture.js';
export { unsecuredJws, writeUnsecuredToken, type UnsecuredClaims } from './oauth.js';
