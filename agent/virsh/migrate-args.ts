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

export function buildMigrateArgs(vm: string, address: string, m: MigrationSettings): string[] {
  if (!VmName.safeParse(vm).success) throw new ValidationError("BAD_REQUEST", `refusing to migrate VM with unsafe name ${JSON.stringify(vm)}`);
  if (!MigrationAddress.safeParse(address).success) throw new ValidationError("BAD_REQUEST", `refusing unsafe migration address ${JSON.stringify(address)}`);
  for (const a of m.extra_args)
    if (!isAllowedMigrateArg(a)) throw new ValidationError("BAD_REQUEST", `migration.extra_args: ${JSON.stringify(a)} is not an allowed virsh migrate option`);
  const args = ["migrate", "--live", "--p2p", "--persistent", "--undefinesource"];
  if (m.use_migrateuri) args.push("--migrateuri", `tcp://${uriHost(address)}`);
  args.push(...m.extra_args);
  // Named options rather than positionals: nothing can shift into another option's place.
  args.push("--domain", vm, "--desturi", destinationUri(address, m));
  return args;
}
