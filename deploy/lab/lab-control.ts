// Control of the real three-hypervisor libvirt lab (deploy/lab/lab.sh), for `ballast demo` and the tests.
//
//   const avail = labAvailable();            // { ok, why? }: skip LOUDLY when !ok
//   const lab = await labUp();               // hv-a/hv-b/hv-c, each a libvirtd in its own netns
//   await lab.startGuest("hv-a", "g1", { burn: true });
//   lab.whereIs("g1")                        // ["hv-a"]  (hvs where virsh lists it running)
//   await lab.virsh("hv-a", ["migrate", "--live", "--p2p", ...]);
//   lab.ticks("g1")                          // [1, 2, 3, ...] from the guest's console log
//   await lab.setBurn("g1", false);
//   await lab.stopLibvirtd("hv-c"); await lab.startLibvirtd("hv-c");
//   await lab.bmcUp(); const b = await lab.bmc("hv-b");   // an IPMI BMC per hv (ipmi_sim)
//   ipmitool -I lanplus -C 3 -H b.address -p b.port -U b.user -f b.passwordFile chassis power off
//   await lab.down();                        // or labDown() in afterAll, also after a failed labUp
//
// Everything goes through lab.sh or virsh with argument arrays and hard time-outs (SIGKILL:
// virsh can hang and ignore SIGTERM). Several labs can run at once with labUp({ name }): each
// gets its own namespaces (prefix bl-<name>) and directory (.lab/runs/<name>), sharing the cache.

import { execFile, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";

/** The checkout this module runs from (source or dist/): the nearest folder with deploy/lab/lab.sh. */
function findRepoRoot(start: string): string {
  let dir = start;
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, "deploy", "lab", "lab.sh")) && existsSync(join(dir, "package.json"))) return dir;
    dir = dirname(dir);
  }
  return resolve(start, "..", "..");
}

export const REPO_ROOT = findRepoRoot(dirname(fileURLToPath(import.meta.url)));
export const LAB_SH = join(REPO_ROOT, "deploy", "lab", "lab.sh");
export const HV_IDS = ["hv-a", "hv-b", "hv-c"] as const;
export type HvId = (typeof HV_IDS)[number];

export interface LabHost {
  id: HvId;
  ip: string;
  /** virsh URI from the root namespace: qemu+unix:///system?socket=... */
  uri: string;
  socket: string;
  /** URI other daemons use to reach this one (migration destination): qemu+tcp://<ip>/system */
  tcpUri: string;
  netns: string;
}

export interface Tick {
  n: number;
  uptime: number;
  burn: boolean;
}

export interface LabOptions {
  /** Isolated lab instance: namespaces bl-<name>-*, directory .lab/runs/<name>. Default: the shared lab (.lab, prefix "ballast"). */
  name?: string;
  /** Time-out for `lab.sh up`, ms. */
  timeoutMs?: number;
  /**
   * libvirt's lock manager (`lab.sh up --locks`): a virtlockd per hv, disk leases in
   * `<sharedDir>/lockspace`. A lab up in the other mode is torn down and brought up again.
   * Default: BALLAST_LAB_LOCKS=1 in the environment, else off.
   */
  locks?: boolean;
}

/** How to reach one hv's BMC (ipmi_sim, IPMI over LAN on loopback): `lab.sh bmc <hv>`. */
export interface BmcInfo {
  id: HvId;
  address: string;
  port: number;
  user: string;
  /** 0600 file holding the password (for `ipmitool -f`). */
  passwordFile: string;
  alive: boolean;
  pid: number | null;
}

/** Arguments for `ipmitool` against a BMC, password from its file (never on the command line). */
export function ipmitoolArgs(b: BmcInfo, command: string[], opts: { timeoutSec?: number; retries?: number } = {}): string[] {
  const args = ["-I", "lanplus", "-C", "3", "-H", b.address, "-p", String(b.port), "-U", b.user, "-f", b.passwordFile];
  if (opts.timeoutSec !== undefined) args.push("-N", String(opts.timeoutSec));
  if (opts.retries !== undefined) args.push("-R", String(opts.retries));
  return [...args, ...command];
}

/** What a lab guest carries besides its kernel (lab.sh start-guest options). */
export interface GuestOptions {
  burn?: boolean;
  memMiB?: number;
  /** A local qcow2 disk of this many MiB in the hv's private /var/lib/libvirt/images (pool ballast-images). */
  diskMiB?: number;
  /** A qcow2 disk of this many MiB under `sharedDir`, which every hv sees. */
  sharedDiskMiB?: number;
  /** A read-only CD-ROM whose file exists only in the hv's private images directory. */
  cdrom?: boolean;
  /** An interface on this libvirt network (netDefine it first on the hvs that should have it). */
  network?: string;
  /** Guest CPU model (custom mode); default qemu64. */
  cpuModel?: string;
  /** An existing file under `sharedDir` as the disk (e.g. another guest's disk: a second copy of a VM). */
  sharedDiskFile?: string;
  /**
   * QEMU without its own image locks (a wrapper adds locking=off to libvirt's file nodes): all lab
   * hvs share one kernel, so QEMU's locks would refuse a second writer before libvirt's lock manager
   * is asked. With this, only virtlockd's leases guard the guest's disks.
   */
  qemuLocksOff?: boolean;
}

/** lab.sh options of start-guest / define-guest. */
function guestOptions(o: GuestOptions): string[] {
  const args: string[] = [];
  if (o.burn) args.push("--burn");
  if (o.memMiB) args.push("--mem", String(o.memMiB));
  if (o.diskMiB) args.push("--disk", String(o.diskMiB));
  if (o.sharedDiskMiB) args.push("--shared-disk", String(o.sharedDiskMiB));
  if (o.cdrom) args.push("--cdrom");
  if (o.network) args.push("--network", o.network);
  if (o.cpuModel) args.push("--cpu-model", o.cpuModel);
  if (o.sharedDiskFile) args.push("--shared-disk-file", o.sharedDiskFile);
  if (o.qemuLocksOff) args.push("--qemu-locks-off");
  return args;
}

export interface Lab {
  dir: string;
  /** Directory every hv sees alike: the lab's shared storage. */
  sharedDir: string;
  /** Is libvirt's lock manager on (virtlockd per hv)? */
  locks: boolean;
  /** The lockspace every hv's virtlockd keeps its leases in (null without locks). */
  lockspaceDir: string | null;
  /** The lease file of a disk in the lockspace: sha256 of the disk's path (libvirt's direct file lockspace). */
  leaseFile(diskPath: string): string;
  /** PID of the hv's virtlockd, or null when it is not running (or the lab has no locks). */
  virtlockdPid(hv: string): Promise<number | null>;
  prefix: string;
  hosts: LabHost[];
  /** Milliseconds `lab.sh up` took. */
  upMs: number;
  host(id: string): LabHost;
  /** Runs virsh against one hv; rejects on non-zero exit. Returns stdout. */
  virsh(hv: string, args: string[], timeoutMs?: number): Promise<string>;
  /** Defines and starts a 128 MiB, 1-vCPU TCG guest on hv; its console goes to consoleLog(name). */
  startGuest(hv: string, name: string, opts?: GuestOptions): Promise<void>;
  /** Defines the same guest as startGuest without starting it (shut off). */
  defineGuest(hv: string, name: string, opts?: GuestOptions): Promise<void>;
  /** A Linux bridge br-<net> in the hv's namespace and a libvirt network <net> (bridge mode) on it. */
  netDefine(hv: string, net: string): Promise<void>;
  /** The guest writes "BALLAST-MARK <word>" to the first sector of its disk (synced). */
  diskWrite(name: string, word: string): Promise<void>;
  /** The guest reads its disk's first sector back, caches dropped: the line it holds. */
  diskRead(name: string): Promise<string>;
  /** The storage pool over the hv's private images directory (created when there is none). */
  imagesPool(hv: string): Promise<string>;
  /** libvirt's `vol-info --bytes` of a file in the hv's private images directory, or null when it is not there. */
  volInfo(hv: string, file: string): Promise<{ capacityBytes: number; allocationBytes: number } | null>;
  destroyGuest(name: string): Promise<void>;
  /** Switches the guest's CPU burner at run time (second serial port, wherever the guest runs). */
  setBurn(name: string, on: boolean): Promise<void>;
  consoleLog(name: string): string;
  /** Tick numbers in console order, across migrations (one shared, append-mode log per guest). */
  ticks(name: string): number[];
  tickLines(name: string): Tick[];
  /** Number of "BOOT" lines: more than one means the guest restarted. */
  boots(name: string): number;
  /** Resolves when the guest has printed at least `count` more ticks than `after` (default: any tick). */
  waitForTicks(name: string, count: number, opts?: { after?: number; timeoutMs?: number }): Promise<number[]>;
  /** hv ids on which virsh lists the guest as running (reachable daemons only). */
  whereIs(name: string): string[];
  whereIsAsync(name: string): Promise<string[]>;
  /** Live p2p migration to `dst` from wherever the guest runs; returns wall time in ms. */
  migrate(name: string, dst: string, extraArgs?: string[]): Promise<number>;
  /** SIGTERM that hv's libvirtd (guests keep running unless destroyGuests). */
  stopLibvirtd(hv: string, opts?: { destroyGuests?: boolean }): Promise<void>;
  startLibvirtd(hv: string): Promise<void>;
  /** "Power loss": SIGKILL the hv's libvirtd and every QEMU in its namespace. */
  killHypervisor(hv: string): Promise<void>;
  /** Cut / restore the hv's link to the lab bridge (libvirtd keeps running). */
  netDown(hv: string): Promise<void>;
  netUp(hv: string): Promise<void>;
  /** Starts an ipmi_sim BMC for each hv given (default all); idempotent. `down` stops them. */
  bmcUp(hvs?: string[]): Promise<void>;
  /** Stops only that hv's BMC (a BMC that does not answer); bmcUp([hv]) restarts it on the same port. */
  bmcStop(hv: string): Promise<void>;
  bmc(hv: string): Promise<BmcInfo>;
  /** The lab's state directory: agent-<hv>.stop|start hooks and bmc-<hv>.noboot flags go here. */
  stateDir: string;
  /** PID of the hv's libvirtd, or null when it is not running. */
  libvirtdPid(hv: string): Promise<number | null>;
  status(): Promise<string>;
  /** `lab.sh status --json`: per hv its netns, libvirtd, virtlockd, domains and BMC. */
  statusJson(): Promise<{
    locks: boolean;
    hosts: {
      id: HvId;
      libvirtd: boolean;
      pid: number | null;
      virtlockd_pid: number | null;
      bmc: { port: number; alive: boolean; pid: number | null } | null;
    }[];
  }>;
  down(): Promise<void>;
}

interface RunResult {
  stdout: string;
  stderr: string;
  ms: number;
}

function run(cmd: string, args: string[], timeoutMs: number, env?: NodeJS.ProcessEnv): Promise<RunResult> {
  const t0 = Date.now();
  return new Promise((resolvePromise, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, killSignal: "SIGKILL", maxBuffer: 16 * 1024 * 1024, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      const ms = Date.now() - t0;
      if (err) {
        const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: number | string };
        const why = e.killed ? `timed out after ${timeoutMs} ms` : `exit ${String(e.code)}`;
        reject(new Error(`${cmd} ${args.join(" ")}: ${why}\n${String(stderr).trim()}\n${String(stdout).trim()}`.trim()));
        return;
      }
      resolvePromise({ stdout: String(stdout), stderr: String(stderr), ms });
    });
  });
}

function which(cmd: string): boolean {
  const dirs = (process.env.PATH ?? "").split(":").concat(["/usr/sbin", "/sbin", "/usr/bin", "/bin"]);
  return dirs.some((d) => d && existsSync(join(d, cmd)));
}

function labEnv(opts: LabOptions = {}): { dir: string; prefix: string; cache: string; env: NodeJS.ProcessEnv } {
  const base = process.env.BALLAST_LAB_DIR ?? join(REPO_ROOT, ".lab");
  const cache = process.env.BALLAST_LAB_CACHE ?? join(base, "cache");
  const dir = opts.name ? join(base, "runs", opts.name) : base;
  const prefix = opts.name ? `bl-${opts.name}` : (process.env.BALLAST_LAB_PREFIX ?? "ballast");
  return { dir, prefix, cache, env: { BALLAST_LAB_DIR: dir, BALLAST_LAB_CACHE: cache, BALLAST_LAB_PREFIX: prefix } };
}

/** Can the real lab run here? Never throws; `why` says what is missing. */
export function labAvailable(opts: LabOptions = {}): { ok: boolean; why?: string } {
  if (process.env.BALLAST_LAB_SKIP === "1") return { ok: false, why: "BALLAST_LAB_SKIP=1" };
  if (process.platform !== "linux") return { ok: false, why: `platform is ${process.platform}, the lab needs Linux` };
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return { ok: false, why: "not root (network and mount namespaces need root)" };
  for (const c of ["ip", "unshare", "libvirtd", "virsh", "qemu-system-x86_64", "timeout", "setsid", "perl", "busybox"]) {
    if (!which(c)) return { ok: false, why: `${c} not found (run deploy/setup.sh --test)` };
  }
  if (!existsSync(LAB_SH)) return { ok: false, why: `${LAB_SH} missing` };
  const r = spawnSync("ip", ["netns", "list"], { timeout: 5000, killSignal: "SIGKILL", encoding: "utf8" });
  if (r.status !== 0) return { ok: false, why: `'ip netns list' failed: ${(r.stderr ?? "").trim() || r.error?.message}` };
  const u = spawnSync("unshare", ["--mount", "--propagation", "private", "--", "true"], { timeout: 5000, killSignal: "SIGKILL", encoding: "utf8" });
  if (u.status !== 0) return { ok: false, why: `cannot create a mount namespace: ${(u.stderr ?? "").trim()}` };
  const { cache } = labEnv(opts);
  for (const f of ["vmlinuz", "initrd.gz"]) {
    if (!existsSync(join(cache, f))) return { ok: false, why: `guest artefact ${join(cache, f)} missing (run deploy/lab/prepare-guest.sh)` };
  }
  return { ok: true };
}

/** Can the lab's BMCs run and be driven here (on top of labAvailable)? */
/**
 * A `virsh` that runs inside a hypervisor's network namespace (an agent's `virsh.binary`), as an
 * agent on a real host would run it: its probes of peers' libvirt (host failure) then cross the
 * lab's migration network, while the agent process itself stays next to nats-server. Returns its path.
 */
export function netnsVirshWrapper(lab: Lab, hv: string): string {
  const file = join(lab.dir, `virsh-${hv}`);
  writeFileSync(file, `#!/bin/sh\nexec ip netns exec '${lab.host(hv).netns}' virsh "$@"\n`, { mode: 0o755 });
  return file;
}

/**
 * Writes the orchestrator's power inventory for the lab's BMCs (`lab.bmcUp()` first): one ipmi
 * entry per hypervisor, the password in its 0600 file. Returns the inventory's path.
 */
export async function writeLabPowerInventory(lab: Lab, o: { timeoutSec: number }): Promise<string> {
  const hosts: Record<string, unknown> = {};
  for (const h of lab.hosts) {
    const b = await lab.bmc(h.id);
    hosts[h.id] = { driver: "ipmi", address: b.address, port: b.port, username: b.user, password_file: b.passwordFile, timeout: o.timeoutSec };
  }
  const file = join(lab.dir, "power-inventory.yaml");
  writeFileSync(file, stringify({ hosts }), { mode: 0o600 });
  return file;
}

export function bmcAvailable(): { ok: boolean; why?: string } {
  for (const c of ["ipmi_sim", "ipmitool", "ss"]) {
    if (!which(c)) return { ok: false, why: `${c} not found (deploy/setup.sh --test installs openipmi and ipmitool)` };
  }
  return { ok: true };
}

function parseTicks(text: string): Tick[] {
  const out: Tick[] = [];
  const re = /TICK (\d+) (\d+(?:\.\d+)?) burn=(\d)/g;
  for (const m of text.matchAll(re)) out.push({ n: Number(m[1]), uptime: Number(m[2]), burn: m[3] === "1" });
  return out;
}

interface LabJson {
  dir: string;
  prefix: string;
  locks?: boolean;
  lockspace?: string | null;
  hosts: { id: HvId; ip: string; uri: string; socket: string; tcp_uri: string; netns: string }[];
}

/** Brings the lab up (idempotent: an up, healthy lab is reused). */
export async function labUp(opts: LabOptions = {}): Promise<Lab> {
  const { dir, prefix, env } = labEnv(opts);
  const sh = (args: string[], timeoutMs = 60_000) => run("bash", [LAB_SH, ...args], timeoutMs, env);
  const locks = opts.locks ?? process.env.BALLAST_LAB_LOCKS === "1";
  // The env var must not turn locks on behind an explicit `locks: false`.
  const up = await run("bash", [LAB_SH, "up", ...(locks ? ["--locks"] : [])], opts.timeoutMs ?? 150_000, { ...env, BALLAST_LAB_LOCKS: "0" });
  const info = JSON.parse(readFileSync(join(dir, "lab.json"), "utf8")) as LabJson;
  const hosts: LabHost[] = info.hosts.map((h) => ({ id: h.id, ip: h.ip, uri: h.uri, socket: h.socket, tcpUri: h.tcp_uri, netns: h.netns }));
  const host = (id: string): LabHost => {
    const h = hosts.find((x) => x.id === id);
    if (!h) throw new Error(`unknown hypervisor ${id} (${hosts.map((x) => x.id).join(", ")})`);
    return h;
  };
  const virsh = async (hv: string, args: string[], timeoutMs = 30_000): Promise<string> => {
    const secs = Math.max(1, Math.ceil(timeoutMs / 1000));
    const r = await run("timeout", ["-s", "KILL", String(secs), "virsh", "-q", "-c", host(hv).uri, ...args], timeoutMs + 2000);
    return r.stdout;
  };
  const runningOnSync = (hv: string, name: string): boolean => {
    const r = spawnSync("timeout", ["-s", "KILL", "10", "virsh", "-q", "-c", host(hv).uri, "list", "--name"], {
      timeout: 12_000,
      killSignal: "SIGKILL",
      encoding: "utf8",
    });
    if (r.status !== 0) return false;
    return r.stdout
      .split("\n")
      .map((s) => s.trim())
      .includes(name);
  };
  const consoleLog = (name: string) => join(dir, "consoles", `${name}.log`);
  const readConsole = (name: string) => (existsSync(consoleLog(name)) ? readFileSync(consoleLog(name), "latin1") : "");
  const tickLines = (name: string) => parseTicks(readConsole(name));
  const whereIsAsync = async (name: string): Promise<string[]> => {
    const res = await Promise.all(
      hosts.map(async (h) => {
        try {
          const out = await virsh(h.id, ["list", "--name"], 10_000);
          return out
            .split("\n")
            .map((s) => s.trim())
            .includes(name)
            ? h.id
            : null;
        } catch {
          return null;
        }
      }),
    );
    return res.filter((x): x is HvId => x !== null);
  };

  const lab: Lab = {
    dir,
    sharedDir: join(dir, "shared"),
    locks: info.locks === true,
    lockspaceDir: info.lockspace ?? null,
    leaseFile(diskPath) {
      if (!info.lockspace) throw new Error("leaseFile: the lab runs without locks (labUp({ locks: true }))");
      return join(info.lockspace, createHash("sha256").update(diskPath).digest("hex"));
    },
    async virtlockdPid(hv) {
      host(hv);
      try {
        return Number((await sh(["lockd-pid", hv], 10_000)).stdout.trim());
      } catch {
        return null;
      }
    },
    prefix,
    hosts,
    upMs: up.ms,
    host,
    virsh,
    async startGuest(hv, name, o = {}) {
      host(hv);
      await sh(["start-guest", hv, name, ...guestOptions(o)]);
    },
    async defineGuest(hv, name, o = {}) {
      host(hv);
      await sh(["define-guest", hv, name, ...guestOptions(o)]);
    },
    async netDefine(hv, net) {
      host(hv);
      await sh(["net-define", hv, net]);
    },
    async diskWrite(name, word) {
      await sh(["disk-write", name, word]);
    },
    async diskRead(name) {
      return (await sh(["disk-read", name])).stdout.trim();
    },
    async imagesPool(hv) {
      host(hv);
      return (await sh(["images-pool", hv])).stdout.trim();
    },
    async volInfo(hv, file) {
      host(hv);
      let out: string;
      try {
        out = (await sh(["vol-path", hv, file])).stdout;
      } catch {
        return null;
      }
      const num = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) bytes`, "m").exec(out)?.[1] ?? NaN);
      const capacityBytes = num("Capacity");
      const allocationBytes = num("Allocation");
      return Number.isFinite(capacityBytes) && Number.isFinite(allocationBytes) ? { capacityBytes, allocationBytes } : null;
    },
    async destroyGuest(name) {
      await sh(["destroy-guest", name]);
    },
    async setBurn(name, on) {
      const where = await whereIsAsync(name);
      if (where.length !== 1) throw new Error(`setBurn(${name}): guest runs on [${where.join(", ")}], expected exactly one hv`);
      const sock = join(dir, "hv", where[0]!, "run", "ballast-lab", `${name}.ctl`);
      await new Promise<void>((resolvePromise, reject) => {
        const s = connect(sock);
        const t = setTimeout(() => {
          s.destroy();
          reject(new Error(`setBurn(${name}): ${sock} timed out`));
        }, 5000);
        s.once("error", (e) => {
          clearTimeout(t);
          reject(e);
        });
        s.once("connect", () => {
          s.write(`burn ${on ? "on" : "off"}\n`, () => {
            // leave QEMU time to read the bytes into the UART before hanging up
            setTimeout(() => {
              clearTimeout(t);
              s.end();
              resolvePromise();
            }, 300);
          });
        });
      });
    },
    consoleLog,
    ticks: (name) => tickLines(name).map((t) => t.n),
    tickLines,
    boots: (name) => (readConsole(name).match(/^BOOT /gm) ?? []).length,
    async waitForTicks(name, count, o = {}) {
      const after = o.after ?? tickLines(name).at(-1)?.n ?? 0;
      const deadline = Date.now() + (o.timeoutMs ?? 30_000);
      for (;;) {
        const ns = tickLines(name).map((t) => t.n);
        if (ns.filter((n) => n > after).length >= count) return ns;
        if (Date.now() > deadline) throw new Error(`${name}: fewer than ${count} ticks after ${after} (last: ${ns.slice(-5).join(",")})`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    whereIs: (name) => hosts.filter((h) => runningOnSync(h.id, name)).map((h) => h.id),
    whereIsAsync,
    async migrate(name, dst, extraArgs = []) {
      const where = await whereIsAsync(name);
      if (where.length !== 1) throw new Error(`migrate(${name}): guest runs on [${where.join(", ")}]`);
      const d = host(dst);
      const t0 = Date.now();
      await virsh(
        where[0]!,
        ["migrate", "--live", "--p2p", "--persistent", "--undefinesource", "--migrateuri", `tcp://${d.ip}`, ...extraArgs, name, d.tcpUri],
        120_000,
      );
      return Date.now() - t0;
    },
    async stopLibvirtd(hv, o = {}) {
      host(hv);
      await sh(o.destroyGuests ? ["stop-hv", hv, "--destroy-guests"] : ["stop-hv", hv]);
    },
    async startLibvirtd(hv) {
      host(hv);
      await sh(["start-hv", hv], 90_000);
    },
    async killHypervisor(hv) {
      host(hv);
      await sh(["kill-hv", hv]);
    },
    async netDown(hv) {
      await sh(["net-down", hv]);
    },
    async netUp(hv) {
      await sh(["net-up", hv]);
    },
    async bmcUp(hvs = []) {
      for (const hv of hvs) host(hv);
      await sh(["bmc-up", ...hvs]);
    },
    async bmcStop(hv) {
      host(hv);
      await sh(["bmc-stop", hv]);
    },
    async bmc(hv) {
      host(hv);
      const j = JSON.parse((await sh(["bmc", hv])).stdout) as {
        id: HvId;
        address: string;
        port: number;
        user: string;
        password_file: string;
        alive: boolean;
        pid: number | null;
      };
      return { id: j.id, address: j.address, port: j.port, user: j.user, passwordFile: j.password_file, alive: j.alive, pid: j.pid };
    },
    stateDir: join(dir, "state"),
    async libvirtdPid(hv) {
      host(hv);
      try {
        return Number((await sh(["hv-pid", hv], 10_000)).stdout.trim());
      } catch {
        return null;
      }
    },
    async status() {
      return (await sh(["status"])).stdout;
    },
    async statusJson() {
      return JSON.parse((await sh(["status", "--json"])).stdout) as Awaited<ReturnType<Lab["statusJson"]>>;
    },
    async down() {
      await labDown(opts);
    },
  };
  return lab;
}

/** labUp for a test's set-up: whatever a failed start left behind is taken down before the error is thrown. */
export async function labUpOrDown(opts: LabOptions = {}): Promise<Lab> {
  try {
    return await labUp(opts);
  } catch (e) {
    await labDown(opts).catch(() => {});
    throw e;
  }
}

/** Tears the lab down (domains, daemons, namespaces). Safe to call when nothing is up. Returns ms. */
export async function labDown(opts: LabOptions = {}): Promise<number> {
  const { env } = labEnv(opts);
  const r = await run("bash", [LAB_SH, "down"], 90_000, env);
  return r.ms;
}
