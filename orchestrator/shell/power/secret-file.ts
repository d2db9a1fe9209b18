import { readFileSync, statSync } from "node:fs";
import { ConfigError, describeError } from "../../../shared/errors.js";

// Power credentials live in files only the orchestrator's user may read. The rule is OpenSSH's
// for private keys: no permission bit for group or others (a group-writable file can be swapped
// for one the attacker knows). The inventory loader checks every secret file at start, and the
// drivers read (and check) the file again at every call, so a rotated password or key takes
// effect without a restart and a file whose mode was loosened since is refused.

export class UnsafeSecretFileError extends ConfigError {
  override readonly name: string = "UnsafeSecretFileError";
  constructor(
    readonly file: string,
    readonly mode: number,
    key?: string,
  ) {
    super(
      `secret file ${file} has mode ${modeText(mode)}: group or others may access it; make it readable by the orchestrator's user only (chmod 600 ${file})`,
      key,
    );
  }
}

export const modeText = (mode: number): string => `0${(mode & 0o7777).toString(8).padStart(3, "0")}`;

/** Throws a ConfigError when the file is missing, not a regular file, or open to group/others. */
export function checkSecretFile(file: string, key?: string): void {
  let st;
  try {
    st = statSync(file);
  } catch (e) {
    throw new ConfigError(`cannot read secret file ${file}: ${describeError(e)}`, key, { cause: e });
  }
  if (!st.isFile()) throw new ConfigError(`secret file ${file} is not a regular file`, key);
  if ((st.mode & 0o077) !== 0) throw new UnsafeSecretFileError(file, st.mode, key);
}

/** The file's bytes (a private key), after checkSecretFile. */
export function readSecretBytes(file: string, key?: string): Buffer {
  checkSecretFile(file, key);
  try {
    return readFileSync(file);
  } catch (e) {
    throw new ConfigError(`cannot read secret file ${file}: ${describeError(e)}`, key, { cause: e });
  }
}

/** The first line of the file (a password), without its line ending; an empty one is an error. */
export function readSecretLine(file: string, key?: string): string {
  const line = readSecretBytes(file, key).toString("utf8").split(/\r?\n/, 1)[0] ?? "";
  if (line.length === 0) throw new ConfigError(`secret file ${file} is empty (the secret is its first line)`, key);
  return line;
}
