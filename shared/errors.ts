import type { ErrorCode } from "./schemas/envelope.js";

/** Base of every error Ballast raises on purpose: carries a reply code and an optional cause. */
export class BallastError extends Error {
  override readonly name: string = "BallastError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown; details?: unknown },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.details = options?.details;
  }
  readonly details: unknown;
}

export class ConfigError extends BallastError {
  override readonly name: string = "ConfigError";
  constructor(
    message: string,
    readonly key?: string,
    options?: { cause?: unknown },
  ) {
    super("BAD_REQUEST", message, options);
  }
}

export class ValidationError extends BallastError {
  override readonly name: string = "ValidationError";
}

export class HypervisorError extends BallastError {
  override readonly name: string = "HypervisorError";
  constructor(message: string, options?: { cause?: unknown; details?: unknown }) {
    super("HYPERVISOR_ERROR", message, options);
  }
}

export class TimeoutError extends BallastError {
  override readonly name: string = "TimeoutError";
  constructor(message: string, options?: { cause?: unknown }) {
    super("TIMEOUT", message, options);
  }
}

/** A request found nobody serving its subject (NATS "no responders"): fails at once, unlike a timeout. */
export class NoRespondersError extends BallastError {
  override readonly name: string = "NoRespondersError";
  constructor(
    readonly subject: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super("NO_RESPONDERS", message, options);
  }
}

/** No orchestrator leads right now, or the leader did not answer a forwarded request. */
export class NoLeaderError extends BallastError {
  override readonly name: string = "NoLeaderError";
  constructor(message: string, options?: { cause?: unknown; details?: unknown }) {
    super("NO_LEADER", message, options);
  }
}

/** Short human text of any thrown value, for logs and replies. */
export function describeError(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
