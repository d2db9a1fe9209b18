import type { RequestContext } from "../../shared/schemas/orchestrator-api.js";

// Who sent an operator request, as far as the orchestrator can tell: by the prefix of its reply
// subject. With `ballast credentials`, each identity may only receive replies below its own
// inbox prefix `_INBOX_<role>-<name>` (deploy/tools/credentials.ts, inboxPrefixFor), so an
// identity that wants its answer must use its own prefix, and the prefix names its role. Without
// credentials the prefix is NATS' default `_INBOX` and anyone may do anything.
//
// A standby forwards requests from its own inbox (`_INBOX_orchestrator-<name>`); it passes the
// original requester's prefix in the Ballast-Requester-Inbox header, which is believed only on a
// request whose reply goes to an orchestrator's inbox (only orchestrator identities receive
// answers there), or to NATS' default inbox (a cluster without credentials, where the standby's
// inbox is `_INBOX` and anyone may approve anyway: believing it there gives nobody more).
//
// The limit: nats-server checks a client's publish subject against its permissions, not the reply
// subject it names. A client that gives up its answer can name any prefix (another identity's,
// `_INBOX`, or an orchestrator's with the header) and pass for that role. That only decides which
// kind of kept plans its dry runs count as (operator-controls.ts): it cannot approve anything (the
// server refuses it the operate endpoints) and never learns the ids of the plans it made.

/**
 * The requester of one operator request: its reply-inbox prefix (`_INBOX`, `_INBOX_operator-alice`,
 * ...; "" without a reply subject, or in-process), and whether that identity may approve plans
 * (operators, orchestrators, and anyone without credentials).
 */
export type Requester = RequestContext["requester"];

/** A caller inside the orchestrator's process (the dashboard's own server, tests): trusted. */
export const IN_PROCESS: Requester = { inbox: "", mayApprove: true };

/** NATS' default inbox prefix: no credentials (everyone may do everything). */
export const DEFAULT_INBOX = "_INBOX";
/** The prefix of every orchestrator identity's inbox (`_INBOX_orchestrator-<name>`). */
export const ORCHESTRATOR_INBOX = "_INBOX_orchestrator-";
/** Roles whose identities may call `approve` (credentials.ts's permissionsFor). */
const APPROVER_INBOXES = ["_INBOX_operator-", ORCHESTRATOR_INBOX];

/** An inbox prefix as a standby passes it on: one subject token (as nats.inbox_prefix allows), or NO_INBOX. */
const FORWARDABLE = /^[A-Za-z0-9_-]{1,100}$/;
/** The forwarded requester inbox of a request that had no reply subject. */
export const NO_INBOX = "-";

/** The first token of a reply subject ("" for none); the value a standby forwards is forwardedInbox(). */
export function inboxOf(reply: string | undefined): string {
  if (!reply) return "";
  const dot = reply.indexOf(".");
  return dot < 0 ? reply : reply.slice(0, dot);
}

/** Whether an identity receiving its answers below `inbox` may approve plans. */
export function mayApprove(inbox: string): boolean {
  return inbox === DEFAULT_INBOX || APPROVER_INBOXES.some((p) => inbox.startsWith(p) && inbox.length > p.length);
}

/**
 * The requester of a request with this reply subject and (maybe) a forwarded requester inbox
 * (believed as the file comment says). Anything but operators, orchestrators and clients without
 * credentials (a read-only identity, a custom inbox_prefix, no reply subject) may not approve.
 */
export function requesterOf(reply: string | undefined, forwardedInbox: string | undefined): Requester {
  const own = inboxOf(reply);
  let inbox = own;
  if ((own.startsWith(ORCHESTRATOR_INBOX) || own === DEFAULT_INBOX) && forwardedInbox !== undefined) {
    if (forwardedInbox === NO_INBOX) inbox = "";
    else if (FORWARDABLE.test(forwardedInbox)) inbox = forwardedInbox;
  }
  return { inbox, mayApprove: mayApprove(inbox) };
}

/** The Ballast-Requester-Inbox value a standby sends for this requester. */
export function forwardedInbox(r: Requester): string {
  return r.inbox === "" ? NO_INBOX : r.inbox;
}
