import { createSocket, type Socket } from "node:dgram";
import { readFileSync, mkdtempSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { createServer, type Server, type Socket as TcpSocket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WolSshPower } from "../../../../shared/config/power-inventory.js";
import { PowerDriverError } from "../../../../orchestrator/shell/power/power-driver.js";
import { WolSshDriver } from "../../../../orchestrator/shell/power/wol-ssh-driver.js";
import { freePort } from "../../../support/nats-server.js";
import { keygen, sshdAvailable, startSshd, type SshdHandle } from "../../../deploy/installer/ssh-fixture.js";

// Wake-on-LAN against a UDP listener on 127.0.0.1 (the packet checked byte by byte), and the SSH
// half against a REAL OpenSSH server (the installer tests' fixture: its own port, keys, config).

async function rejection(p: Promise<unknown>): Promise<PowerDriverError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e, "the call should have failed").toBeInstanceOf(PowerDriverError);
  return e as PowerDriverError;
}

async function until(what: string, ok: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "ballast-wol-ssh-"));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const base = { driver: "wol-ssh", ssh_host: "127.0.0.1", private_key_file: "/nonexistent", known_hosts_file: "/nonexistent", timeout: 5 };

describe("WolSshDriver: Wake-on-LAN", () => {
  let listener: Socket;
  const packets: Buffer[] = [];

  beforeAll(async () => {
    listener = createSocket("udp4");
    listener.on("message", (m) => packets.push(m));
    await new Promise<void>((resolve) => listener.bind(0, "127.0.0.1", () => resolve()));
  });
  afterAll(() => listener?.close());

  it.each(["52:54:00:AB:cd:0F", "52-54-00-ab-CD-0f"])("sends the magic packet for %s: 6 x 0xFF, then the MAC 16 times", async (mac) => {
    packets.length = 0;
    const d = new WolSshDriver("hv-w", WolSshPower.parse({ ...base, mac, broadcast: "127.0.0.1", wol_port: listener.address().port }));
    const answer = await d.on();
    expect(answer.detail).toBe(`Wake-on-LAN magic packet for ${mac} sent to 127.0.0.1:${listener.address().port}`);
    await until("three copies of the packet", () => packets.length >= 3);
    const macBytes = [0x52, 0x54, 0x00, 0xab, 0xcd, 0x0f];
    for (const p of packets) {
      expect(p.length).toBe(102);
      for (let i = 0; i < 6; i++) expect(p[i], `byte ${i}`).toBe(0xff);
      for (let rep = 0; rep < 16; rep++) for (let i = 0; i < 6; i++) expect(p[6 + rep * 6 + i], `repetition ${rep}, byte ${i}`).toBe(macBytes[i]);
    }
  });
});

describe("WolSshDriver: cancelled", () => {
  it("a call cancelled by its caller sends nothing and says so", async () => {
    const ctl = new AbortController();
    ctl.abort();
    const d = new WolSshDriver("hv-w", WolSshPower.parse({ ...base, mac: "52:54:00:12:34:56", broadcast: "127.0.0.1" }));
    const e = await rejection(d.on(ctl.signal));
    expect(e.failure).toBe("timeout");
    expect(e.message).toContain("cancelled by the caller");
  });
});

const root = process.getuid?.() === 0;
const canRunSshd = sshdAvailable() && root;
if (!canRunSshd) console.warn("SKIPPING the SSH half of the wol-ssh driver test: needs root, /usr/sbin/sshd (openssh-server) and ssh-keygen");

describe.skipIf(!canRunSshd)("WolSshDriver: SSH against a real sshd", () => {
  let sshd: SshdHandle;
  let userKey: string;
  let knownHosts: string;
  let shutdownScript: string;
  let shutdownLog: string;
  let silent: Server;
  const silentSockets: TcpSocket[] = [];

  const driver = (over: Record<string, unknown> = {}) =>
    new WolSshDriver(
      "hv-w",
      WolSshPower.parse({
        ...base,
        mac: "52:54:00:12:34:56",
        ssh_port: sshd.port,
        private_key_file: userKey,
        known_hosts_file: knownHosts,
        shutdown_command: [shutdownScript, "--when", "now", 'it\'s a "clean" $HOME `halt`; exit 7'],
        ...over,
      }),
    );

  beforeAll(async () => {
    userKey = keygen(join(dir, "id_power")).privateKey;
    sshd = await startSshd(join(dir, "sshd"), [readFileSync(`${userKey}.pub`, "utf8").trim()]);
    knownHosts = join(dir, "known_hosts");
    writeFileSync(knownHosts, `${sshd.knownHostsLine}\n`);
    // The "shutdown": records its arguments, one per line, exactly as the remote shell passed them.
    shutdownLog = join(dir, "shutdown.log");
    shutdownScript = join(dir, "fake-poweroff");
    writeFileSync(shutdownScript, `#!/bin/sh\nprintf '%s\\n' "$@" > '${shutdownLog}'\n`, { mode: 0o755 });
    // Accepts TCP connections and never says a word (a host that hangs before sshd answers).
    silent = createServer((s) => silentSockets.push(s));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", () => resolve()));
  });

  afterAll(async () => {
    for (const s of silentSockets) s.destroy();
    await new Promise<void>((resolve) => (silent ? silent.close(() => resolve()) : resolve()));
    await sshd?.stop();
  });

  it("an SSH server with the known host key is on", async () => {
    const s = await driver().status();
    expect(s.state).toBe("on");
    expect(s.detail).toMatch(/answered with its known host key \(ssh-ed25519 SHA256:/);
  });

  it("soft off runs shutdown_command with every argument quoted for the remote shell", async () => {
    rmSync(shutdownLog, { force: true });
    const a = await driver().off("soft");
    expect(a.detail).toContain("exit status 0");
    expect(readFileSync(shutdownLog, "utf8").split("\n").slice(0, -1)).toEqual(["--when", "now", 'it\'s a "clean" $HOME `halt`; exit 7']);
  });

  it("a shutdown command that fails is refused, with its exit status", async () => {
    const e = await rejection(driver({ shutdown_command: ["sh", "-c", "echo not allowed >&2; exit 3"] }).off("soft"));
    expect(e.failure).toBe("refused");
    expect(e.message).toContain("exited with status 3: not allowed");
  });

  it("hard off is refused: SSH cannot cut power", async () => {
    rmSync(shutdownLog, { force: true });
    const e = await rejection(driver().off("hard"));
    expect(e.failure).toBe("config");
    expect(e.message).toContain("ipmi or redfish");
    expect(existsSync(shutdownLog)).toBe(false);
  });

  it("another host key is an error, never off, and nothing runs", async () => {
    const other = keygen(join(dir, "other_host_key")).publicKey.split(" ");
    const wrongKnown = join(dir, "known_hosts.wrong");
    writeFileSync(wrongKnown, `[127.0.0.1]:${sshd.port} ${other[0]} ${other[1]}\n`);
    const e = await rejection(driver({ known_hosts_file: wrongKnown }).status());
    expect(e.failure).toBe("auth");
    expect(e.message).toContain("HOST KEY MISMATCH");
    expect(e.message).toContain(wrongKnown);
    rmSync(shutdownLog, { force: true });
    expect((await rejection(driver({ known_hosts_file: wrongKnown }).off("soft"))).message).toContain("HOST KEY MISMATCH");
    expect(existsSync(shutdownLog)).toBe(false);
  });

  it("a host missing from known_hosts is an error (keys are never learnt)", async () => {
    const empty = join(dir, "known_hosts.empty");
    writeFileSync(empty, "");
    const e = await rejection(driver({ known_hosts_file: empty }).status());
    expect(e.failure).toBe("auth");
    expect(e.message).toContain(`unknown host key for [127.0.0.1]:${sshd.port}`);
    expect(readFileSync(empty, "utf8")).toBe("");
  });

  it("a key the server does not accept is an auth error", async () => {
    const stranger = keygen(join(dir, "id_stranger")).privateKey;
    const e = await rejection(driver({ private_key_file: stranger }).off("soft"));
    expect(e.failure).toBe("auth");
    expect(e.message).toContain(`authentication as root with ${stranger} failed`);
  });

  it("a private key file others can read is refused", async () => {
    const loose = join(dir, "id_loose");
    writeFileSync(loose, readFileSync(userKey), { mode: 0o640 });
    const e = await rejection(driver({ private_key_file: loose }).status());
    expect(e.failure).toBe("config");
    expect(e.message).toContain(`${loose} has mode 0640`);
  });

  it("a refused connection is off", async () => {
    const s = await driver({ ssh_port: await freePort() }).status();
    expect(s.state).toBe("off");
    expect(s.detail).toContain("connection refused");
  });

  it("no SSH handshake within the timeout is off for status, a timeout for off", async () => {
    const port = (silent.address() as { port: number }).port;
    const t0 = Date.now();
    const s = await driver({ ssh_port: port, timeout: 0.8 }).status();
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(s.state).toBe("off");
    expect(s.detail).toContain("no SSH handshake within 0.8 s");
    const e = await rejection(driver({ ssh_port: port, timeout: 0.8 }).off("soft"));
    expect(e.failure).toBe("timeout");
  });
});
