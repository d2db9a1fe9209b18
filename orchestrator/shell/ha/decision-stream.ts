import { randomBytes } from "node:crypto";
import type { NatsConnection } from "@nats-io/transport-node";
import { DeliverPolicy, DiscardPolicy, jetstream, jetstreamManager, StorageType, type ConsumerMessages, type JetStreamManager } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { describeError } from "../../../shared/errors.js";
import { DecisionLogMessage, type LoggedDecision } from "../../../shared/schemas/decision-log.js";
import { haDecisionsSubject } from "../../../shared/subjects.js";
import type { RecordedDecisions } from "../decision-log.js";

// The decision log of the HA orchestrators, replicated through the JetStream stream
// `<bucket>-decisions` (limited by size, the oldest dropped first). The leader publishes what it
// records; every instance reads the stream from its start and replays what others wrote, so the
// instance that takes over (or one that restarts) answers `decisions` and `explain` about earlier
// cycles too. In the KV bucket instead it would be one key per cycle and a scan on takeover.

/** Largest message body we publish; nats-server's default max_payload is 1 MiB. */
const MAX_MESSAGE_BYTES = 512 * 1024;

export interface DecisionStreamOptions {
  bucket: string;
  maxBytes: number;
  replicas: number;
  instance: string;
  log: Logger;
}

export class DecisionStream {
  /** Random per process: this instance skips its own messages, not those of a predecessor with the same name. */
  private readonly session = randomBytes(8).toString("hex");
  private readonly subject: string;
  private messages: ConsumerMessages | undefined;
  private appliedSeq = 0;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    readonly name: string,
    private readonly o: DecisionStreamOptions,
  ) {
    this.subject = haDecisionsSubject(o.bucket);
  }

  /** Creates the stream, or updates its size limit to this instance's setting. */
  static async open(nc: NatsConnection, o: DecisionStreamOptions): Promise<DecisionStream> {
    const jsm = await jetstreamManager(nc);
    const name = `${o.bucket}-decisions`;
    const cfg = { subjects: [haDecisionsSubject(o.bucket)], max_bytes: o.maxBytes, discard: DiscardPolicy.Old, num_replicas: o.replicas };
    try {
      await jsm.streams.add({ name, storage: StorageType.File, ...cfg });
    } catch {
      // It exists (another instance made it, maybe with other limits): the newest setting wins.
      await jsm.streams.update(name, cfg);
    }
    return new DecisionStream(nc, jsm, name, o);
  }

  /** Publishes one recorded plan's decisions (split to stay below the message size limit). */
  publish(r: RecordedDecisions): void {
    const js = jetstream(this.nc);
    for (const entries of chunks(r.entries)) {
      const body = DecisionLogMessage.parse({ v: 1, instance: this.o.instance, session: this.session, cycle: r.cycle, entries });
      js.publish(this.subject, JSON.stringify(body)).catch((e) => this.o.log.warn({ cycle: r.cycle, err: describeError(e) }, "cannot replicate decisions"));
    }
  }

  /** Reads the stream from its start and keeps following it; other instances' messages go to `apply`. */
  async follow(apply: (r: RecordedDecisions) => void): Promise<void> {
    const consumer = await jetstream(this.nc).consumers.get(this.name, { deliver_policy: DeliverPolicy.All });
    const messages = await consumer.consume();
    this.messages = messages;
    void (async () => {
      for await (const m of messages) {
        this.appliedSeq = m.seq;
        let msg: DecisionLogMessage;
        try {
          msg = DecisionLogMessage.parse(m.json());
        } catch (e) {
          this.o.log.warn({ seq: m.seq, err: describeError(e) }, "unreadable decision-log message ignored");
          continue;
        }
        if (msg.session !== this.session) apply({ cycle: msg.cycle, entries: msg.entries });
      }
    })().catch((e) => this.o.log.warn({ err: describeError(e) }, "decision-log replication stopped"));
  }

  /**
   * Waits (at most timeoutMs, the stream's info request included) until everything in the stream
   * now has been applied: a new leader numbers its cycles after the old leader's last one. False
   * when the time runs out. (The info request alone could take the JetStream API's own 5 s timeout
   * while a lost server's streams elect new leaders, delaying a takeover that this bound exists
   * to keep short.)
   */
  async catchUp(timeoutMs: number): Promise<boolean> {
    const end = performance.now() + timeoutMs;
    const info = await beforeDeadline(this.jsm.streams.info(this.name), timeoutMs);
    if (info === undefined) return false;
    const last = info.state.last_seq;
    while (this.appliedSeq < last) {
      if (performance.now() >= end) return false;
      await new Promise((r) => setTimeout(r, 20));
    }
    return true;
  }

  stop(): void {
    this.messages?.stop();
    this.messages = undefined;
  }
}

/** The promise's value if it settles within `ms`, else undefined (a later failure is ignored). */
async function beforeDeadline<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
    p.catch(() => undefined);
  }
}

function* chunks(entries: LoggedDecision[]): Generator<LoggedDecision[]> {
  let part: LoggedDecision[] = [];
  let bytes = 0;
  for (const e of entries) {
    const size = JSON.stringify(e).length + 1;
    if (part.length > 0 && bytes + size > MAX_MESSAGE_BYTES) {
      yield part;
      part = [];
      bytes = 0;
    }
    part.push(e);
    bytes += size;
  }
  // Also a plan without decisions: the others' cycle counters follow the leader's.
  if (part.length > 0 || entries.length === 0) yield part;
}
