import { headers, type Msg, type MsgHdrs } from "@nats-io/transport-node";
import { ServiceErrorCodeHeader, ServiceErrorHeader, type Service } from "@nats-io/services";
import type { ErrorCode } from "../schemas/envelope.js";

// NATS service convention (ADR-32): an error reply also carries the Nats-Service-Error and
// Nats-Service-Error-Code headers, so generic tools (`nats micro`, ServiceClient) see failures.
// The JSON body stays the envelope every Ballast client reads. Both daemons use this file.
//
// $SRV.STATS: @nats-io/services (3.0.0-25, and nats.js main) counts an endpoint's error
// (`num_errors`, `last_error`) only when its handler throws synchronously, and then answers on
// its own with an empty body. `respondError` sets the headers and counts nothing, and an async
// handler's failure is invisible to it. Ballast's handlers are async and answer with the
// envelope, so serviceErrorCounter() counts each error reply on the endpoint's own statistics.

/** The status in Nats-Service-Error-Code for each error code (HTTP-like, as ADR-32 suggests). */
export const SERVICE_ERROR_STATUS = {
  BAD_JSON: 400,
  BAD_REQUEST: 400,
  UNKNOWN_VM: 404,
  UNKNOWN_HOST: 404,
  UNKNOWN_PLAN: 404,
  VM_NOT_RUNNING: 409,
  NOT_MIGRATABLE: 409,
  LOCAL_DISKS: 409,
  VM_STILL_DEFINED: 409,
  SAME_HOST: 409,
  ALREADY_MIGRATING: 409,
  IDEMPOTENCY_CONFLICT: 409,
  NO_DESTINATION: 409,
  PAUSED: 409,
  PLAN_EXPIRED: 409,
  STALE_EPOCH: 409,
  NOT_LEADER: 421,
  BUSY: 429,
  INTERNAL: 500,
  HYPERVISOR_ERROR: 502,
  POWER_ERROR: 502,
  NO_LEADER: 503,
  NO_RESPONDERS: 503,
  TIMEOUT: 504,
} as const satisfies Record<ErrorCode, number>;

/** What the headers need of an error: its code and its message. */
export interface ServiceErrorInfo {
  code: string;
  message: string;
}

/** Sets Nats-Service-Error (the message, one line) and Nats-Service-Error-Code (the status). */
export function setServiceErrorHeaders(h: MsgHdrs, e: ServiceErrorInfo): MsgHdrs {
  // Header values are one line; the full message is in the body.
  h.set(ServiceErrorHeader, (e.message || "error").replace(/[\r\n]+/g, " ").slice(0, 512));
  h.set(ServiceErrorCodeHeader, String((SERVICE_ERROR_STATUS as Record<string, number>)[e.code] ?? 500));
  return h;
}

const utf8 = new TextDecoder();

/** The error of a reply envelope (JSON text or bytes), or undefined for an ok reply or anything else. */
export function serviceErrorOf(data: string | Uint8Array | undefined): ServiceErrorInfo | undefined {
  if (data === undefined || data.length === 0) return undefined;
  try {
    const body = JSON.parse(typeof data === "string" ? data : utf8.decode(data)) as { ok?: unknown; error?: { code?: unknown; message?: unknown } };
    if (body === null || typeof body !== "object" || body.ok !== false || typeof body.error !== "object" || body.error === null) return undefined;
    return {
      code: typeof body.error.code === "string" ? body.error.code : "INTERNAL",
      message: typeof body.error.message === "string" ? body.error.message : "error",
    };
  } catch {
    return undefined; // not JSON: not an envelope
  }
}

/**
 * The message with `respond` adding the error headers when the body is an error envelope, and
 * telling `onError` (e.g. a serviceErrorCounter) about it.
 */
export function withServiceErrorHeaders(msg: Msg, onError?: (e: ServiceErrorInfo) => void): Msg {
  const respond = (data?: Parameters<Msg["respond"]>[0], opts?: Parameters<Msg["respond"]>[1]): boolean => {
    const e = typeof data === "string" || data instanceof Uint8Array ? serviceErrorOf(data) : undefined;
    if (e === undefined) return msg.respond(data, opts);
    onError?.(e);
    return msg.respond(data, { ...opts, headers: setServiceErrorHeaders(opts?.headers ?? headers(), e) });
  };
  return new Proxy(msg, {
    get(target, prop) {
      if (prop === "respond") return respond;
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/** What serviceErrorCounter reaches into: the endpoints' statistics of @nats-io/services' ServiceImpl. */
interface EndpointStatsHolder {
  name?: unknown;
  stats?: { countError?: (e: Error) => void };
}

/**
 * Counts error replies in $SRV.STATS (`num_errors`, `last_error` of the endpoint that answered).
 * The library has no public way to do it (see the file comment), so this uses its endpoint list;
 * returns false when that is not there (another version of the library), so the caller can say so.
 */
export function serviceErrorCounter(svc: Service): (endpoint: string, e: ServiceErrorInfo) => boolean {
  return (endpoint, e) => {
    const handlers = (svc as unknown as { handlers?: unknown }).handlers;
    if (!Array.isArray(handlers)) return false;
    const h = (handlers as EndpointStatsHolder[]).find((x) => x?.name === endpoint);
    if (typeof h?.stats?.countError !== "function") return false;
    h.stats.countError(new Error(`${e.code}: ${e.message}`.slice(0, 512)));
    return true;
  };
}
