import type { Hypervisor } from "../../../agent/ports/hypervisor.js";

/**
 * The Hypervisor methods a test's stand-in does not use, each rejecting if called: spread it into a
 * stand-in, so a new method of the port is added here once rather than in every stand-in.
 */
export const unusedHypervisorMethods = {
  startPostcopy: () => Promise.reject(new Error("unused")),
  checkIncoming: () => Promise.reject(new Error("unused")),
  cpuBaseline: () => Promise.reject(new Error("unused")),
  removeDisks: () => Promise.reject(new Error("unused")),
  definitionXml: () => Promise.reject(new Error("unused")),
  probeHost: () => Promise.reject(new Error("unused")),
  startRecorded: () => Promise.reject(new Error("unused")),
  autostartDomains: () => Promise.reject(new Error("unused")),
  disableAutostart: () => Promise.reject(new Error("unused")),
  startDefined: () => Promise.reject(new Error("unused")),
  pause: () => Promise.reject(new Error("unused")),
  guestState: () => Promise.reject(new Error("unused")),
} satisfies Partial<Hypervisor>;
