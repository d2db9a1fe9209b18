import { spawn, spawnSync, execFileSync, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitForPort } from "../../support/nats-server.js";

// A private OpenSSH server for the installer's integration test: its own host key, its own
// authorized_keys, its own port on 127.0.0.1, started as a child and stopped by its PID.
// Needs the Debian package openssh-server (/usr/sbin/sshd) and ssh-keygen (openssh-client).

export const SSHD = "/usr/sbin/sshd";

export function sshdAvailable(): boolean {
  return existsSync(SSHD) && commandExists("ssh-keygen");
}

function commandExists(c: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${c}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

export function keygen(path: string): { privateKey: string; publicKey: string } {
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "ballast-test", "-f", path], { stdio: "ignore" });
  return { privateKey: path, publicKey: readFileSync(`${path}.pub`, "utf8").trim() };
}

export interface SshdHandle {
  port: number;
  pid: number;
  hostPublicKey: string;
  /** known_hosts line for this server. */
  knownHostsLine: string;
  stderr(): string;
  stop(): Promise<void>;
}

// A host without Node.js, as a Debian 12 hypervisor with only Debian's packages is (Debian's
// nodejs is 18.x, and a careful operator does not install it for Ballast): sshd runs in a mount
// namespace of its own in which an overlay hides every `node` (and npm, npx, corepack) of the
// standard PATH directories. Everything sshd starts, the installer's commands and the agent the
// systemctl stand-in starts, lives in that namespace; the rest of the machine is unchanged.
const NODE_NAMES = ["node", "nodejs", "npm", "npx", "corepack"];
const STANDARD_PATH = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/** The standard PATH directories (after symlinks, so /bin and /usr/bin once) and the Node names each holds. */
function nodeDirs(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const d of STANDARD_PATH) {
    let real: string;
    let names: string[];
    try {
      real = realpathSync(d);
      names = readdirSync(real).filter((n) => NODE_NAMES.includes(n));
    } catch {
      continue;
    }
    if (names.length > 0) out.set(real, names);
  }
  return out;
}

/** sh script: mounts the hiding overlays (over a tmpfs at $1), then execs the rest of its arguments. */
function withoutNodeScript(): string {
  const lines = ["set -eu", 'top="$1"; shift', 'mount -t tmpfs ballast-no-node "$top"'];
  let i = 0;
  for (const [dir, names] of nodeDirs()) {
    const u = `"$top/u${i}"`;
    const w = `"$top/w${i}"`;
    lines.push(`mkdir ${u} ${w}`);
    // A 0/0 character device in the upper layer is overlayfs's whiteout: the name does not exist.
    for (const n of names) lines.push(`mknod ${u}/${n} c 0 0`);
    lines.push(`mount -t overlay ballast-no-node -o lowerdir=${dir},upperdir=${u},workdir=${w} ${dir}`);
    i++;
  }
  lines.push('exec "$@"');
  return lines.join("\n");
}

/** The command line that runs `argv` in a new mount namespace where no `node` exists. */
function withoutNodeArgv(scratch: string, argv: string[]): string[] {
  return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", withoutNodeScript(), "sh", scratch, ...argv];
}

/** Why this machine cannot run a program without Node (needs root, unshare, overlayfs); undefined when it can. */
export function withoutNodeUnavailable(): string | undefined {
  const scratch = mkdtempSync(join(tmpdir(), "ballast-no-node-"));
  try {
    const argv = withoutNodeArgv(scratch, ["sh", "-c", "! command -v node && ! test -e /usr/bin/node"]);
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", timeout: 30_000 });
    return r.status === 0 ? undefined : `a mount namespace without node failed (exit ${r.status}): ${(r.stderr || r.error?.message || "").trim()}`;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

export interface SshdOptions {
  /** Start sshd (and so everything run through it) where Node.js is not installed. */
  withoutNode?: boolean;
}

/** Starts sshd -D on 127.0.0.1 with everything in `dir`; authorizes `authorizedKeys`. */
export async function startSshd(dir: string, authorizedKeys: string[], opts: SshdOptions = {}): Promise<SshdHandle> {
  mkdirSync(dir, { recursive: true });
  const hostKey = keygen(join(dir, "ssh_host_ed25519_key"));
  const auth = join(dir, "authorized_keys");
  writeFileSync(auth, authorizedKeys.join("\n") + "\n", { mode: 0o600 });
  const port = await freePort();
  const conf = join(dir, "sshd_config");
  writeFileSync(
    conf,
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${hostKey.privateKey}`,
      `PidFile ${join(dir, "sshd.pid")}`,
      `AuthorizedKeysFile ${auth}`,
      "UsePAM no",
      "StrictModes no",
      "PubkeyAuthentication yes",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PermitRootLogin prohibit-password",
      "Subsystem sftp internal-sftp",
      "MaxStartups 50",
      "LogLevel ERROR",
      "",
    ].join("\n"),
  );
  chmodSync(hostKey.privateKey, 0o600);
  // sshd refuses to start without its privilege separation directory.
  const madeRunSshd = !existsSync("/run/sshd");
  if (madeRunSshd) mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  // unshare and sh exec into sshd (no fork): the child's PID is sshd's, which stop() signals.
  const sshdArgv = [SSHD, "-D", "-e", "-f", conf];
  const argv = opts.withoutNode ? withoutNodeArgv(join(dir, "no-node"), sshdArgv) : sshdArgv;
  if (opts.withoutNode) mkdirSync(join(dir, "no-node"), { recursive: true });
  const child: ChildProcess = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (d) => {
    stderr = (stderr + String(d)).slice(-8000);
  });
  let exited = false;
  child.once("exit", () => {
    exited = true;
  });
  try {
    await waitForPort(port, 10_000, () => exited);
  } catch (e) {
    if (child.pid && !exited) process.kill(child.pid, "SIGKILL");
    throw new Error(`${(e as Error).message}: ${stderr}`, { cause: e });
  }
  const [type, key] = hostKey.publicKey.split(" ");
  return {
    port,
    pid: child.pid!,
    hostPublicKey: hostKey.publicKey,
    knownHostsLine: `[127.0.0.1]:${port} ${type} ${key}`,
    stderr: () => stderr,
    async stop() {
      if (!exited && child.pid !== undefined) {
        const done = new Promise<void>((r) => child.once("exit", () => r()));
        process.kill(child.pid, "SIGTERM");
        const t = setTimeout(() => {
          if (!exited && child.pid) process.kill(child.pid, "SIGKILL");
        }, 3000);
        await done;
        clearTimeout(t);
      }
      if (madeRunSshd) rmSync("/run/sshd", { recursive: true, force: true });
    },
  };
}

/**
 * A stand-in for systemctl (no systemd in the test container) that really runs the unit's
 * ExecStart in the background and records its PID, so the installer's restarts and the NATS
 * check deal with a real agent process. Supports the verbs the installer uses.
 */
export function writeSystemctlStandIn(path: string, unitDir: string, stateDir: string): void {
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(
    path,
    `#!/bin/sh
# Test stand-in for systemctl: ${unitDir}, state in ${stateDir}.
UNIT_DIR='${unitDir}'
STATE='${stateDir}'
verb="$1"; unit="$2"
echo "$verb $unit" >> "$STATE/calls.log"
pidf="$STATE/$unit.pid"; enf="$STATE/$unit.enabled"
running() { [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; }
start() {
  cmd=$(sed -n 's/^ExecStart=//p' "$UNIT_DIR/$unit" | head -n 1)
  [ -n "$cmd" ] || { echo "no ExecStart in $UNIT_DIR/$unit" >&2; exit 1; }
  setsid sh -c "exec $cmd" </dev/null >>"$STATE/$unit.log" 2>&1 &
  echo $! > "$pidf"
}
stop() {
  if running; then
    pid=$(cat "$pidf"); kill "$pid"
    for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
  fi
  rm -f "$pidf"
}
case "$verb" in
  daemon-reload) ;;
  enable) touch "$enf" ;;
  disable) rm -f "$enf" ;;
  is-enabled) if [ -f "$enf" ]; then echo enabled; else echo disabled; exit 1; fi ;;
  is-active) if running; then echo active; else echo inactive; exit 3; fi ;;
  start) running || start ;;
  stop) stop ;;
  restart) stop; start ;;
  *) echo "systemctl stand-in: unsupported verb $verb" >&2; exit 1 ;;
esac
`,
    { mode: 0o755 },
  );
}

/** PID recorded by the stand-in, if that process is alive. */
export function standInPid(stateDir: string, unit = "ballast-agent.service"): number | undefined {
  const f = join(stateDir, `${unit}.pid`);
  if (!existsSync(f)) return undefined;
  const pid = Number(readFileSync(f, "utf8").trim());
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

/** Stops what the stand-in started (by its recorded PID). */
export function stopStandIn(stateDir: string, unit = "ballast-agent.service"): void {
  const pid = standInPid(stateDir, unit);
  if (pid !== undefined) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  rmSync(join(stateDir, `${unit}.pid`), { force: true });
}
