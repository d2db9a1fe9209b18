import { describe, expect, it } from "vitest";
import { parseCpuBaseline } from "../../../agent/virsh/parse-cpu-baseline.js";
import { parseDomcapabilities } from "../../../agent/virsh/parse-domcapabilities.js";
import { parseXml } from "../../../agent/virsh/parse-xml.js";
import { lab, variant } from "../facts/fixtures.js";

describe("parseDomcapabilities", () => {
  it("reads TCG's host-model (EPYC, AMD) and the usable custom models on the lab", () => {
    const d = parseDomcapabilities(lab("domcapabilities-qemu.xml"));
    expect(d.domainType).toBe("qemu");
    expect(d.hostPassthrough).toBe(false);
    expect(d.hostModel?.model).toBe("EPYC");
    expect(d.hostModel?.vendor).toBe("AMD");
    expect(d.hostModel?.required).toContain("la57");
    expect(d.hostModel?.disabled).toContain("vme");
    expect(d.usableModels).toContain("qemu64");
    expect(d.usableModels).toContain("Westmere");
    expect(d.usableModels).not.toContain("Broadwell"); // usable='no'
    expect(d.usableModels).toEqual([...d.usableModels].sort());
  });

  it("writes the host-model as a <cpu mode='custom'> element that reads back the same", () => {
    const hm = parseDomcapabilities(lab("domcapabilities-qemu.xml")).hostModel!;
    expect(hm.xml).toMatch(/^<cpu mode="custom" match="exact">/);
    const back = parseCpuBaseline(hm.xml);
    expect(back).toEqual({ model: "EPYC", vendor: "AMD", features: hm.required, disabled: hm.disabled });
  });

  it("reads a KVM EPYC-Rome host: host-passthrough supported, <maxphysaddr> left out of the element", () => {
    const d = parseDomcapabilities(variant("domcapabilities-epyc-kvm.xml"));
    expect(d).toMatchObject({ domainType: "kvm", hostPassthrough: true, hostModel: { model: "EPYC-Rome", vendor: "AMD", disabled: ["xsaves"] } });
    expect(d.hostModel!.required).toContain("svm");
    expect(d.hostModel!.xml).not.toContain("maxphysaddr");
    expect(d.usableModels).toEqual([
      "Dhyana",
      "EPYC",
      "EPYC-IBPB",
      "EPYC-Rome",
      "Nehalem",
      "Opteron_G1",
      "Opteron_G2",
      "Opteron_G3",
      "Westmere",
      "kvm64",
      "qemu32",
      "qemu64",
    ]);
  });

  it("has no host-model when libvirt does not support it", () => {
    const d = parseDomcapabilities(
      "<domainCapabilities><domain>qemu</domain><cpu><mode name='host-passthrough' supported='no'/><mode name='host-model' supported='no'/><mode name='custom' supported='yes'><model usable='yes'>cortex-a57</model></mode></cpu></domainCapabilities>",
    );
    expect(d).toEqual({ domainType: "qemu", hostPassthrough: false, usableModels: ["cortex-a57"] });
  });
});

describe("parseCpuBaseline", () => {
  it("reads every feature of the lab's host-model expanded by hypervisor-cpu-baseline --features", () => {
    const b = parseCpuBaseline(lab("hypervisor-cpu-baseline-features.xml"));
    expect(b.model).toBe("EPYC");
    // the model's own features are spelled out, not just the extra ones domcapabilities lists
    expect(b.features).toEqual(expect.arrayContaining(["sse2", "fpu", "la57", "avx2"]));
    expect(b.features).not.toContain("vme");
    expect(b.disabled).toContain("vme");
    const hm = parseDomcapabilities(lab("domcapabilities-qemu.xml")).hostModel!;
    expect(b.features.length).toBeGreaterThan(hm.required.length);
    for (const f of hm.required) expect(b.features).toContain(f);
  });

  it("refuses output without a <cpu>", () => {
    expect(() => parseCpuBaseline("<domain/>")).toThrow(/no <cpu>/);
  });
});

describe("parseXml", () => {
  it("keeps values as strings and decodes the built-in entities only", () => {
    const doc = parseXml("<a n='07'><b>486</b><c>x &amp; y</c></a>", "t");
    expect(doc).toEqual({ a: { "@_n": "07", b: "486", c: "x & y" } });
  });
  it("refuses entity declarations and oversize input", () => {
    expect(() => parseXml(`<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "${"y".repeat(10)}">]><a>&x;</a>`, "t")).toThrow(/DOCTYPE/);
    expect(() => parseXml(`<a>${" ".repeat(5 * 1024 * 1024)}</a>`, "t")).toThrow(/limit/);
  });
});
