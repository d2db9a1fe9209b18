import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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

/** Starts sshd -D on 127.0.0.1 with everything in `dir`; authorizes `authorizedKeys`. */
export async function startSshd(dir: string, authorizedKeys: string[]): Promise<SshdHandle> {
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
  const child: ChildProcess = spawn(SSHD, ["-D", "-e", "-f", conf], { stdio: ["ignore", "ignore", "pipe"] });
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
