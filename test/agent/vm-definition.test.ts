import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgent, type AgentHandle } from "../../agent/nats-agent.js";
import { SimHypervisor } from "../../agent/sim/sim-hypervisor.js";
import { systemClock } from "../../agent/ports/clock.js";
import { AgentConfig } from "../../shared/config/agent-config.js";
import { silentLogger } from "../../shared/logger.js";
import { requestJson } from "../../shared/nats/json.js";
import { VmDefinition } from "../../shared/schemas/agent-api.js";
import { agentSubjects } from "../../shared/subjects.js";
import { parseDomainXml } from "../../agent/virsh/parse-domain-xml.js";
import { startNatsServer, type NatsServerHandle } from "../support/nats-server.js";

// The vm-definition endpoint on a real nats-server: a sim agent's generated definition, and a
// driver whose libvirt XML carries secrets, which never leave the agent.

const SECRETS = readFileSync(join(dirname(fileURLToPath(import.meta.url)), "virsh", "fixtures", "domain-with-secrets.xml"), "utf8");

let server: NatsServerHandle;
let nc: NatsConnection;
const agents: AgentHandle[] = [];

const sim = {
  cpus: 4,
  mem_mib: 16_384,
  start_delay_s: 0,
  facts: { shared_paths: ["/srv/shared"] },
  vms: [
    {
      name: "web1",
      mem_mib: 512,
      vcpus: 2,
      facts: {
        disks: [
          { target: "vda", path: "/srv/shared/web1.qcow2" },
          { target: "vdb", path: "/var/lib/libvirt/images/web1-scratch.qcow2" },
        ],
      },
    },
  ],
};
const cfg = (host: string) =>
  AgentConfig.parse({ host, driver: "sim", interval: 0.2, heartbeat_interval: 0.2, load_source: "domains", nats: { servers: [server.url] }, sim });

/** A driver whose libvirt hands out the XML with secrets (as `dumpxml --security-info` would). */
class LeakyHypervisor extends SimHypervisor {
  override async definitionXml(vm: string): Promise<string> {
    await super.definitionXml(vm); // UNKNOWN_VM as the sim says it
    return SECRETS.replace("<name>db-1</name>", `<name>${vm}</name>`);
  }
}

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
  agents.push(await startAgent({ config: cfg("def-a"), logger: silentLogger() }));
  const leaky = new LeakyHypervisor({ host: "def-b", config: sim, clock: systemClock });
  leaky.start();
  agents.push(await startAgent({ config: cfg("def-b"), logger: silentLogger(), hypervisor: leaky }));
});

afterAll(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  await nc?.close();
  await server?.stop();
});

const ask = (host: string, body: unknown) => requestJson(nc, agentSubjects(host).vmDefinition, body, { timeoutMs: 3000, data: VmDefinition });

describe("agent vm-definition endpoint (real nats-server)", () => {
  it("answers the sim VM's definition: its disks, a uuid, and the digest of the XML", async () => {
    const r = await ask("def-a", { vm: "web1" });
    if (!r.ok) throw new Error(JSON.stringify(r.error));
    expect(r.data).toMatchObject({ vm: "web1", host: "def-a", removed: [] });
    expect(r.data.digest).toBe(createHash("sha256").update(r.data.xml).digest("hex"));
    const d = parseDomainXml(r.data.xml);
    expect(d.name).toBe("web1");
    expect(d.disks.map((x) => [x.target, x.source])).toEqual([
      ["vda", "/srv/shared/web1.qcow2"],
      ["vdb", "/var/lib/libvirt/images/web1-scratch.qcow2"],
    ]);
    expect(r.data.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(r.data.xml).toContain(`<uuid>${r.data.uuid}</uuid>`);
  });

  it("strips secrets before they leave the agent, and lists what it cut", async () => {
    const r = await ask("def-b", { vm: "web1" });
    if (!r.ok) throw new Error(JSON.stringify(r.error));
    for (const secret of ["vnc-pass", "spice-password", "s3cr3t-cookie-value"]) expect(r.data.xml).not.toContain(secret);
    expect(r.data.removed).toEqual(["devices disk source cookies", "graphics[vnc] passwd passwdValidTo", "graphics[spice] passwd"]);
    expect(r.data.xml).toContain("<secret type='ceph' uuid='2ec115d7-3a88-3ceb-bc12-0ac909a6fd87'/>");
    expect(r.data.uuid).toBe("4dea22b3-1d52-d8f3-2516-782e98ab3fa0");
  });

  it("refuses an unknown VM with UNKNOWN_VM and a bad name with BAD_REQUEST", async () => {
    const unknown = await ask("def-a", { vm: "nope" });
    expect(unknown.ok).toBe(false);
    if (!unknown.ok) expect(unknown.error).toMatchObject({ code: "UNKNOWN_VM", message: expect.stringMatching(/nope is not defined/) });
    const bad = await ask("def-a", { vm: "--all" });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.error.code).toBe("BAD_REQUEST");
  });
});
