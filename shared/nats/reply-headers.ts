// NATS headers on every answer of the orchestrator's operator API, so an operator (or a script)
// sees who answered and whether a standby passed the request on to the leader. (RequestHeader
// below: what a standby adds to a request it forwards.)

export const ReplyHeader = {
  /** The instance that produced the answer (the leader's name when a standby forwarded it). */
  instance: "Ballast-Instance",
  /** `leader` or `standby`: that instance's role when it answered. */
  role: "Ballast-Role",
  /** The leader as the answering instance knows it; absent when none is known. */
  leader: "Ballast-Leader",
  /** The standby that forwarded the request to the leader; absent when answered directly. */
  forwardedBy: "Ballast-Forwarded-By",
  /** The request used deprecated field names: which, and what to use instead. */
  deprecation: "Ballast-Deprecation",
} as const;

/** Headers a standby sets on a request it forwards to the leader (ha/leader-forwarder.ts). */
export const RequestHeader = {
  /** The standby that forwards it (also echoed on the answer as Ballast-Forwarded-By). */
  forwardedBy: ReplyHeader.forwardedBy,
  /**
   * The reply-inbox prefix of the original requester (`_INBOX_operator-alice`, `_INBOX`): the
   * leader judges who asked by it, and believes it only from an orchestrator's own inbox.
   */
  requesterInbox: "Ballast-Requester-Inbox",
} as const;
