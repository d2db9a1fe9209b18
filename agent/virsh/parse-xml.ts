import { XMLBuilder, XMLParser } from "fast-xml-parser";
import { HypervisorError } from "../../shared/errors.js";

// The one XML reader of the virsh parsers (capabilities, domcapabilities, domain XML). libvirt
// never writes a DOCTYPE, so a document that has one is refused outright: no entity of ours is
// ever declared, let alone expanded (only the five built-in ones, &amp; &lt; ..., are decoded).
// Values stay strings (a CPU model "486" or a machine "pc-q35-7.2" must not turn into numbers);
// attributes are kept under an "@_" prefix.

/** An element as fast-xml-parser returns it: attributes "@_name", text "#text", children by tag. */
export type XmlNode = { [key: string]: unknown };

const OPTIONS = {
  ignoreAttributes: false,
  attributeNamePrefix: "@_",
  textNodeName: "#text",
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: true,
  htmlEntities: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  commentPropName: false,
  // An element with no child is "" rather than missing: <readonly/> and <shareable/> are flags.
  alwaysCreateTextNode: false,
} as const;

const parser = new XMLParser(OPTIONS);
const builder = new XMLBuilder({ ...OPTIONS, format: true, indentBy: "  ", suppressEmptyNode: true });

/** Most XML read, characters: a domain of 64 disks and 64 NICs is far below (~100 KiB). */
export const MAX_XML_CHARS = 4 * 1024 * 1024;

/** Parses one XML document; `what` names it in errors ("virsh capabilities"). */
export function parseXml(text: string, what: string): XmlNode {
  if (text.length > MAX_XML_CHARS) throw new HypervisorError(`${what}: XML of ${text.length} characters is over the ${MAX_XML_CHARS} limit`);
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) throw new HypervisorError(`${what}: XML with a DOCTYPE or entity declaration is refused (libvirt writes none)`);
  let doc: unknown;
  try {
    doc = parser.parse(text, true);
  } catch (e) {
    throw new HypervisorError(`${what}: not well-formed XML: ${(e as Error).message}`, { cause: e });
  }
  if (!isNode(doc)) throw new HypervisorError(`${what}: no XML document`);
  return doc;
}

/** Writes one element back as XML text, `<tag ...>...</tag>`. */
export function buildXml(tag: string, node: XmlNode): string {
  return String(builder.build({ [tag]: node })).trim();
}

export function isNode(v: unknown): v is XmlNode {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The child elements named `tag`, always as a list (the parser gives one child as a value). */
export function children(node: XmlNode | undefined, tag: string): XmlNode[] {
  const v = node?.[tag];
  const list = Array.isArray(v) ? v : v === undefined ? [] : [v];
  // An element without attributes or children comes back as "" (or its text): as a node, empty.
  return list.map((x) => (isNode(x) ? x : typeof x === "string" && x !== "" ? { "#text": x } : {}));
}

/** The first child element named `tag`, if any. */
export function child(node: XmlNode | undefined, tag: string): XmlNode | undefined {
  return children(node, tag)[0];
}

/** Whether the element has a child named `tag` (flags such as <readonly/>). */
export function has(node: XmlNode | undefined, tag: string): boolean {
  return node !== undefined && node[tag] !== undefined;
}

/** An attribute's value. */
export function attr(node: XmlNode | undefined, name: string): string | undefined {
  const v = node?.[`@_${name}`];
  return typeof v === "string" ? v : undefined;
}

/** An element's text content, trimmed; undefined when empty. */
export function text(node: XmlNode | undefined): string | undefined {
  if (node === undefined) return undefined;
  const v = node["#text"];
  const s = typeof v === "string" ? v.trim() : "";
  return s === "" ? undefined : s;
}

/** The text of the first child named `tag`. */
export function childText(node: XmlNode | undefined, tag: string): string | undefined {
  return text(child(node, tag));
}
