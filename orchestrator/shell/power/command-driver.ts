import type { PowerInterface } from "../../../shared/config/power-inventory.js";
import { describeError } from "../../../shared/errors.js";
import { abortWords, startDeadline } from "./deadline.js";
import { PowerDriverError, type OffMode, type PowerAnswer, type PowerDriver, type PowerFailure, type PowerStatus } from "./power-driver.js";
import { runChild, tail, type ChildOutcome } from "./run-child.js";

type CommandPower = Extract<PowerInterface, { driver: "command" }>;

// An operator's own commands (a PDU's CLI, a cloud API, a script), run as argument arrays without
// a shell, in the orchestrator's environment plus BALLAST_HOST (the host's id),
// BALLAST_POWER_OPERATION (status, on or off) and, for off, BALLAST_OFF_MODE (soft or hard), so
// that one script can serve every host and operation. Exit status 0 means accepted; the status
// command must also print `on` or `off` as a word on its first line.

type Operation = "status" | "on" | "off";

export class CommandDriver implements PowerDriver {
  readonly kind = "command" as const;

  constructor(
    readonly host: string,
    private readonly cfg: CommandPower,
  ) {}

  async status(signal?: AbortSignal): Promise<PowerStatus> {
    const stdout = await this.run("status", this.cfg.status, {}, signal);
    const firstLine = stdout.split(/\r?\n/, 1)[0]?.trim() ?? "";
    const state = parsePowerWord(firstLine);
    if (state === undefined)
      throw this.error("status", "protocol", `${this.cfg.status[0]} printed no "on" or "off" on its first line: ${JSON.stringify(firstLine.slice(0, 200))}`);
    return { state, detail: firstLine.slice(0, 500) };
  }

  async on(signal?: AbortSignal): Promise<PowerAnswer> {
    return { detail: acceptedDetail(await this.run("on", this.cfg.on, {}, signal)) };
  }

  async off(mode: OffMode, signal?: AbortSignal): Promise<PowerAnswer> {
    return { detail: acceptedDetail(await this.run("off", this.cfg.off, { BALLAST_OFF_MODE: mode }, signal)) };
  }

  private async run(operation: Operation, argv: readonly string[], extra: Record<string, string>, signal?: AbortSignal): Promise<string> {
    const deadline = startDeadline(this.cfg.timeout, signal);
    let r: ChildOutcome;
    try {
      r = await runChild(argv, {
        env: { ...process.env, BALLAST_HOST: this.host, BALLAST_POWER_OPERATION: operation, ...extra },
        signal: deadline.signal,
      });
    } finally {
      deadline.dispose();
    }
    const name = argv[0]!;
    if (r.kind === "spawn-failed") throw this.error(operation, "config", `cannot run ${name}: ${describeError(r.error)}`, r.error);
    if (r.kind === "aborted") throw this.error(operation, "timeout", `${name}: ${abortWords(deadline, this.cfg.timeout)} (killed)`);
    if (r.code !== 0) {
      const how = r.code === null ? `was killed by ${r.signal}` : `exited with status ${r.code}`;
      const said = tail(r.stderr) || tail(r.stdout);
      throw this.error(operation, operation === "status" ? "protocol" : "refused", `${name} ${how}${said ? `: ${said}` : ""}`);
    }
    return r.stdout;
  }

  private error(operation: Operation, failure: PowerFailure, message: string, cause?: unknown): PowerDriverError {
    return new PowerDriverError(this.host, operation, failure, message, cause === undefined ? undefined : { cause });
  }
}

/** The first word "on" or "off" (any case) in the line; undefined when there is none. */
export function parsePowerWord(line: string): "on" | "off" | undefined {
  const m = /\b(on|off)\b/i.exec(line);
  return m ? (m[1]!.toLowerCase() as "on" | "off") : undefined;
}

function acceptedDetail(stdout: string): string {
  return (tail(stdout, 1) || "exit status 0").slice(0, 500);
}
