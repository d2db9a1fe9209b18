import type { RecordsReply } from "../shared/schemas/orchestrator-api.js";
import { table, time } from "./table.js";

// `ballast records`: what the orchestrator keeps of each VM so it can restart it elsewhere when
// its host dies (docs/host-failure.md); with --vm, the definition itself.

export function renderRecords(d: RecordsReply): string {
  const where = d.store.kind === "kv" ? `KV bucket ${d.store.bucket ?? "?"}` : "MEMORY ONLY (no JetStream: lost on restart)";
  const out = [`records: ${d.records.length}   kept in: ${where}   definitions being fetched: ${d.fetching}`];
  if (d.records.length === 0) return out.join("\n");
  out.push(
    "",
    table(
      ["VM", "HOST", "PRIORITY", "DISKS", "UPDATED", "EPOCH", "DIGEST"],
      d.records.map((r) => {
        const local = r.disks.filter((x) => x.localWritable).length;
        const shared = r.disks.filter((x) => x.shared).length;
        return [
          r.vm,
          r.host,
          r.restartPriority,
          r.disks.length === 0 ? "none" : local > 0 ? `${local} local, ${shared} shared` : `all shared (${shared})`,
          time(r.updatedAt),
          r.epoch,
          r.definitionDigest.slice(0, 12),
        ];
      }),
    ),
  );
  const one = d.records.length === 1 ? d.records[0] : undefined;
  if (one) {
    out.push(
      "",
      "disks:",
      ...one.disks.map((x) => `  ${x.target}  ${x.type}  ${x.source ?? "(empty)"}  ${x.shared ? "shared" : "local"}${x.readonly ? " read-only" : ""}`),
    );
    if (one.uuid) out.push(`uuid: ${one.uuid}`);
    if (one.definition !== undefined) out.push("", "definition (secrets removed):", one.definition.trimEnd());
  }
  return out.join("\n");
}
