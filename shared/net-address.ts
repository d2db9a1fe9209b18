// What counts as a network address where Ballast takes one (host_mapping, migrate requests): an
// IPv4 literal, an IPv6 literal without brackets, zone or port, or a DNS name. Pure string checks
// (no resolver, no node:net), so the schemas that use them stay usable everywhere.

/** Four decimal octets 0-255, no leading zeros (`010` reads as octal to some tools). */
export function isIPv4(s: string): boolean {
  const parts = s.split(".");
  return parts.length === 4 && parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255);
}

/** RFC 4291 text form: eight groups of 1-4 hex digits, one `::` at most, an IPv4 tail allowed. */
export function isIPv6(s: string): boolean {
  if (s.length < 2 || s.length > 45 || !/^[0-9A-Fa-f:.]+$/.test(s)) return false;
  const halves = s.split("::");
  if (halves.length > 2) return false;
  const groups = (part: string): string[] | null => (part === "" ? [] : part.split(":"));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (head === null || tail === null) return false;
  const all = [...head, ...tail];
  // An IPv4 tail (::ffff:10.0.0.1) counts as two groups, and only at the very end.
  let count = all.length;
  const last = all[all.length - 1];
  if (last !== undefined && last.includes(".")) {
    if (!isIPv4(last)) return false;
    count += 1;
    all.pop();
  }
  if (!all.every((g) => /^[0-9A-Fa-f]{1,4}$/.test(g))) return false;
  return halves.length === 2 ? count <= 7 : count === 8;
}

/**
 * A DNS host name: labels of 1-63 letters, digits and hyphens, not starting or ending with a
 * hyphen, 253 characters at most, and a last label that is not all digits (else it is a mistyped
 * IPv4 address such as 10.10.0.999, RFC 3696 section 2).
 */
export function isDnsName(s: string): boolean {
  if (s.length === 0 || s.length > 253) return false;
  const labels = s.split(".");
  if (!labels.every((l) => /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l))) return false;
  return !/^[0-9]+$/.test(labels[labels.length - 1]!);
}

/** What is wrong with `s` as an address, or undefined when it is an IPv4, IPv6 or DNS name. */
export function addressProblem(s: string): string | undefined {
  if (isIPv4(s) || isIPv6(s) || isDnsName(s)) return undefined;
  if (/^[0-9.]+$/.test(s)) return "not an IPv4 address (four numbers 0-255, no leading zeros)";
  if (s.includes(":")) return "not an IPv6 address (write it without brackets, zone or port)";
  return "not a DNS name (labels of letters, digits and hyphens, a last label that is not all digits)";
}
