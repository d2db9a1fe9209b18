import type { HostReport } from "./host-installer.js";

export interface DeployReport {
  /** runtime: the Node binary the release carries (sha256 of runtime/bin/node); absent when the hosts' own node runs it. */
  release: { sha256: string; bytes: number; path: string; runtime?: { version: string; arch: string; sha256: string } };
  dryRun: boolean;
  /** true when every host ended unchanged, changed or (dry run) would-change. */
  ok: boolean;
  hosts: HostReport[];
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

const verifiedText = (v: boolean | undefined) => (v === undefined ? "-" : v ? "yes" : "NO");
const runtimeText = (h: HostReport) => (h.runtime ? `node ${h.runtime.version || "missing"} (${h.runtime.source})` : "-");

/** The human report: one row per host, then the details of every host that changed or failed. */
export function renderDeployReport(r: DeployReport): string {
  const out: string[] = [];
  const rt = r.release.runtime;
  out.push(
    `release ${r.release.sha256.slice(0, 12)} (${(r.release.bytes / 1024 / 1024).toFixed(1)} MiB, ${rt ? `with Node ${rt.version} linux-${rt.arch}` : "no Node runtime: runs on the hosts' node"})` +
      `${r.dryRun ? "  [dry run: nothing is changed]" : ""}`,
  );
  out.push("");
  out.push(
    table(
      ["HOST", "ADDRESS", "RESULT", "VERIFIED", "RUNTIME", "TIME", "STATE"],
      r.hosts.map((h) => [
        h.host,
        h.address,
        h.status.toUpperCase(),
        verifiedText(h.verified),
        runtimeText(h),
        `${(h.durationMs / 1000).toFixed(1)}s`,
        h.state,
      ]),
    ),
  );
  for (const h of r.hosts) {
    if (h.status === "unchanged") continue;
    out.push("");
    out.push(`${h.host}:`);
    for (const s of h.steps) out.push(`  ${s.status.padEnd(11)} ${s.step}${s.detail ? `: ${s.detail}` : ""}`);
    if (h.failure) {
      out.push(`  FAILED at ${h.failure.step} (${h.failure.phase}): ${h.failure.message}`);
      if (h.failure.stderr) out.push(...h.failure.stderr.split("\n").map((l) => `    | ${l}`));
    }
    if (h.rollback) out.push(`  rollback ${h.rollback.ok ? "done" : "FAILED"}: ${h.rollback.detail}`);
  }
  const count = (s: string) => r.hosts.filter((h) => h.status === s).length;
  out.push("");
  out.push(
    `${r.hosts.length} host(s): ${count("changed")} changed, ${count("unchanged")} unchanged, ${count("would-change")} would change, ${count("failed")} failed`,
  );
  return out.join("\n");
}
