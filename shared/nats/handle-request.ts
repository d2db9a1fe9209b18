import type { Msg } from "@nats-io/transport-node";
import type { z } from "zod";
import type { Logger } from "pino";
import { err, ok, type Err, type Reply } from "../schemas/envelope.js";
import { BallastError, describeError } from "../errors.js";
import { describeIssues } from "./json.js";

/**
 * Largest request body any Ballast endpoint accepts; bigger ones are refused unparsed, with
 * BAD_REQUEST naming this limit. (A body over the NATS server's max_payload never reaches Ballast:
 * the client library or nats-server refuses it, "maximum payload exceeded".)
 */
export const MAX_REQUEST_BYTES = 64 * 1024;

/**
 * Turns a typed handler into a NATS request handler: decodes JSON (empty body = {}), validates
 * with the schema, runs the handler, and always answers with the envelope, also when it throws.
 * Bad input never reaches the handler.
 */
export function jsonHandler<S extends z.ZodTypeAny, R>(
  schema: S,
  handler: (req: z.infer<S>, msg: Msg) => Promise<R> | R,
  log: Logger,
  endpoint: string,
): (msg: Msg) => Promise<Reply<R>> {
  return async (msg: Msg) => {
    const reply = await answerRequest(schema, handler, log, endpoint, msg);
    if (msg.reply) {
      try {
        msg.respond(JSON.stringify(reply));
      } catch (e) {
        log.warn({ endpoint, err: describeError(e) }, "could not send reply");
      }
    }
    return reply;
  };
}

/**
 * Decodes and validates a request body the way every endpoint does (size limit, JSON, schema):
 * the parsed request, or the error reply to send instead.
 */
export function parseRequest<S extends z.ZodTypeAny>(schema: S, log: Logger, endpoint: string, msg: Msg): { ok: true; data: z.infer<S> } | Err {
  if (msg.data.length > MAX_REQUEST_BYTES) {
    log.warn({ endpoint, bytes: msg.data.length }, "request too large, refused");
    return err(
      "BAD_REQUEST",
      `request body of ${msg.data.length} bytes exceeds the request size limit of ${MAX_REQUEST_BYTES} bytes (${MAX_REQUEST_BYTES / 1024} KiB); nothing was done`,
      { bytes: msg.data.length, limitBytes: MAX_REQUEST_BYTES },
    );
  }
  let body: unknown = {};
  const text = msg.data.length === 0 ? "" : new TextDecoder("utf-8", { fatal: false }).decode(msg.data);
  if (text.trim().length > 0) {
    try {
      body = JSON.parse(text);
    } catch (e) {
      log.warn({ endpoint, err: describeError(e) }, "malformed JSON request");
      return err("BAD_JSON", `request is not valid JSON: ${describeError(e)}`);
    }
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const text = describeIssues(parsed.error.issues);
    log.warn({ endpoint, issues: text }, "invalid request");
    return err("BAD_REQUEST", `invalid request for ${endpoint}: ${text}`);
  }
  return { ok: true, data: parsed.data };
}

/** Validates, runs the handler, and turns its result or its throw into a reply envelope. */
export async function answerRequest<S extends z.ZodTypeAny, R>(
  schema: S,
  handler: (req: z.infer<S>, msg: Msg) => Promise<R> | R,
  log: Logger,
  endpoint: string,
  msg: Msg,
): Promise<Reply<R>> {
  const parsed = parseRequest(schema, log, endpoint, msg);
  if (!parsed.ok) return parsed;
  try {
    return ok(await handler(parsed.data, msg));
  } catch (e) {
    if (e instanceof BallastError) return err(e.code, e.message, e.details);
    log.error({ endpoint, err: e }, "request handler failed");
    return err("INTERNAL", `internal error in ${endpoint}: ${describeError(e)}`);
  }
}
