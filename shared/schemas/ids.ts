import { z } from "zod";
import { addressProblem } from "../net-address.js";

// Host ids become NATS subject tokens and libvirt never sees them; keep them to one token.
export const HostId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/, "host id must be 1-63 characters of A-Z a-z 0-9 _ - (no dots, spaces or wildcards)")
  .describe("A hypervisor's name in Ballast (its agent's `host` setting): one NATS subject token, so no dots, spaces or wildcards.");
export type HostId = z.infer<typeof HostId>;

// libvirt domain names: we accept what libvirt accepts in practice, minus anything that could
// be read as an option or carries control characters. Names are passed as argv, never to a shell.
export const VmName = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.+:@-]*$/, "VM name must start with a letter, digit or _ and contain only A-Z a-z 0-9 _ . + : @ -")
  .describe("A libvirt domain name; Ballast knows a VM by its name across the cluster (a domain whose name does not fit is left out of its host's metrics).");
export type VmName = z.infer<typeof VmName>;

export const RequestId = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, "request id must be 1-64 characters of A-Z a-z 0-9 _ -")
  .describe(
    "Id of one migration command, chosen by its sender (an operator, or the orchestrator's unguessable `m-<time>-<random>`): the same id sent again gets the first answer again and never runs a second migration.",
  );
export type RequestId = z.infer<typeof RequestId>;

export const MigrationAddress = z
  .string()
  .min(1)
  .max(253)
  .regex(
    /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|[0-9A-Fa-f:]+)$/,
    "address must be an IPv4/IPv6 address or a DNS name",
  )
  // The pattern keeps out anything a shell or a URI could misread; this also refuses what only
  // looks like an address (10.10.0.999, :::::, a name ending in a number).
  .superRefine((s, ctx) => {
    const problem = addressProblem(s);
    if (problem !== undefined) ctx.addIssue({ code: "custom", message: `address ${JSON.stringify(s)} is ${problem}` });
  })
  .describe("A hypervisor's address on the migration network (host_mapping): IPv4, IPv6 without brackets, or a DNS name; no port, no path.");
export type MigrationAddress = z.infer<typeof MigrationAddress>;
