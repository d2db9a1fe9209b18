import { BallastError } from "../../../shared/errors.js";

// What every power driver offers: read the power state, switch on, switch off. Drivers hold no
// state; the power manager records every call and its answer.

export type PowerReading = "on" | "off";

/** soft: a clean shutdown (ACPI, GracefulShutdown, poweroff over SSH); hard: cut power (fencing). */
export type OffMode = "soft" | "hard";

export interface PowerAnswer {
  /** What the interface answered, in its own words (one line, for the power log). */
  detail: string;
}

export interface PowerStatus extends PowerAnswer {
  state: PowerReading;
}

export interface PowerDriver {
  readonly kind: "ipmi" | "redfish" | "wol-ssh" | "command";
  status(signal?: AbortSignal): Promise<PowerStatus>;
  on(signal?: AbortSignal): Promise<PowerAnswer>;
  off(mode: OffMode, signal?: AbortSignal): Promise<PowerAnswer>;
}

/** Why a power call failed, coarsely, so callers can tell "try again" from "fix the config". */
export type PowerFailure = "auth" | "timeout" | "unreachable" | "refused" | "protocol" | "config";

export class PowerDriverError extends BallastError {
  override readonly name: string = "PowerDriverError";
  constructor(
    readonly host: string,
    readonly operation: "status" | "on" | "off",
    readonly failure: PowerFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(failure === "timeout" ? "TIMEOUT" : "POWER_ERROR", `${host}: power ${operation}: ${message}`, options);
  }
}
