import { AgentConfig } from "../shared/config/agent-config.js";
import { silentLogger } from "../shared/logger.js";
import { startAgent } from "../agent/nats-agent.js";

// Child process of the agent-cost benchmark: one real agent (virsh driver through
// createExecaVirshRunner, systeminformation host metrics), so its CPU and memory are its own.
//   node agent-cost-child.js <nats url> <host> <virsh binary> <interval s>
// IPC: "sample" -> { kind: "sample", cpuMs, heapUsedMiB, heapTotalMiB }; "stop" -> stops the agent and exits.

const [url, host, binary, interval] = process.argv.slice(2) as [string, string, string, string];
const config = AgentConfig.parse({
  host,
  nats: { servers: [url] },
  interval: Number(interval),
  driver: "virsh",
  virsh: { binary, uri: "qemu:///bench-stand-in" },
  log_level: "warn",
});
const agent = await startAgent({ config, logger: silentLogger(), stopGraceMs: 100 });
process.send?.({ kind: "ready" });
process.on("message", (m) => {
  if (m === "sample") {
    const u = process.cpuUsage();
    const mem = process.memoryUsage();
    process.send?.({ kind: "sample", cpuMs: (u.user + u.system) / 1000, heapUsedMiB: mem.heapUsed / 2 ** 20, heapTotalMiB: mem.heapTotal / 2 ** 20 });
  }
  if (m === "stop") void agent.stop().finally(() => process.exit(0));
});
