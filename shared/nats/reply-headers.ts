// NATS headers on every answer of the orchestrator's operator API, so an operator (or a script)
// sees who answered and whether a standby passed the request on to the leader.

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
