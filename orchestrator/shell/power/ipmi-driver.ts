import type { PowerInterface } from "../../../shared/config/power-inventory.js";
import { describeError } from "../../../shared/errors.js";
import { abortWords, startDeadline } from "./deadline.js";
import { PowerDriverError, type OffMode, type PowerAnswer, type PowerDriver, type PowerFailure, type PowerStatus } from "./power-driver.js";
import { runChild, tail } from "./run-child.js";
import { checkSecretFile } from "./secret-file.js";

type IpmiPower = Extract<PowerInterface, { driver: "ipmi" }>;

// IPMI over LAN through the standard client, ipmitool, run as a child with an argument array.
// The password reaches ipmitool only as a file name (-f): never on its command line (ps shows
// that) nor in its environment. Every call opens its own RMCP+ session at operator privilege
// (-L OPERATOR: all that chassis power needs), with -v so that ipmitool names the step that
// failed (a wrong password and a silent BMC otherwise end in the same last line). ipmitool's
// own retries are left at its defaults; the driver's timeout kills it.

type IpmiCommand = "status" | "on" | "soft" | "off";

export interface IpmiDriverOptions {
  /** The ipmitool program (name looked up in PATH, or a path); "ipmitool" by default. */
  ipmitool?: string;
}

export class IpmiDriver implements PowerDriver {
  readonly kind = "ipmi" as const;
  private readonly program: string;

  constructor(
    readonly host: string,
    private readonly cfg: IpmiPower,
    opts: IpmiDriverOptions = {},
  ) {
    this.program = opts.ipmitool ?? "ipmitool";
  }

  /** The full command line of one call (no secret in it). */
  argv(command: IpmiCommand): string[] {
    const c = this.cfg;
    const session = ["-I", c.interface, ...(c.interface === "lanplus" ? ["-C", String(c.cipher_suite)] : []), "-L", "OPERATOR"];
    return [this.program, "-v", ...session, "-H", c.address, "-p", String(c.port), "-U", c.username, "-f", c.password_file, "chassis", "power", command];
  }

  async status(signal?: AbortSignal): Promise<PowerStatus> {
    const out = await this.run("status", "status", signal);
    const state = parseChassisPower(out);
    if (state === undefined) throw this.error("status", "protocol", `ipmitool answered without a power state: ${JSON.stringify(tail(out) || "(no output)")}`);
    return { state, detail: `Chassis Power is ${state}` };
  }

  async on(signal?: AbortSignal): Promise<PowerAnswer> {
    return { detail: controlDetail(await this.run("on", "on", signal)) };
  }

  /** soft: `chassis power soft` (ACPI power button, the OS shuts down cleanly); hard: `chassis power off` (cuts power). */
  async off(mode: OffMode, signal?: AbortSignal): Promise<PowerAnswer> {
    return { detail: controlDetail(await this.run("off", mode === "soft" ? "soft" : "off", signal)) };
  }

  private async run(operation: "status" | "on" | "off", command: IpmiCommand, signal?: AbortSignal): Promise<string> {
    try {
      checkSecretFile(this.cfg.password_file, "password_file");
    } catch (e) {
      throw this.error(operation, "config", describeError(e), e);
    }
    const argv = this.argv(command);
    const deadline = startDeadline(this.cfg.timeout, signal);
    try {
      // A fixed, small environment: English output to parse, and nothing (IPMI_PASSWORD) inherited.
      const r = await runChild(argv, { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C" }, signal: deadline.signal });
      if (r.kind === "spawn-failed") throw this.error(operation, "config", `cannot run ${this.program}: ${describeError(r.error)} (install ipmitool)`, r.error);
      if (r.kind === "aborted")
        throw this.error(
          operation,
          "timeout",
          `ipmitool ${command}: ${abortWords(deadline, this.cfg.timeout)} from the BMC at ${this.where()}`,
          deadline.signal.reason,
        );
      if (r.code !== 0) {
        const { failure, words } = classifyIpmitoolFailure(r.stderr, r.stdout);
        throw this.error(operation, failure, `ipmitool chassis power ${command} (BMC ${this.where()}, user ${this.cfg.username}): ${words}`);
      }
      return r.stdout;
    } finally {
      deadline.dispose();
    }
  }

  private where(): string {
    return `${this.cfg.address}:${this.cfg.port}`;
  }

  private error(operation: "status" | "on" | "off", failure: PowerFailure, message: string, cause?: unknown): PowerDriverError {
    return new PowerDriverError(this.host, operation, failure, message, cause === undefined ? undefined : { cause });
  }
}

/** "Chassis Power is on|off" → the state; undefined when the output holds no such line. */
export function parseChassisPower(stdout: string): "on" | "off" | undefined {
  const m = /Chassis Power is (on|off)\b/i.exec(stdout);
  return m ? (m[1]!.toLowerCase() as "on" | "off") : undefined;
}

function controlDetail(stdout: string): string {
  const m = /Chassis Power Control: .*/.exec(stdout);
  return m ? m[0].trim() : tail(stdout) || "accepted";
}

// ipmitool's own words, by the step that failed (measured with ipmitool 1.8.19 against ipmi_sim).
const FAILURES: readonly { re: RegExp; failure: PowerFailure; hint: string }[] = [
  { re: /Unable to (?:open|read) password|password from file/i, failure: "config", hint: "the password file cannot be read" },
  { re: /Address lookup for .* failed|Could not open socket/i, failure: "unreachable", hint: "the BMC's address cannot be reached" },
  { re: /RAKP 2 HMAC is invalid|unauthorized name|Activate Session command failed|Invalid user name/i, failure: "auth", hint: "wrong user name or password" },
  { re: /privilege level/i, failure: "auth", hint: "the user lacks the privilege (operator is needed)" },
  {
    re: /invalid authentication algorithm|invalid integrity algorithm|invalid confidentiality algorithm|cipher suite/i,
    failure: "config",
    hint: "the BMC does not offer this cipher suite (cipher_suite)",
  },
  {
    re: /Get Auth Capabilities error|Error issuing Get Channel Authentication|No response from remote controller|Insufficient resources for session/i,
    failure: "timeout",
    hint: "the BMC did not answer",
  },
  { re: /Set Chassis Power Control to .* failed|Invalid data field/i, failure: "refused", hint: "the BMC refused the power command" },
];

/** Maps a failed ipmitool run to a failure kind and a message in ipmitool's own words. */
export function classifyIpmitoolFailure(stderr: string, stdout = ""): { failure: PowerFailure; words: string } {
  // -v adds progress lines ("Loading IANA PEN Registry...") that say nothing about the failure.
  const lines = `${stderr}\n${stdout}`
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !/^Loading IANA PEN Registry|^Running Get VSO|^Discovered IPMB|^Get HPM\.x Capabilities|^Password:\s*$/.test(l));
  const said = lines.slice(-4).join(" / ") || "(no output)";
  for (const f of FAILURES) if (lines.some((l) => f.re.test(l))) return { failure: f.failure, words: `${f.hint}: ${said}` };
  return { failure: "protocol", words: said };
}
