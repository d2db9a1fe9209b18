import type { OffMode, PowerAnswer, PowerDriver, PowerReading, PowerStatus } from "../../orchestrator/shell/power/power-driver.js";
import { PowerDriverError } from "../../orchestrator/shell/power/power-driver.js";

// A power driver for tests: a host's power as a variable, every call recorded. `onOff`/`onOn` run
// what the test wants a switch to do (stop or start a simulated agent); `fail` makes the next
// calls of an operation fail as a driver would.

export class FakePower implements PowerDriver {
  readonly kind = "command" as const;
  readonly calls: string[] = [];
  /** Failures to raise, by operation (each call takes the next message). */
  readonly fail: Record<"status" | "on" | "off", string[]> = { status: [], on: [], off: [] };
  /** A power-off reads off only after this many status reads (a clean shutdown takes a while). */
  offAfterReads = 0;
  onOn: () => void | Promise<void> = () => undefined;
  onOff: (mode: OffMode) => void | Promise<void> = () => undefined;
  private pendingOffReads = -1;

  constructor(
    readonly host: string,
    public reading: PowerReading = "on",
  ) {}

  async status(): Promise<PowerStatus> {
    this.calls.push("status");
    this.raise("status");
    if (this.pendingOffReads > 0) this.pendingOffReads--;
    else if (this.pendingOffReads === 0) {
      this.pendingOffReads = -1;
      this.reading = "off";
      await this.onOff("soft");
    }
    return { state: this.reading, detail: `Chassis Power is ${this.reading}` };
  }

  async on(): Promise<PowerAnswer> {
    this.calls.push("on");
    this.raise("on");
    this.reading = "on";
    await this.onOn();
    return { detail: "Chassis Power Control: Up/On" };
  }

  async off(mode: OffMode): Promise<PowerAnswer> {
    this.calls.push(`off ${mode}`);
    this.raise("off");
    if (this.offAfterReads > 0) this.pendingOffReads = this.offAfterReads;
    else {
      this.reading = "off";
      await this.onOff(mode);
    }
    return { detail: mode === "soft" ? "Chassis Power Control: Soft" : "Chassis Power Control: Down/Off" };
  }

  private raise(op: "status" | "on" | "off"): void {
    const m = this.fail[op].shift();
    if (m !== undefined) throw new PowerDriverError(this.host, op, m.includes("timed out") ? "timeout" : "unreachable", m);
  }
}
