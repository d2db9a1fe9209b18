import { performance } from "node:perf_hooks";
import { Writable } from "node:stream";
import { pino } from "pino";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { OrchestratorConfig } from "../shared/config/orchestrator-config.js";
import { allAgents } from "../shared/subjects.js";
import { startOrchestrator } from "../orchestrator/main.js";

// Child process of the ingest benchmark: one subscriber, measured on its own.
//   node ingest-subscriber.js intake|bare <nats url> <expected messages>
// intake: a whole startOrchestrator (its real subscribeAgents -> Orchestrator.onMetrics ->
//         ClusterState.ingestMetrics path), cycles disabled by a one-hour interval.
// bare:   one subscription on the same wildcard that only does TextDecoder + JSON.parse.
// Every ACK_EVERY messages it publishes its count on bench.ingest.ack (the publisher's window);
// when `expected` arrived, or when asked (IPC "report"), it sends its figures over IPC.

export const ACK_SUBJECT = "bench.ingest.ack";
const ACK_EVERY = 250;

type Mode = "intake" | "bare";

async function main(): Promise<void> {
  const [mode, url, expectedS] = process.argv.slice(2) as [Mode, string, string];
  const expected = Number(expectedS);
  let count = 0;
  let firstAt = 0;
  let lastAt = 0;
  let cpuAtFirst = process.cpuUsage();
  let warnings = 0;
  let ackConn: NatsConnection;
  let stop: () => Promise<void>;
  const report = (kind: "done" | "report") => {
    const cpu = process.cpuUsage(cpuAtFirst);
    process.send?.({ kind, mode, count, firstAt, lastAt, cpuMs: (cpu.user + cpu.system) / 1000, warnings, extra: extra() });
  };
  let extra = (): Record<string, number> => ({});
  const onMessage = () => {
    const t = performance.now();
    if (count === 0) {
      firstAt = t;
      cpuAtFirst = process.cpuUsage();
    }
    count += 1;
    lastAt = t;
    if (count % ACK_EVERY === 0 || count === expected) ackConn.publish(ACK_SUBJECT, String(count));
    if (count === expected) report("done");
  };

  if (mode === "intake") {
    // Dropped (invalid) messages are logged at warn: count them.
    const sink = new Writable({
      write(_chunk, _enc, cb) {
        warnings += 1;
        cb();
      },
    });
    const log = pino({ level: "warn" }, sink);
    const config = OrchestratorConfig.parse({ nats: { servers: [url] }, policy: { interval: 3600, max_over: 7200, stale_after: 3600 }, log_level: "warn" });
    const running = await startOrchestrator({ config, log, mapping: new Map(), instance: "bench-ingest" });
    const orch = running.orchestrator;
    // The bus intake calls this object's onMetrics for every valid message: count them there.
    const intake = orch.intake;
    const ingest = intake.onMetrics.bind(intake);
    intake.onMetrics = (m) => {
      ingest(m);
      onMessage();
    };
    ackConn = running.nc;
    extra = () => ({ hostsKnown: orch.view.cluster.hostIds().length });
    stop = () => running.stop();
  } else {
    const nc = await connect({ servers: [url], name: "bench-bare-subscriber" });
    const dec = new TextDecoder();
    let bytes = 0;
    nc.subscribe(allAgents.metrics, {
      callback: (_e, msg) => {
        const v = JSON.parse(dec.decode(msg.data)) as { host?: string };
        bytes += v.host ? msg.data.length : 0;
        onMessage();
      },
    });
    ackConn = nc;
    extra = () => ({ bytes });
    stop = () => nc.drain();
  }
  await ackConn.flush();
  process.send?.({ kind: "ready" });
  process.on("message", (m) => {
    if (m === "report") report("report");
    if (m === "stop") void stop().finally(() => process.exit(0));
  });
}

// Imported by the parent for ACK_SUBJECT: run only as a script.
if (import.meta.url === `file://${process.argv[1]}`) await main();
