import { describe, expect, it } from "vitest";
import { parseFreepages } from "../../../agent/virsh/parse-freepages.js";
import { parseNameList } from "../../../agent/virsh/parse-name-list.js";
import { parseVersion } from "../../../agent/virsh/parse-version.js";
import { lab, variant } from "../facts/fixtures.js";

describe("parseVersion", () => {
  it("reads the library in use and the running QEMU on the lab", () => {
    expect(parseVersion(lab("version.txt"))).toEqual({ libvirt: "9.0.0", qemu: "7.2.22" });
  });
  it("prefers the library in use to the one compiled against; no hypervisor line: no qemu", () => {
    expect(parseVersion("Compiled against library: libvirt 8.0.0\nUsing library: libvirt 10.1.0\n")).toEqual({ libvirt: "10.1.0" });
    expect(parseVersion("Compiled against library: libvirt 8.0.0\n")).toEqual({ libvirt: "8.0.0" });
    expect(() => parseVersion("error: failed to connect\n")).toThrow(/no libvirt version/);
  });
});

describe("parseFreepages", () => {
  it("leaves out the 4 KiB base pages (lab: none free)", () => {
    expect(parseFreepages(lab("freepages-all.txt"))).toEqual([
      { sizeKiB: 2048, free: 0 },
      { sizeKiB: 1048576, free: 0 },
    ]);
  });
  it("sums the nodes", () => {
    expect(parseFreepages(variant("freepages-2nodes.txt"))).toEqual([
      { sizeKiB: 2048, free: 768 },
      { sizeKiB: 1048576, free: 6 },
    ]);
  });
  it("converts MiB and GiB sizes and ignores other lines", () => {
    expect(parseFreepages("Node 0:\n64KiB: 9\n2MiB: 3\n1GiB: 1\nnoise\n")).toEqual([
      { sizeKiB: 2048, free: 3 },
      { sizeKiB: 1048576, free: 1 },
    ]);
    expect(parseFreepages("")).toEqual([]);
  });
});

describe("parseNameList", () => {
  it("reads net-list --name: names sorted, blanks dropped", () => {
    expect(parseNameList(lab("net-list-name.txt"))).toEqual(["onlya"]);
    expect(parseNameList("b\n\na\nb\n\n")).toEqual(["a", "b"]);
    expect(parseNameList("")).toEqual([]);
  });
});
