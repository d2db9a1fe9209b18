import { ServiceErrorCodeHeader, ServiceErrorHeader } from "@nats-io/services";
import type { Msg, MsgHdrs } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { withServiceErrorHeaders } from "../../../shared/nats/service-errors.js";
import { err, ok, type ErrorCode } from "../../../shared/schemas/envelope.js";

/** A Msg whose respond records what was sent. */
function fakeMsg() {
  const sent: Array<{ data: unknown; headers: MsgHdrs | undefined }> = [];
  const msg = {
    subject: "s",
    respond: (data?: unknown, opts?: { headers?: MsgHdrs }) => (sent.push({ data, headers: opts?.headers }), true),
  } as unknown as Msg;
  return { msg: withServiceErrorHeaders(msg), sent };
}

describe("service error headers", () => {
  it.each<[ErrorCode, string]>([
    ["BAD_REQUEST", "400"],
    ["UNKNOWN_VM", "404"],
    ["BUSY", "429"],
    ["TIMEOUT", "504"],
    ["NO_RESPONDERS", "503"],
    ["INTERNAL", "500"],
  ])("marks an error reply %s with status %s", (code, status) => {
    const { msg, sent } = fakeMsg();
    msg.respond(JSON.stringify(err(code, "what\nhappened")));
    expect(sent[0]?.headers?.get(ServiceErrorCodeHeader)).toBe(status);
    expect(sent[0]?.headers?.get(ServiceErrorHeader)).toBe("what happened");
  });

  it("leaves an ok reply without error headers", () => {
    const { msg, sent } = fakeMsg();
    msg.respond(JSON.stringify(ok({ a: 1 })));
    expect(sent[0]?.headers).toBeUndefined();
  });
});
