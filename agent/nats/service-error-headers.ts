import { headers, type Msg } from "@nats-io/transport-node";
import { ServiceErrorCodeHeader, ServiceErrorHeader } from "@nats-io/services";
import type { ErrorCode } from "../../shared/schemas/envelope.js";

// NATS service convention (ADR-32): an error reply also carries Nats-Service-Error and
// Nats-Service-Error-Code headers, so generic tools (`nats micro`, ServiceClient) see failures.
// The JSON body stays the envelope every Ballast client reads.

const STATUS: Partial<Record<ErrorCode, number>> = {
  BAD_JSON: 400,
  BAD_REQUEST: 400,
  UNKNOWN_VM: 404,
  UNKNOWN_HOST: 404,
  VM_NOT_RUNNING: 409,
  SAME_HOST: 409,
  ALREADY_MIGRATING: 409,
  BUSY: 429,
  STALE_EPOCH: 409,
  TIMEOUT: 504,
  NO_RESPONDERS: 503,
};

/** The message with `respond` adding the error headers when the body is an error envelope. */
export function withServiceErrorHeaders(msg: Msg): Msg {
  const respond = (data?: Parameters<Msg["respond"]>[0], opts?: Parameters<Msg["respond"]>[1]): boolean => {
    if (typeof data === "string") {
      try {
        const body = JSON.parse(data) as { ok?: boolean; error?: { code?: ErrorCode; message?: string } };
        if (body.ok === false && body.error) {
          const h = opts?.headers ?? headers();
          // Header values are one line; the full message is in the body.
          h.set(
            ServiceErrorHeader,
            String(body.error.message ?? "error")
              .replace(/[\r\n]+/g, " ")
              .slice(0, 512),
          );
          h.set(ServiceErrorCodeHeader, String(STATUS[body.error.code ?? "INTERNAL"] ?? 500));
          return msg.respond(data, { ...opts, headers: h });
        }
      } catch {
        /* not JSON: send as is */
      }
    }
    return msg.respond(data, opts);
  };
  return new Proxy(msg, {
    get(target, prop) {
      if (prop === "respond") return respond;
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
