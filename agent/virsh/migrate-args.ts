import type { MigrationSettings } from "../../shared/config/agent-config.js";
import { isAllowedMigrateArg } from "../../shared/config/agent-config.js";
import { ValidationError } from "../../shared/errors.js";
import { MigrationAddress, VmName } from "../../shared/schemas/ids.js";

// argv of `virsh migrate`, built from validated parts only. The VM name and address were
// validated at the API edge already; they are checked again here because this is the last
// point before they reach a process, and a name starting with "-" would read as an option.

/** An address in a URI authority: IPv6 literals need brackets. */
const uriHost = (address: string) => (address.includes(":") ? `[${address}]` : address);

export function destinationUri(address: string, m: Pick<MigrationSettings, "uri_scheme" | "uri_path">): string {
  return `${m.uri_scheme}://${uriHost(address)}${m.uri_path}`;
}

/** What a migration adds to the configured command: local disks to copy, post-copy allowed. */
export interface MigrateArgOptions {
  /** Target names of the local disks to copy (`--copy-storage-all --migrate-disks vda,vdb`). */
  copyDisks?: readonly string[];
  /** `--postcopy`: the migration may be switched to post-copy (`virsh migrate-postcopy`). */
  postcopy?: boolean;
}

const DISK_TARGET = /^[a-z0-9]{1,16}$/;

export function buildMigrateArgs(vm: string, address: string, m: MigrationSettings, o: MigrateArgOptions = {}): string[] {
  if (!VmName.safeParse(vm).success) throw new ValidationError("BAD_REQUEST", `refusing to migrate VM with unsafe name ${JSON.stringify(vm)}`);
  if (!MigrationAddress.safeParse(address).success) throw new ValidationError("BAD_REQUEST", `refusing unsafe migration address ${JSON.stringify(address)}`);
  for (const a of m.extra_args)
    if (!isAllowedMigrateArg(a)) throw new ValidationError("BAD_REQUEST", `migration.extra_args: ${JSON.stringify(a)} is not an allowed virsh migrate option`);
  const args = ["migrate", "--live", "--p2p", "--persistent", "--undefinesource"];
  if (m.use_migrateuri) args.push("--migrateuri", `tcp://${uriHost(address)}`);
  args.push(...m.extra_args);
  const copy = o.copyDisks ?? [];
  if (copy.length > 0) {
    for (const d of copy) if (!DISK_TARGET.test(d)) throw new ValidationError("BAD_REQUEST", `refusing unsafe disk target ${JSON.stringify(d)}`);
    // Known trap: NBD storage copy over TLS stalls in some QEMU versions; Ballast does not combine them.
    if (m.extra_args.includes("--tls"))
      throw new ValidationError("BAD_REQUEST", "refusing to copy local disks with --tls (migration.extra_args): the copy can stall");
    if (o.postcopy) throw new ValidationError("BAD_REQUEST", "refusing --postcopy together with a disk copy");
    // Only the listed (local) disks: a shared disk must never be copied onto itself.
    args.push("--copy-storage-all", "--migrate-disks", copy.join(","));
  }
  if (o.postcopy && !m.extra_args.includes("--postcopy")) args.push("--postcopy");
  // Named options rather than positionals: nothing can shift into another option's place.
  args.push("--domain", vm, "--desturi", destinationUri(address, m));
  return args;
}
