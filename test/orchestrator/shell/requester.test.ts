import { describe, expect, it } from "vitest";
import { inboxPrefixFor, type Role } from "../../../deploy/tools/credentials.js";
import { forwardedInbox, IN_PROCESS, requesterOf } from "../../../orchestrator/shell/requester.js";

// Issue 14 item 3: who asked, by the reply subject's inbox prefix (`ballast credentials` lets each
// identity receive replies only below its own), and what a standby's forwarded header may change.

const reply = (role: Role, name: string) => `${inboxPrefixFor(role, name)}.Xyz123.7`;

describe("requesterOf", () => {
  it.each<[string, string | undefined, boolean]>([
    ["operator", reply("operator", "alice"), true],
    ["orchestrator", reply("orchestrator", "main"), true],
    ["no credentials (NATS' default inbox)", "_INBOX.AbC.1", true],
    ["read-only", reply("readonly", "audit"), false],
    ["agent", reply("agent", "hv-a"), false],
    ["a custom inbox_prefix", "my-scripts.AbC.1", false],
    ["no reply subject", undefined, false],
    ["a prefix that only starts like the operator's", "_INBOX_operator-", false],
  ])("%s: may approve %s", (_what, subject, may) => {
    expect(requesterOf(subject, undefined).mayApprove).toBe(may);
  });

  it("names the inbox prefix, as credentials.ts makes it", () => {
    expect(requesterOf(reply("readonly", "audit"), undefined).inbox).toBe("_INBOX_readonly-audit");
    expect(requesterOf("_INBOX.AbC.1", undefined).inbox).toBe("_INBOX");
  });

  it("believes a forwarded requester inbox only on a request from an orchestrator's inbox (or without credentials)", () => {
    const standby = reply("orchestrator", "b");
    expect(requesterOf(standby, "_INBOX_readonly-audit")).toEqual({ inbox: "_INBOX_readonly-audit", mayApprove: false });
    expect(requesterOf(standby, "_INBOX_operator-alice")).toEqual({ inbox: "_INBOX_operator-alice", mayApprove: true });
    expect(requesterOf(standby, forwardedInbox({ inbox: "", mayApprove: false }))).toEqual({ inbox: "", mayApprove: false });
    // Without credentials a standby's inbox is NATS' default one: believed there too.
    expect(requesterOf("_INBOX.Q.1", "_INBOX_readonly-audit")).toEqual({ inbox: "_INBOX_readonly-audit", mayApprove: false });
    // A read-only identity claiming to forward for an operator is still read-only.
    expect(requesterOf(reply("readonly", "audit"), "_INBOX_operator-alice")).toEqual({ inbox: "_INBOX_readonly-audit", mayApprove: false });
    // Junk in the header is ignored.
    expect(requesterOf(standby, "a.b > *").inbox).toBe("_INBOX_orchestrator-b");
  });

  it("an in-process caller is trusted", () => {
    expect(IN_PROCESS.mayApprove).toBe(true);
  });
});
