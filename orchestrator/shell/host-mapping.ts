import { readFile, stat } from "node:fs/promises";
import type { Logger } from "pino";
import { HostId, MigrationAddress } from "../../shared/schemas/ids.js";
import { ConfigError } from "../../shared/errors.js";

// host_mapping CSV: `host,address` per line; `#` starts a comment; blank lines are ignored;
// an optional header line `host,address` is allowed. Each hypervisor's migration-network
// address, so migrations need no DNS and can use a dedicated network.

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

/** Pure: parses the CSV text; throws HostMappingError naming the first bad line. */
export function parseHostMapping(text: string, origin = "host_mapping"): HostMapping {
  const map = new Map<string, string>();
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const lineNo = i + 1;
    const line = raw.replace(/#.*$/, "").trim();
    if (line.length === 0) return;
    const cells = line.split(",").map((c) => c.trim());
    if (lineNo === firstContentLine(lines) && cells[0]?.toLowerCase() === "host" && cells[1]?.toLowerCase() === "address") return;
    if (cells.length !== 2)
      throw new HostMappingError(`${origin} line ${lineNo}: expected "host,address", got ${cells.length} field(s): ${JSON.stringify(raw)}`, lineNo);
    const [host, address] = cells as [string, string];
    const h = HostId.safeParse(host);
    if (!h.success) throw new HostMappingError(`${origin} line ${lineNo}: bad host ${JSON.stringify(host)}: ${h.error.issues[0]?.message}`, lineNo);
    const a = MigrationAddress.safeParse(address);
    if (!a.success)
      throw new HostMappingError(`${origin} line ${lineNo}: bad address ${JSON.stringify(address)} for ${host}: ${a.error.issues[0]?.message}`, lineNo);
    if (map.has(host)) throw new HostMappingError(`${origin} line ${lineNo}: host ${host} is listed twice`, lineNo);
    map.set(host, address);
  });
  return map;
}

function firstContentLine(lines: string[]): number {
  const i = lines.findIndex((l) => l.replace(/#.*$/, "").trim().length > 0);
  return i + 1;
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
  ) {}

  /** Loads once; a bad file at start-up is an error (there is no last good mapping yet). */
  async load(): Promise<HostMapping> {
    const cannotRead = (e: Error): never => {
      throw new ConfigError(`cannot read host_mapping ${this.path}: ${e.message}`, "host_mapping", { cause: e });
    };
    this.seen = await stat(this.path).catch(cannotRead);
    const text = await readFile(this.path, "utf8").catch(cannotRead);
    this.current = parseHostMapping(text, this.path);
    this.lastError = undefined;
    return this.current;
  }

  async reload(): Promise<boolean> {
    try {
      await this.load();
      this.log.info({ path: this.path, hosts: this.current.size }, "host_mapping reloaded");
      return true;
    } catch (e) {
      this.lastError = (e as Error).message;
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
