import { spawn, type ChildProcess } from "node:child_process";
import { createSocket } from "node:dgram";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

// A real IPMI BMC on 127.0.0.1: Debian's ipmi_sim (package openipmi) with the recipe measured in
// the power-lab notes, one free UDP port, its own state directory, and a chassis_control script
// that keeps the power state in a file (1 = on). Started as a child, stopped by its PID.

export const IPMI_SIM = "/usr/bin/ipmi_sim";

export interface IpmiSimHandle {
  port: number;
  pid: number;
  /** File holding the chassis power state: "1" or "0". */
  powerFile: string;
  /** Every chassis_control call, one per line ("get power", "set power 1", "set shutdown 1"). */
  calls(): string[];
  stop(): Promise<void>;
}

/** A UDP port nothing is bound to on 127.0.0.1 right now. */
export async function freeUdpPort(): Promise<number> {
  const s = createSocket("udp4");
  await new Promise<void>((resolve, reject) => {
    s.once("error", reject);
    s.bind(0, "127.0.0.1", () => resolve());
  });
  const { port } = s.address();
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** Whether a UDP socket is bound to 127.0.0.1:port (or the wildcard address), from /proc/net/udp. */
function udpBound(port: number): boolean {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  return readFileSync("/proc/net/udp", "utf8")
    .split("\n")
    .slice(1)
    .some((l) => {
      const local = l.trim().split(/\s+/)[1] ?? "";
      return (local.startsWith("0100007F") || local.startsWith("00000000")) && local.endsWith(hex);
    });
}

export async function startIpmiSim(dir: string, user: { name: string; password: string }, initialPower: 0 | 1 = 0): Promise<IpmiSimHandle> {
  mkdirSync(join(dir, "state"), { recursive: true });
  const powerFile = join(dir, "power");
  const callsFile = join(dir, "chassis-calls.log");
  writeFileSync(powerFile, `${initialPower}\n`);
  const script = join(dir, "chassis-control");
  // ipmi_sim runs `PROG get power`, `PROG set power 0|1`, and `PROG set shutdown 1` for
  // `chassis power soft` (the ACPI soft-off request; here the "OS" shuts down at once).
  writeFileSync(
    script,
    `#!/bin/sh
echo "$*" >> '${callsFile}'
case "$1 $2" in
  "get power") echo "power:$(cat '${powerFile}')" ;;
  "set power") echo "$3" > '${powerFile}' ;;
  "set shutdown") echo 0 > '${powerFile}' ;;
  *) exit 1 ;;
esac
`,
    { mode: 0o755 },
  );
  writeFileSync(
    join(dir, "emu.cmd"),
    ["mc_setbmc 0x20", "mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr", "sel_enable 0x20 1000 0x0a", "mc_enable 0x20", ""].join("\n"),
  );
  const port = await freeUdpPort();
  writeFileSync(
    join(dir, "lan.conf"),
    [
      'name "test-bmc"',
      "set_working_mc 0x20",
      "  startlan 1",
      `    addr 127.0.0.1 ${port}`,
      "    priv_limit admin",
      ...["callback", "user", "operator", "admin"].map((p) => `    allowed_auths_${p} none md2 md5 straight`),
      "    guid a123456789abcdefa123456789abcdef",
      "  endlan",
      `  chassis_control "${script}"`,
      `  user 2 true "${user.name}" "${user.password}" admin 10 none md2 md5 straight`,
      "",
    ].join("\n"),
  );
  const child: ChildProcess = spawn(IPMI_SIM, ["-c", join(dir, "lan.conf"), "-f", join(dir, "emu.cmd"), "-s", join(dir, "state"), "-n"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const keep = (d: Buffer) => {
    output = (output + d.toString("utf8")).slice(-8000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  let exited = false;
  child.once("exit", () => {
    exited = true;
  });
  const deadline = Date.now() + 10_000;
  while (!udpBound(port)) {
    if (exited || Date.now() > deadline) {
      if (!exited && child.pid !== undefined) process.kill(child.pid, "SIGKILL");
      throw new Error(`ipmi_sim did not bind 127.0.0.1:${port}${exited ? " (it exited)" : " within 10 s"}: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    port,
    pid: child.pid!,
    powerFile,
    calls: () => (existsSync(callsFile) ? readFileSync(callsFile, "utf8").split("\n").filter(Boolean) : []),
    async stop() {
      if (exited || child.pid === undefined) return;
      const gone = new Promise<void>((r) => child.once("exit", () => r()));
      process.kill(child.pid, "SIGTERM");
      const t = setTimeout(() => {
        if (!exited && child.pid !== undefined) process.kill(child.pid, "SIGKILL");
      }, 3000);
      await gone;
      clearTimeout(t);
    },
  };
}
