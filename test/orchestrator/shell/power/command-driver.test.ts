import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CommandPower } from "../../../../shared/config/power-inventory.js";
import { CommandDriver, parsePowerWord } from "../../../../orchestrator/shell/power/command-driver.js";
import { PowerDriverError } from "../../../../orchestrator/shell/power/power-driver.js";

// The command driver with small real scripts: a "PDU" that keeps each outlet's state in a file.

async function rejection(p: Promise<unknown>): Promise<PowerDriverError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e, "the call should have failed").toBeInstanceOf(PowerDriverError);
  return e as PowerDriverError;
}

/** Gone, or a zombie waiting for init to reap it (killed, not running). */
function stopped(pid: number): boolean {
  try {
    return /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return true;
  }
}

describe("CommandDriver", () => {
  let dir: string;
  let pdu: string;
  const state = (host: string) => join(dir, `${host}.state`);

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "ballast-power-cmd-"));
    pdu = join(dir, "pdu");
    // pdu STATE_DIR VERB [ARG...]: its arguments and environment are logged for the test.
    writeFileSync(
      pdu,
      `#!/bin/sh
d="$1"; verb="$2"; shift 2
printf '%s\\n' "$@" > "$d/args.log"
echo "host=$BALLAST_HOST op=$BALLAST_POWER_OPERATION mode=$BALLAST_OFF_MODE" > "$d/env.log"
case "$verb" in
  status) echo "Outlet of $BALLAST_HOST is $(cat "$d/$BALLAST_HOST.state" 2>/dev/null || echo off) (load 0.0 A)"; echo "on on on" ;;
  on) echo on > "$d/$BALLAST_HOST.state"; echo "outlet switched on" ;;
  off) echo off > "$d/$BALLAST_HOST.state"; echo "outlet switched off ($BALLAST_OFF_MODE)" ;;
  fail) echo "PDU busy" >&2; exit 4 ;;
  hang) sleep 30 & echo $! > "$d/child.pid"; wait ;;
  garbage) echo "power unknown"; echo "on" ;;
esac
`,
      { mode: 0o755 },
    );
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const driver = (over: Partial<Record<"status" | "on" | "off", string[]>> & { timeout?: number } = {}, host = "hv-c") =>
    new CommandDriver(host, CommandPower.parse({ driver: "command", status: [pdu, dir, "status"], on: [pdu, dir, "on"], off: [pdu, dir, "off"], ...over }));

  it("switches and reads through the operator's commands, with BALLAST_HOST set", async () => {
    const d = driver();
    expect(await d.status()).toEqual({ state: "off", detail: "Outlet of hv-c is off (load 0.0 A)" });
    expect(await d.on()).toEqual({ detail: "outlet switched on" });
    expect(readFileSync(state("hv-c"), "utf8").trim()).toBe("on");
    expect((await d.status()).state).toBe("on");
    expect(await d.off("soft")).toEqual({ detail: "outlet switched off (soft)" });
    expect(readFileSync(join(dir, "env.log"), "utf8").trim()).toBe("host=hv-c op=off mode=soft");
    await d.off("hard");
    expect(readFileSync(join(dir, "env.log"), "utf8").trim()).toBe("host=hv-c op=off mode=hard");
    expect((await d.status()).state).toBe("off");
    // Another host, the same commands.
    await driver({}, "hv-d").on();
    expect(readFileSync(state("hv-d"), "utf8").trim()).toBe("on");
  });

  it("passes arguments as they are: no shell", async () => {
    const tricky = ["$(touch pwned)", "a b", "'; rm -rf /;'", "*"];
    await driver({ on: [pdu, dir, "on", ...tricky] }).on();
    expect(readFileSync(join(dir, "args.log"), "utf8").split("\n").slice(0, -1)).toEqual(tricky);
    expect(existsSync("pwned")).toBe(false);
  });

  it("a command that fails is refused with its exit status and stderr", async () => {
    const e = await rejection(driver({ off: [pdu, dir, "fail"] }).off("soft"));
    expect(e.failure).toBe("refused");
    expect(e.message).toBe(`hv-c: power off: ${pdu} exited with status 4: PDU busy`);
  });

  it("a status without on/off on its first line is a protocol error", async () => {
    const e = await rejection(driver({ status: [pdu, dir, "garbage"] }).status());
    expect(e.failure).toBe("protocol");
    expect(e.message).toContain('"power unknown"');
  });

  it("a command that hangs is killed with everything it started, at the timeout", async () => {
    rmSync(join(dir, "child.pid"), { force: true });
    const t0 = Date.now();
    const e = await rejection(driver({ on: [pdu, dir, "hang"], timeout: 0.5 }).on());
    expect(Date.now() - t0).toBeLessThan(2500);
    expect(e.failure).toBe("timeout");
    expect(e.message).toContain("no answer within the timeout of 0.5 s (killed)");
    const child = Number(readFileSync(join(dir, "child.pid"), "utf8"));
    expect(stopped(child), `sleep (PID ${child}) outlived its call`).toBe(true);
  });

  it("a command that does not exist is a config error", async () => {
    const e = await rejection(driver({ status: [join(dir, "no-such-command")] }).status());
    expect(e.failure).toBe("config");
    expect(e.message).toContain("ENOENT");
  });

  it.each([
    ["on", "on"],
    ["Power: OFF", "off"],
    ["online", undefined],
    ["the outlet is off, was on", "off"],
    ["", undefined],
  ])("reads %j as %s", (line, want) => {
    expect(parsePowerWord(line)).toBe(want);
  });
});
