import { HypervisorError } from "../../shared/errors.js";
import { child, parseXml, text } from "./parse-xml.js";

// What the orchestrator keeps of a domain's definition (issue 18, docs/host-failure.md) must never
// hold credentials: it lives in a KV bucket every orchestrator identity can read. libvirt already
// leaves most of them out of `virsh dumpxml` unless asked with --security-info (which Ballast never
// passes); this is the second guard, for XML that came with them anyway (a hook, a future libvirt):
//   - <graphics passwd='...'> (VNC, SPICE, RDP): the console password itself; passwdValidTo goes
//     with it (it says when a password that is no longer there would expire).
//   - <cookies> of a network disk's <source> (HTTP(S) disks): cookie values are session tokens.
// Kept on purpose, because they are references and not the secret: <auth username='...'> with its
// <secret type='ceph|iscsi' usage='...' uuid='...'/>, <encryption><secret uuid='...'/></encryption>,
// a TPM's <encryption secret='uuid'/>. The values live in libvirt's secret driver on each host;
// a restart elsewhere needs the same secret (by uuid or usage) defined there.
// The XML is edited as text, not parsed and rebuilt: the record keeps libvirt's own bytes (element
// order, formatting) except for what is cut out, so its digest follows the domain, not our writer.

export interface StrippedXml {
  xml: string;
  /** What was removed, one line each (`graphics[vnc] passwd`, `devices disk source cookies`). */
  removed: string[];
}

/** Attributes dropped per element. */
const DROP_ATTRS: Readonly<Record<string, readonly string[]>> = { graphics: ["passwd", "passwdValidTo"] };
/** Elements dropped whole, with their children. */
const DROP_ELEMENTS = new Set(["cookies"]);

interface Attr {
  name: string;
  value: string;
  /** Span of the attribute in the text, leading whitespace included. */
  start: number;
  end: number;
}

/**
 * The domain XML without secrets (see above). Throws HypervisorError when it is not one
 * well-formed <domain> (the stripped text is parsed again, so a cut never breaks the document).
 */
export function stripSecrets(xml: string): StrippedXml {
  const out: string[] = [];
  const removed: string[] = [];
  const stack: { name: string; attrs: Attr[] }[] = [];
  /** Inside a dropped element: its depth in the stack. */
  let dropDepth = -1;
  let i = 0;
  /** The dropped element began its line (only indentation before it). */
  let wholeLines = false;
  const emit = (s: string) => {
    if (dropDepth < 0) out.push(s);
  };
  /** Past the end of the line at `at`, when the dropped element had the line to itself. */
  const afterLine = (at: number): number => {
    const m = /^[ \t]*\n/.exec(xml.slice(at, at + 256));
    return wholeLines && m ? at + m[0].length : at;
  };
  while (i < xml.length) {
    const lt = xml.indexOf("<", i);
    if (lt < 0) {
      emit(xml.slice(i));
      break;
    }
    emit(xml.slice(i, lt));
    const special = [
      ["<!--", "-->"],
      ["<![CDATA[", "]]>"],
      ["<?", "?>"],
    ].find(([open]) => xml.startsWith(open!, lt));
    if (special) {
      const end = xml.indexOf(special[1]!, lt);
      if (end < 0) throw new HypervisorError("domain XML: unterminated comment, CDATA or processing instruction");
      emit(xml.slice(lt, end + special[1]!.length));
      i = end + special[1]!.length;
      continue;
    }
    if (xml.startsWith("</", lt)) {
      const gt = xml.indexOf(">", lt);
      if (gt < 0) throw new HypervisorError("domain XML: unterminated end tag");
      emit(xml.slice(lt, gt + 1));
      stack.pop();
      i = gt + 1;
      if (dropDepth >= 0 && stack.length === dropDepth) {
        dropDepth = -1;
        i = afterLine(i);
      }
      continue;
    }
    const tag = readStartTag(xml, lt);
    const dropWhole = dropDepth < 0 && DROP_ELEMENTS.has(tag.name);
    if (dropWhole) {
      removed.push(`${where(stack)} ${tag.name}`.trim());
      // An element alone on its lines goes with its lines: the rest reads as libvirt wrote it.
      const before = out.length > 0 ? out[out.length - 1]! : "";
      const indent = /\n[ \t]*$/.exec(before);
      wholeLines = indent !== null;
      if (indent) out[out.length - 1] = before.slice(0, indent.index + 1);
      if (!tag.selfClosing) dropDepth = stack.length;
      else {
        i = afterLine(tag.end);
        continue;
      }
    } else {
      const drop = DROP_ATTRS[tag.name];
      const cut = drop ? tag.attrs.filter((a) => drop.includes(a.name)) : [];
      if (cut.length === 0) emit(xml.slice(lt, tag.end));
      else {
        let s = "";
        let from = lt;
        for (const a of cut) {
          s += xml.slice(from, a.start);
          from = a.end;
        }
        emit(s + xml.slice(from, tag.end));
        const type = tag.attrs.find((a) => a.name === "type")?.value;
        removed.push(`${tag.name}${type ? `[${type}]` : ""} ${cut.map((a) => a.name).join(" ")}`);
      }
    }
    if (!tag.selfClosing) stack.push({ name: tag.name, attrs: tag.attrs });
    i = tag.end;
  }
  const result = out.join("");
  const dom = child(parseXml(result, "domain XML"), "domain");
  if (!dom || text(child(dom, "name")) === undefined) throw new HypervisorError("domain XML: no <domain><name>");
  return { xml: result, removed };
}

/** `devices disk source`: where in the domain an element is, for the removed list. */
function where(stack: readonly { name: string }[]): string {
  return stack
    .slice(1)
    .map((e) => e.name)
    .join(" ");
}

/** One start tag at `lt`: its name, attributes (with spans) and where it ends. */
function readStartTag(xml: string, lt: number): { name: string; attrs: Attr[]; selfClosing: boolean; end: number } {
  let i = lt + 1;
  const nameMatch = /^[^\s/>]+/.exec(xml.slice(i, i + 256));
  if (!nameMatch) throw new HypervisorError(`domain XML: bad tag at offset ${lt}`);
  const name = nameMatch[0];
  i += name.length;
  const attrs: Attr[] = [];
  for (;;) {
    const start = i;
    while (i < xml.length && /\s/.test(xml[i]!)) i++;
    if (i >= xml.length) throw new HypervisorError(`domain XML: unterminated <${name}>`);
    if (xml[i] === ">") return { name, attrs, selfClosing: false, end: i + 1 };
    if (xml.startsWith("/>", i)) return { name, attrs, selfClosing: true, end: i + 2 };
    const eq = xml.indexOf("=", i);
    if (eq < 0) throw new HypervisorError(`domain XML: bad attribute in <${name}>`);
    const attrName = xml.slice(i, eq).trim();
    i = eq + 1;
    while (i < xml.length && /\s/.test(xml[i]!)) i++;
    const q = xml[i];
    if (q !== "'" && q !== '"') throw new HypervisorError(`domain XML: unquoted attribute ${attrName} in <${name}>`);
    const close = xml.indexOf(q, i + 1);
    if (close < 0) throw new HypervisorError(`domain XML: unterminated attribute ${attrName} in <${name}>`);
    attrs.push({ name: attrName, value: xml.slice(i + 1, close), start, end: close + 1 });
    i = close + 1;
  }
}
