import { ValidationError } from "../../shared/errors.js";

// Every remote command the installer runs is one string for `sh -c` on the hypervisor (that is
// what SSH exec gives us). Values come from the validated inventory only, and each one is still
// quoted here: single quotes make the shell take every byte literally, and a single quote inside
// the value becomes '\'' (close, escaped quote, reopen). NUL cannot be passed at all, so a value
// holding one is refused rather than silently cut.

/** One shell word that `sh` reads back as exactly `value`, whatever bytes it holds. */
export function shellQuote(value: string): string {
  if (value.includes("\0")) throw new ValidationError("BAD_REQUEST", "a NUL byte cannot be passed to a remote shell");
  // Plain words stay readable in logs; "=" is left out so a value can never read as an assignment.
  if (value.length > 0 && /^[A-Za-z0-9_/.,:@%+-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** A command line from argv: every element quoted. */
export function shellJoin(argv: readonly string[]): string {
  return argv.map(shellQuote).join(" ");
}
