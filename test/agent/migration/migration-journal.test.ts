import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { FileMigrationJournal, type JournalEntry } from "../../../agent/migration/migration-journal.js";

const root = mkdtempSync(join(tmpdir(), "ballast-journal-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A logger whose lines the test reads. */
function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: "debug" }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { log, lines };
}

const entry = (id: string, over: Partial<JournalEntry> = {}): JournalEntry => ({
  requestId: id,
  vm: "vm1",
  destination: "hv-b",
  destinationAddress: "10.0.0.2",
  startedAt: 1_700_000_000_000,
  deadline: 1_700_000_600_000,
  ...over,
});

describe("FileMigrationJournal", () => {
  it("survives a new instance (a restart): entries, outcomes, removal; the file goes when empty", () => {
    const dir = join(root, "a");
    const { log } = capture();
    const j = new FileMigrationJournal(dir, "hv-a", log);
    expect(j.load()).toEqual([]);
    j.put(entry("r1", { timeoutS: 60 }));
    j.put(entry("r2", { vm: "vm2" }));
    const file = join(dir, "agent-hv-a-migrations.json");
    expect(j.where).toBe(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const again = new FileMigrationJournal(dir, "hv-a", log);
    expect(again.load()).toEqual([entry("r1", { timeoutS: 60 }), entry("r2", { vm: "vm2" })]);
    const outcome = { v: 1 as const, type: "migration.succeeded" as const, ts: 1, requestId: "r1", vm: "vm1", source: "hv-a", destination: "hv-b" };
    again.put({ ...entry("r1", { timeoutS: 60 }), outcome });
    again.remove("r2");
    expect(new FileMigrationJournal(dir, "hv-a", log).load()).toEqual([{ ...entry("r1", { timeoutS: 60 }), outcome }]);
    again.remove("r1");
    expect(existsSync(file)).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("keeps a file that does not parse aside, says so, and starts empty", () => {
    const dir = join(root, "b");
    const { log, lines } = capture();
    const j = new FileMigrationJournal(dir, "hv-a", log);
    writeFileSync(j.where, '{"v":1,"host":"hv-a","migrations":[{"requestId":"r1"}]}');
    expect(j.load()).toEqual([]);
    expect(lines.at(-1)).toMatchObject({ level: 50, msg: "the migration journal does not parse; ignored" });
    const aside = readdirSync(dir).filter((f) => f.includes(".bad-"));
    expect(aside).toHaveLength(1);
    expect(readFileSync(join(dir, aside[0]!), "utf8")).toContain('"r1"');
    j.put(entry("r3"));
    expect(new FileMigrationJournal(dir, "hv-a", log).load()).toEqual([entry("r3")]);
  });

  it("ignores another host's journal and one per host shares a directory", () => {
    const dir = join(root, "c");
    const { log, lines } = capture();
    new FileMigrationJournal(dir, "hv-b", log).put(entry("rb"));
    const a = new FileMigrationJournal(dir, "hv-a", log);
    expect(a.load()).toEqual([]);
    writeFileSync(a.where, JSON.stringify({ v: 1, host: "hv-b", migrations: [entry("x")] }));
    expect(a.load()).toEqual([]);
    expect(lines.at(-1)).toMatchObject({ msg: "the migration journal belongs to another host; ignored" });
    expect(new FileMigrationJournal(dir, "hv-b", log).load()).toEqual([entry("rb")]);
  });

  it("a write that fails is logged, not thrown (the migration goes on)", () => {
    const dir = join(root, "d");
    const { log, lines } = capture();
    const j = new FileMigrationJournal(dir, "hv-a", log);
    rmSync(dir, { recursive: true });
    writeFileSync(dir, "not a directory");
    expect(() => j.put(entry("r1"))).not.toThrow();
    expect(lines.at(-1)).toMatchObject({ level: 50, msg: "cannot write the migration journal" });
  });
});
