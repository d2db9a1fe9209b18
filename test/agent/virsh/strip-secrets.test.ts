import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { stripSecrets } from "../../../agent/virsh/strip-secrets.js";
import { parseDomainXml } from "../../../agent/virsh/parse-domain-xml.js";

const fixture = readFileSync(join(dirname(fileURLToPath(import.meta.url)), "fixtures", "domain-with-secrets.xml"), "utf8");

describe("stripSecrets", () => {
  it("removes graphics passwords and disk cookies, and says what it removed", () => {
    const { xml, removed } = stripSecrets(fixture);
    for (const secret of ["vnc-pass", "spice-password", "s3cr3t-cookie-value", "passwdValidTo", "<cookies", "<cookie "]) expect(xml).not.toContain(secret);
    expect(removed).toEqual(["devices disk source cookies", "graphics[vnc] passwd passwdValidTo", "graphics[spice] passwd"]);
    // The rest of the graphics elements stays, attributes in libvirt's order.
    expect(xml).toContain(`<graphics type='vnc' port='-1' autoport='yes' listen='0.0.0.0'>`);
    expect(xml).toContain(`<graphics type='spice' autoport='yes'/>`);
  });

  it("keeps references to libvirt secrets (auth, encryption): they are not the secret", () => {
    const { xml } = stripSecrets(fixture);
    expect(xml).toContain(`<auth username='libvirt'>\n          <secret type='ceph' uuid='2ec115d7-3a88-3ceb-bc12-0ac909a6fd87'/>`);
    expect(xml).toContain(`<secret type='iscsi' usage='libvirtiscsi'/>`);
    expect(xml).toContain(`<secret type='passphrase' uuid='0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f'/>`);
    // Comments are not elements: their text is not touched.
    expect(xml).toContain(`<!-- a comment with <graphics passwd='not-an-element'/> inside is left alone -->`);
  });

  it("changes nothing else: the text outside the cuts is libvirt's, and the domain parses the same", () => {
    const { xml } = stripSecrets(fixture);
    const cut = fixture
      .replace(/ passwd="[^"]*" passwdValidTo='[^']*'/, "")
      .replace(/ passwd='spice-password'/, "")
      .replace(/\n[ ]*<cookies>[\s\S]*?<\/cookies>/, "");
    expect(xml).toBe(cut);
    const before = parseDomainXml(fixture);
    const after = parseDomainXml(xml);
    expect(after.disks).toEqual(before.disks);
    expect(after.name).toBe("db-1");
  });

  it("is the identity on a definition without secrets", () => {
    const plain = `<domain type='kvm'>\n  <name>web-1</name>\n  <devices>\n    <graphics type='vnc' port='5900'/>\n  </devices>\n</domain>\n`;
    expect(stripSecrets(plain)).toEqual({ xml: plain, removed: [] });
  });

  it("refuses what is not one well-formed domain", () => {
    expect(() => stripSecrets("<domain><name>x</name>")).toThrow(/not well-formed|unterminated/);
    expect(() => stripSecrets("<network><name>x</name></network>")).toThrow(/no <domain><name>/);
    expect(() => stripSecrets("<domain><name>x</name><graphics passwd=oops/></domain>")).toThrow(/unquoted attribute/);
  });
});
