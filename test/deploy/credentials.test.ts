import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  generateCredentials,
  identitySpecs,
  inboxPrefixFor,
  makeIdentity,
  permissionsFor,
  READONLY_ENDPOINTS,
  renderAuthorization,
} from "../../deploy/tools/credentials.js";
import { orchestratorInstanceSubject, orchestratorSubjects } from "../../shared/subjects.js";

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "ballast-creds-unit-"));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("permissionsFor", () => {
  it("binds an agent to its own subjects", () => {
    const p = permissionsFor("agent", "hv-a");
    expect(p.publish).toEqual([
      "ballast.agent.hv-a.metrics",
      "ballast.agent.hv-a.heartbeat",
      "ballast.agent.hv-a.events",
      "ballast.agent.hv-a.facts",
      // A booting agent asks before it starts a domain it found defined (issue 18).
      "ballast.orch.vm-claim",
    ]);
    expect(p.subscribe).toEqual([
      "ballast.agent.hv-a.status",
      "ballast.agent.hv-a.ping",
      "ballast.agent.hv-a.migrate",
      "ballast.agent.hv-a.abort",
      "ballast.agent.hv-a.get-facts",
      "ballast.agent.hv-a.check-incoming",
      "ballast.agent.hv-a.cpu-baseline",
      "ballast.agent.hv-a.remove-disks",
      "ballast.agent.hv-a.vm-definition",
      "ballast.agent.hv-a.probe-host",
      "ballast.agent.hv-a.start-recorded-vm",
      "ballast.agent.hv-a.pause-vm",
      "ballast.agent.hv-a.guest-state",
      // Discovery: the generic verbs and its own service's name, never the orchestrator's (issue 14).
      "$SRV.PING",
      "$SRV.INFO",
      "$SRV.STATS",
      "$SRV.*.ballast-agent",
      "$SRV.*.ballast-agent.>",
      "_INBOX_agent-hv-a.>",
    ]);
    expect(p.allowResponses).toBe(true);
  });

  it("lets only the orchestrator ask agents for facts, checks, baselines and disk removal", () => {
    const orch = permissionsFor("orchestrator", "main");
    for (const s of ["get-facts", "check-incoming", "cpu-baseline", "remove-disks", "vm-definition", "probe-host", "start-recorded-vm", "guest-state"])
      expect(orch.publish).toContain(`ballast.agent.*.${s}`);
    expect(orch.subscribe).toContain("ballast.agent.*.facts");
    for (const role of ["operator", "readonly", "agent"] as const) {
      const pub = permissionsFor(role, "hv-b").publish;
      expect(
        pub.some(
          (s) =>
            s.includes("remove-disks") ||
            s.includes("check-incoming") ||
            s.includes("get-facts") ||
            s.includes("vm-definition") ||
            s.includes("probe-host") ||
            s.includes("start-recorded-vm") ||
            s.includes("guest-state"),
        ),
        role,
      ).toBe(false);
    }
    // Operators may watch the facts agents publish (they change nothing).
    expect(permissionsFor("readonly", "audit").subscribe).toContain("ballast.agent.*.facts");
  });

  it("gives no one publish rights on _INBOX (replies only through allow_responses)", () => {
    for (const role of ["agent", "orchestrator", "operator", "readonly"] as const)
      expect(permissionsFor(role, "x").publish.some((s) => s.startsWith("_INBOX"))).toBe(false);
  });

  it("gives every identity its own reply inbox that covers no one else's", () => {
    const ids = [
      ["agent", "hv-a"],
      ["agent", "hv-a2"],
      ["orchestrator", "main"],
      ["operator", "alice"],
      ["readonly", "alice"],
    ] as const;
    const inboxes = ids.map(([r, n]) => permissionsFor(r, n).subscribe.filter((s) => s.startsWith("_INBOX")));
    for (const [i, [r, n]] of ids.entries()) expect(inboxes[i], `${r} ${n}`).toEqual([`${inboxPrefixFor(r, n)}.>`]);
    expect(new Set(inboxes.flat()).size).toBe(ids.length);
    // One token each (names cannot hold dots), so `<prefix>.>` never reaches into another prefix.
    for (const [r, n] of ids) expect(inboxPrefixFor(r, n)).not.toContain(".");
  });

  it("lets a read-only account call only endpoints that change nothing", () => {
    const pub = permissionsFor("readonly", "audit").publish;
    for (const k of ["migrate", "evacuate", "pause", "resume", "run", "approve", "release", "events"] as const)
      expect(pub).not.toContain(orchestratorSubjects[k]);
    for (const k of READONLY_ENDPOINTS) expect(pub).toContain(orchestratorSubjects[k]);
    // The same rule on every instance's own subjects.
    for (const k of ["migrate", "evacuate", "pause", "resume", "run", "approve", "release"] as const) expect(pub).not.toContain(`ballast.orch.instance.*.${k}`);
    for (const k of READONLY_ENDPOINTS) expect(pub).toContain(orchestratorInstanceSubject("*", k));
    expect(pub.some((s) => s.endsWith(">") && s.startsWith("ballast."))).toBe(false);
    expect(pub).toContain("$SRV.>");
  });

  it("lets orchestrators forward to each other and replicate decisions; nobody else", () => {
    const orch = permissionsFor("orchestrator", "main");
    expect(orch.publish).toEqual(expect.arrayContaining(["ballast.orch.instance.>", "ballast.orch.ha.>"]));
    expect(orch.subscribe).toContain("ballast.orch.>");
    for (const role of ["agent", "operator", "readonly"] as const) {
      const p = permissionsFor(role, "x");
      expect(
        p.publish.some((s) => s.startsWith("ballast.orch.ha.") || s === "ballast.orch.instance.>"),
        role,
      ).toBe(false);
    }
    // Of the orchestrator's subjects an agent may ask only vm-claim, and publish no event.
    expect(permissionsFor("agent", "hv-a").publish.filter((s) => s.startsWith("ballast.orch."))).toEqual(["ballast.orch.vm-claim"]);
  });

  it("lets a full operator call every endpoint but not forge orchestrator events or command agents", () => {
    const pub = permissionsFor("operator", "alice").publish;
    for (const [k, s] of Object.entries(orchestratorSubjects)) expect(pub.includes(s), k).toBe(k !== "events");
    for (const [k, s] of Object.entries(orchestratorSubjects))
      expect(pub.includes(`ballast.orch.instance.*.${s.slice("ballast.orch.".length)}`), k).toBe(k !== "events");
    expect(pub.some((s) => s.startsWith("ballast.agent."))).toBe(false);
  });
});

describe("identitySpecs", () => {
  it.each([["hv.a"], ["*"], [">"], ["hv a"], [""], ["-x"]])("rejects the name %j", (name) => {
    expect(() => identitySpecs({ agents: [name], operators: [], readonly: [] })).toThrow(/agent name/);
  });
  it("rejects duplicates and a person who is both operator and readonly", () => {
    expect(() => identitySpecs({ agents: ["a", "a"], operators: [], readonly: [] })).toThrow(/twice/);
    expect(() => identitySpecs({ agents: [], operators: ["bob"], readonly: ["bob"] })).toThrow(/both/);
    expect(() => identitySpecs({ agents: [], operators: [], readonly: [], orchestrators: [] })).toThrow(/orchestrator/);
  });
  it("defaults to one orchestrator named main", () => {
    expect(identitySpecs({ agents: ["hv-a"], operators: [], readonly: [] })).toEqual([
      { role: "agent", name: "hv-a" },
      { role: "orchestrator", name: "main" },
    ]);
  });
});

describe("renderAuthorization", () => {
  it("renders quoted subjects and allow_responses only where needed", () => {
    const text = renderAuthorization([makeIdentity({ role: "agent", name: "hv-a" }, "UAGENT"), makeIdentity({ role: "readonly", name: "audit" }, "UAUDIT")]);
    expect(text).toContain('nkey: "UAGENT"');
    expect(text).toContain('"$SRV.>"');
    expect(text.match(/allow_responses: true/g)).toHaveLength(1);
    expect(text).toMatch(/^authorization \{$/m);
  });
  it("refuses to render an empty user list", () => {
    expect(() => renderAuthorization([])).toThrow(/no identities/);
  });
});

describe("generateCredentials", () => {
  it("keeps existing seeds, adds new ones, rotates on request and lists stale files", () => {
    const outDir = join(tmp(), "creds");
    const first = generateCredentials({ outDir, agents: ["hv-a"], operators: ["alice"], readonly: [] });
    expect(statSync(outDir).mode & 0o777).toBe(0o700);
    expect(statSync(first.authorizationFile).mode & 0o777).toBe(0o644);
    const key = (r: typeof first, file: string) => r.identities.find((i) => i.seedFile === file)?.publicKey;

    const second = generateCredentials({ outDir, agents: ["hv-a", "hv-b"], operators: [], readonly: [] });
    expect(key(second, "agent-hv-a.nk")).toBe(key(first, "agent-hv-a.nk"));
    expect(second.created).toEqual([join(outDir, "agent-hv-b.nk")]);
    expect(second.stale).toEqual([join(outDir, "operator-alice.nk")]);
    expect(readFileSync(second.authorizationFile, "utf8")).not.toContain(key(first, "operator-alice.nk")!);

    const third = generateCredentials({ outDir, agents: ["hv-a", "hv-b"], operators: [], readonly: [], rotate: true });
    expect(key(third, "agent-hv-a.nk")).not.toBe(key(first, "agent-hv-a.nk"));
    expect(third.reused).toEqual([]);
  });

  it("refuses a seed file that does not hold a user seed", () => {
    const outDir = tmp();
    writeFileSync(join(outDir, "agent-hv-a.nk"), "not a seed\n", { mode: 0o600 });
    expect(() => generateCredentials({ outDir, agents: ["hv-a"], operators: [], readonly: [] })).toThrow(/valid nkey seed/);
  });

  it("writes the authorization fragment where asked", () => {
    const d = tmp();
    const r = generateCredentials({ outDir: join(d, "creds"), authorizationFile: join(d, "auth.conf"), agents: [], operators: [], readonly: [] });
    expect(r.authorizationFile).toBe(join(d, "auth.conf"));
    expect(readFileSync(r.authorizationFile, "utf8")).toContain("# orchestrator main");
  });
});
