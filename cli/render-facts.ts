import type { CpuBaselineReply, FactsReply } from "../shared/schemas/orchestrator-api.js";
import { table, time } from "./table.js";

// Renderings of the facts endpoints: `ballast cpu-baseline` and `ballast facts <host>`.

export function renderCpuBaseline(d: CpuBaselineReply): string {
  const out: string[] = [];
  if (d.groups.length === 0) out.push("no host's facts are known: no baseline");
  for (const g of d.groups) {
    out.push(
      `${g.kind === "identical" ? "hosts with identical CPUs" : `every ${g.arch}${g.vendor ? ` ${g.vendor}` : ""} host`}: ${g.hosts.join(", ")}`,
      `  ${g.source === "libvirt" ? `libvirt's baseline (computed on ${g.by ?? "?"})` : "COMPUTED from the facts, not libvirt's baseline"}`,
      `  model: ${g.model ?? "-"}`,
      `  features: ${g.features.length ? g.features.join(" ") : "-"}`,
      `  usable models on every host: ${g.usableModels.length ? g.usableModels.join(" ") : "-"}`,
    );
    if (g.note) out.push(`  note: ${g.note}`);
    if (g.xml)
      out.push(
        "  paste into the domain definition:",
        ...g.xml
          .trim()
          .split("\n")
          .map((l) => `    ${l}`),
      );
    out.push("");
  }
  if (d.withoutFacts.length > 0) out.push(`hosts without facts (not in any group): ${d.withoutFacts.join(", ")}`);
  return out.join("\n").trimEnd();
}

export function renderFacts(d: FactsReply): string {
  const f = d.facts;
  if (!f) return `${d.host}: no facts received (an agent older than facts, or not collected yet)`;
  const h = f.hostFacts;
  const list = (xs: readonly string[]) => (xs.length ? xs.join(" ") : "-");
  const out = [
    `${d.host}: facts of ${time(f.ts)} (received ${time(d.receivedAt ?? undefined)}), digest ${f.digest}`,
    `cpu: ${h.cpu.arch} ${h.cpu.vendor ?? "-"} ${h.cpu.model ?? "-"}, ${h.cpu.features.length} features, usable models: ${list(h.cpu.usableModels)}`,
    `libvirt ${h.libvirtVersion}, qemu ${h.qemuVersion ?? "-"}, domain types: ${list(h.domainTypes)}`,
    `machine types: ${list(h.machineTypes)}`,
    `networks: ${list(h.networks)}   bridges: ${list(h.bridges)}`,
    `shared storage: ${h.sharedStorage.length ? h.sharedStorage.map((s) => `${s.path} (${s.kind})`).join(", ") : "-"}`,
    `huge pages free: ${h.hugepages.length ? h.hugepages.map((p) => `${p.free} x ${p.sizeKiB} KiB`).join(", ") : "-"}`,
  ];
  if (f.vms.length > 0)
    out.push(
      "",
      table(
        ["VM", "MIGRATABLE", "CPU", "MACHINE", "DISKS", "NETWORKS", "WHY NOT"],
        f.vms.map((v) => [
          v.name,
          v.migratable ? "yes" : "NO",
          `${v.cpu.mode}${v.cpu.model ? ` ${v.cpu.model}` : ""}`,
          v.machine,
          v.disks.map((k) => `${k.target}:${k.shared ? "shared" : "local"}${k.readonly ? ",ro" : ""}`).join(" ") || "-",
          v.interfaces.map((i) => i.source ?? i.type).join(" ") || "-",
          v.reasons.map((r) => `${r.code}: ${r.detail}`).join("; ") || "-",
        ]),
      ),
    );
  if (d.incompatible.length > 0)
    out.push(
      "",
      "refused by libvirt (not planned again until facts change):",
      table(
        ["VM", "DESTINATION", "SINCE", "ERROR"],
        d.incompatible.map((p) => [p.vm, p.destination, time(p.since), p.error]),
      ),
    );
  return out.join("\n");
}
