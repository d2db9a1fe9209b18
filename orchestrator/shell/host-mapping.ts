import { readFile, stat } from "node:fs/promises";
import type { Logger } from "pino";
import { HostId, MigrationAddress } from "../../shared/schemas/ids.js";
import { ConfigError } from "../../shared/errors.js";
import { systemClock, type Clock } from "./clock.js";

// host_mapping CSV: `host,address` per line; `#` starts a comment; blank lines are ignored; a
// header `host,address` is allowed as the first record only. Each hypervisor's migration-network
// address (an IPv4 or IPv6 literal or a DNS name), so migrations need no DNS and can use a
// dedicated network.

export type HostMapping = ReadonlyMap<string, string>;

export class HostMappingError extends ConfigError {
  override readonly name: string = "HostMappingError";
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message, "host_mapping");
  }
}

const isHeader = (cells: readonly string[]): boolean => cells.length === 2 && cells[0]!.toLowerCase() === "host" && cells[1]!.toLowerCase() === "address";

/**
 * Pure: parses the CSV text; throws HostMappingError naming the first bad line. Things that are
 * allowed but probably wrong (two hosts with one address) are pushed to `warnings`.
 */
export function parseHostMapping(text: string, origin = "host_mapping", warnings: string[] = []): HostMapping {
  const map = new Map<string, string>();
  const byAddress = new Map<string, { host: string; line: number }>();
  let records = 0;
  text.split(/\r?\n/).forEach((raw, i) => {
    const lineNo = i + 1;
    const line = raw.replace(/#.*$/, "").trim();
    if (line.length === 0) return;
    records += 1;
    const cells = line.split(",").map((c) => c.trim());
    if (isHeader(cells)) {
      if (records === 1) return;
      throw new HostMappingError(`${origin} line ${lineNo}: a "host,address" header is only allowed as the first record`, lineNo);
    }
    if (cells.length !== 2)
      throw new HostMappingError(`${origin} line ${lineNo}: expected "host,address", got ${cells.length} field(s): ${JSON.stringify(raw)}`, lineNo);
    const [host, address] = cells as [string, string];
    const h = HostId.safeParse(host);
    if (!h.success) throw new HostMappingError(`${origin} line ${lineNo}: bad host ${JSON.stringify(host)}: ${h.error.issues[0]?.message}`, lineNo);
    const a = MigrationAddress.safeParse(address);
    if (!a.success)
      throw new HostMappingError(`${origin} line ${lineNo}: bad address ${JSON.stringify(address)} for ${host}: ${a.error.issues[0]?.message}`, lineNo);
    if (map.has(host)) throw new HostMappingError(`${origin} line ${lineNo}: host ${host} is listed twice`, lineNo);
    const other = byAddress.get(address.toLowerCase());
    if (other)
      warnings.push(
        `${origin} line ${lineNo}: ${host} has the address ${address} of ${other.host} (line ${other.line}); migrations to either go to the same machine`,
      );
    else byAddress.set(address.toLowerCase(), { host, line: lineNo });
    map.set(host, address);
  });
  return map;
}

/** What status reports of the host_mapping file. */
export interface HostMappingState {
  /** The file, or null when the mapping is fixed (the demo, tests). */
  path: string | null;
  /** Hosts in the mapping in force. */
  hosts: number;
  /** When the mapping in force was read, ms since the epoch. */
  loadedAt: number | null;
  /** Why the newest version of the file was rejected (the older mapping stays in force); null when it was not. */
  error: string | null;
  /** When it was rejected, ms since the epoch. */
  errorAt: number | null;
  /** Warnings about the mapping in force. */
  warnings: string[];
}

/** What identifies one version of the file, as far as polling can tell. */
interface FileVersion {
  readonly mtimeMs: number;
  readonly size: number;
  readonly ino: number;
}

const sameVersion = (a: FileVersion | undefined, b: FileVersion): boolean => a !== undefined && a.mtimeMs === b.mtimeMs && a.size === b.size && a.ino === b.ino;

/**
 * Keeps the mapping of a file current: reloads when the file changes (polling, because editors
 * replace files and inotify watches then go stale); a bad file is reported and the last good
 * mapping stays in force.
 */
export class HostMappingFile {
  private current: HostMapping = new Map();
  private lastError: string | undefined;
  private lastErrorAt: number | undefined;
  private loadedAt: number | undefined;
  private warnings: string[] = [];
  // The version last read (good or bad), stat'ed before reading: a write that lands while we read
  // changes the version again, so the next poll picks it up. fs.watchFile took its own baseline when
  // it started, which missed a write landing between load() and watch().
  private seen: FileVersion | undefined;
  private timer: NodeJS.Timeout | undefined;
  private polling = false;

  constructor(
    readonly path: string,
    private readonly log: Logger,
    private readonly pollMs = 1000,
    /** Stamps loadedAt / errorAt: the orchestrator's clock, as every other time in status. */
    private readonly clock: Clock = systemClock,
  ) {}

  /** Loads once; a bad file at start-up is an error (there is no last good mapping yet). */
  async load(): Promise<HostMapping> {
    const cannotRead = (e: Error): never => {
      throw new ConfigError(`cannot read host_mapping ${this.path}: ${e.message}`, "host_mapping", { cause: e });
    };
    this.seen = await stat(this.path).catch(cannotRead);
    const text = await readFile(this.path, "utf8").catch(cannotRead);
    const warnings: string[] = [];
    this.current = parseHostMapping(text, this.path, warnings);
    this.warnings = warnings;
    this.loadedAt = this.clock.now();
    this.lastError = undefined;
    this.lastErrorAt = undefined;
    for (const w of warnings) this.log.warn({ path: this.path }, w);
    return this.current;
  }

  async reload(): Promise<boolean> {
    try {
      await this.load();
      this.log.info({ path: this.path, hosts: this.current.size }, "host_mapping reloaded");
      return true;
    } catch (e) {
      this.lastError = (e as Error).message;
      this.lastErrorAt = this.clock.now();
      this.log.error({ path: this.path, err: this.lastError }, "host_mapping rejected; keeping the last good mapping");
      return false;
    }
  }

  watch(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.poll(), this.pollMs);
    this.timer.unref();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  get mapping(): HostMapping {
    return this.current;
  }

  get error(): string | undefined {
    return this.lastError;
  }

  state(): HostMappingState {
    return {
      path: this.path,
      hosts: this.current.size,
      loadedAt: this.loadedAt ?? null,
      error: this.lastError ?? null,
      errorAt: this.lastErrorAt ?? null,
      warnings: [...this.warnings],
    };
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const now = await stat(this.path).catch(() => undefined);
      // A file that vanished (an editor's rename-into-place) is caught on the next poll.
      if (now === undefined || sameVersion(this.seen, now)) return;
      this.seen = now;
      await this.reload();
    } finally {
      this.polling = false;
    }
  }
}
