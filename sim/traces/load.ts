import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { compareBytes, parseTrace, TraceParseError, type TraceFormat, type VmTrace } from "./parse.js";

// The only file-system code of the simulator's input side: read a folder of per-VM trace files
// in sorted byte order (not the file system's order: VM i's size depends on its position).

export interface LoadOptions {
  /** Lines each file must have; 0 accepts any length. Default 288. */
  expectedSamples?: number;
  /** Keep at most this many files (after sorting), for short test runs. */
  limit?: number;
}

export function listTraceFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => !f.startsWith(".") && f !== "README.md" && statSync(join(dir, f)).isFile())
    .sort(compareBytes);
}

export function loadTraceDir(dir: string, format: TraceFormat, opts: LoadOptions = {}): VmTrace[] {
  let files = listTraceFiles(dir);
  if (opts.limit !== undefined) files = files.slice(0, opts.limit);
  if (files.length === 0) throw new TraceParseError(`${dir}: no trace files`);
  return files.map((f) => parseTrace(format, readFileSync(join(dir, f), "utf8"), f, opts.expectedSamples ?? 288));
}
