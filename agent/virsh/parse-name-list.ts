// Parser for one-name-per-line virsh lists (`virsh net-list --name`, `list --name`): the names,
// without blanks or duplicates, sorted. Pure.

export function parseNameList(text: string): string[] {
  return [...new Set(text.split(/\r?\n/).map((l) => l.trim()))].filter((l) => l !== "").sort();
}
