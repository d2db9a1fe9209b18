import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

// CPU definitions handed to `virsh hypervisor-cpu-compare` / `hypervisor-cpu-baseline`. virsh
// reads the file itself (in the agent's namespace) and sends its text to libvirtd, so a private
// temporary file works wherever libvirtd runs.

/** Runs `f` with `text` in a file only this user can read (0600, in a private 0700 directory), removed afterwards. */
export async function withTempFile<T>(name: string, text: string, f: (path: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "ballast-cpu-"));
  try {
    const path = join(dir, name);
    await writeFile(path, text, { mode: 0o600 });
    return await f(path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** libvirt's verdict in hypervisor-cpu-compare's output: "identical", "superset" or "incompatible". */
export function parseCpuCompare(stdout: string): "identical" | "superset" | "incompatible" | undefined {
  if (/\bincompatible\b/i.test(stdout)) return "incompatible";
  if (/\bsuperset\b/i.test(stdout)) return "superset";
  if (/\bidentical\b/i.test(stdout)) return "identical";
  return undefined;
}

/**
 * libvirt's words from a failed `hypervisor-cpu-compare --error`, without virsh's "Failed to
 * compare hypervisor CPU with <temporary file>" line, which names a file that no longer exists.
 */
export function cpuCompareWords(message: string): string {
  return message
    .split("; ")
    .filter((part) => !/^Failed to compare hypervisor CPU with /.test(part))
    .join("; ");
}

/** The `<cpu>` element alone (a baseline answer may carry an XML declaration or whitespace). */
export function cpuElement(xml: string): string {
  return /<cpu\b[\s\S]*?<\/cpu>|<cpu\b[^>]*\/>/.exec(xml)?.[0] ?? xml.trim();
}
