import type { ErrorBody, Reply } from "../../shared/schemas/envelope.js";

/**
 * A reply envelope as tests read it: `data` and `error` both typed, whichever `ok` says is there
 * (a test asserts `ok` itself; reading the other side gives undefined, as on the wire).
 */
export type LooseReply<T> = { ok: boolean; data: T; error: ErrorBody };

export const loose = <T>(r: Reply<T>): LooseReply<T> => r as LooseReply<T>;
