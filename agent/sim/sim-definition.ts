import { createHash } from "node:crypto";
import type { VmFacts } from "../../shared/schemas/facts.js";

// The definition a simulated VM answers vm-definition with: a small domain XML shaped like
// libvirt's migratable one (name, uuid, memory, vCPUs, machine, disks, NICs), built from its
// facts. Its uuid comes from its name, so it is the same on every host the VM moves to.

/** A stable RFC 4122-shaped uuid (version 5 bits) from the VM's name. */
export function simUuid(name: string): string {
  const h = createHash("sha1").update(`ballast-sim:${name}`).digest("hex");
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/'/g, "&apos;").replace(/"/g, "&quot;");

export function simDefinitionXml(vm: { name: string; vcpus: number; memMiB: number }, facts: VmFacts): string {
  const kib = vm.memMiB * 1024;
  const disks = facts.disks.map((d) =>
    [
      `    <disk type='${d.type}' device='${d.device}'>`,
      ...(d.format ? [`      <driver name='qemu' type='${esc(d.format)}'/>`] : []),
      ...(d.source !== undefined ? [`      ${sourceElement(d.type, d.source)}`] : []),
      `      <target dev='${d.target}' bus='virtio'/>`,
      ...(d.readonly ? ["      <readonly/>"] : []),
      `    </disk>`,
    ].join("\n"),
  );
  const nics = facts.interfaces.map((n) =>
    [`    <interface type='${n.type}'>`, ...(n.source !== undefined ? [`      <source ${n.type}='${esc(n.source)}'/>`] : []), `    </interface>`].join("\n"),
  );
  return [
    `<domain type='${facts.domainType}'>`,
    `  <name>${esc(vm.name)}</name>`,
    `  <uuid>${simUuid(vm.name)}</uuid>`,
    `  <memory unit='KiB'>${kib}</memory>`,
    `  <currentMemory unit='KiB'>${kib}</currentMemory>`,
    `  <vcpu placement='static'>${vm.vcpus}</vcpu>`,
    `  <os>`,
    `    <type arch='${facts.arch}' machine='${esc(facts.machine)}'>hvm</type>`,
    `  </os>`,
    `  <devices>`,
    ...disks,
    ...nics,
    `  </devices>`,
    `</domain>`,
    "",
  ].join("\n");
}

function sourceElement(type: string, source: string): string {
  if (type === "network") {
    const colon = source.indexOf(":");
    return colon > 0 ? `<source protocol='${esc(source.slice(0, colon))}' name='${esc(source.slice(colon + 1))}'/>` : `<source name='${esc(source)}'/>`;
  }
  return `<source ${type === "block" ? "dev" : "file"}='${esc(source)}'/>`;
}

/** What the sim needs of a definition to run it: its name, memory (currentMemory, else memory) and vCPUs. */
export function simDefinitionSize(xml: string): { name?: string; memMiB?: number; vcpus?: number } {
  const name = /<name>\s*([^<]+?)\s*<\/name>/.exec(xml)?.[1];
  const mem = /<currentMemory(?:\s+unit='([A-Za-z]+)')?\s*>\s*(\d+)\s*</.exec(xml) ?? /<memory(?:\s+unit='([A-Za-z]+)')?\s*>\s*(\d+)\s*</.exec(xml);
  const vcpu = /<vcpu[^>]*>\s*(\d+)\s*</.exec(xml)?.[1];
  const unit: Record<string, number> = { KiB: 1 / 1024, k: 1 / 1024, MiB: 1, M: 1, GiB: 1024, G: 1024, b: 1 / (1024 * 1024), bytes: 1 / (1024 * 1024) };
  const memMiB = mem ? Math.round(Number(mem[2]) * (unit[mem[1] ?? "KiB"] ?? 1 / 1024)) : undefined;
  return {
    ...(name !== undefined ? { name } : {}),
    ...(memMiB !== undefined && memMiB > 0 ? { memMiB } : {}),
    ...(vcpu !== undefined && Number(vcpu) > 0 ? { vcpus: Number(vcpu) } : {}),
  };
}
