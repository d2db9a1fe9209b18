// Which migration failures mean "this VM cannot run on that destination" rather than "this attempt
// went wrong": libvirt's own words, classified. A failure of the first kind marks the (VM,
// destination) pair incompatible until either's facts change (incompatible-pairs.ts); a timeout, a
// lost connection or an abort says nothing about the pair and is not matched.
//
// The texts are libvirt's (9.x) error formats, as virsh and the agents pass them on:
//   VIR_ERR_CPU_INCOMPATIBLE   "the CPU is incompatible with host CPU: %s" (src/cpu/cpu_x86.c,
//                              with "Host CPU does not provide required features: ...")
//   qemu_process.c             "guest CPU doesn't match specification: missing features: ..."
//   qemu_validate.c            "unsupported configuration: Emulator '%s' does not support machine type '%s'"
//   virnetdev.c                "Cannot get interface MTU on '%s'" (a bridge the destination lacks)
//   VIR_ERR_NO_NETWORK         "Network not found: %s"
//   VIR_ERR_NO_STORAGE_POOL    "Storage pool not found: %s"
//   storage_source.c           "Cannot access storage file '%s' (as uid:%u, gid:%u)"
//   (many)                     "...: No such file or directory" (an image the destination lacks)
//   qemu_migration.c           "cannot migrate a domain with <hostdev mode='subsystem' type='%s'>",
//                              "cannot migrate a domain with <interface type='%s'>"
//   VIR_ERR_MIGRATE_UNSAFE     "Unsafe migration: %s" (cache mode, storage not shared)
//   qemu_command.c / hugepages "hugetlbfs filesystem is not mounted ...", "Unable to find any usable hugetlbfs mount for %llu KiB"
//   VIR_ERR_CONFIG_UNSUPPORTED "unsupported configuration: %s" (whatever else the destination cannot run)

export const INCOMPATIBILITY_KINDS = ["CPU", "MACHINE", "NETWORK", "STORAGE", "DEVICE", "UNSAFE", "HUGEPAGES", "CONFIG"] as const;
export type IncompatibilityKind = (typeof INCOMPATIBILITY_KINDS)[number];

/** First match wins: the specific kinds before the catch-all "unsupported configuration". */
const RULES: readonly (readonly [IncompatibilityKind, RegExp])[] = [
  ["CPU", /the CPU is incompatible with host CPU|Host CPU does not provide required features|guest CPU doesn't match specification/i],
  ["MACHINE", /does not support machine type|unsupported machine type|machine type '[^']*' (?:is )?not (?:supported|found|available)/i],
  ["NETWORK", /Cannot get interface MTU|Network not found|no network with matching name|Cannot get index for interface/i],
  ["STORAGE", /Storage pool not found|Storage volume not found|Cannot access storage file|No such file or directory/i],
  ["DEVICE", /hostdev|cannot migrate a domain with <interface|vhost-user|mediated device|\bmdev\b/i],
  ["UNSAFE", /Unsafe migration/i],
  ["HUGEPAGES", /hugetlbfs|huge ?pages?/i],
  ["CONFIG", /unsupported configuration/i],
];

/** The kind of incompatibility libvirt's error text names, or undefined when it names none. */
export function classifyMigrationError(text: string | undefined): IncompatibilityKind | undefined {
  if (!text) return undefined;
  // Bounded: the text comes off the wire (agents cap it, but no regex runs on megabytes here).
  const t = text.slice(0, 4000);
  for (const [kind, re] of RULES) if (re.test(t)) return kind;
  return undefined;
}
