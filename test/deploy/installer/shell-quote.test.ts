import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { shellJoin, shellQuote } from "../../../deploy/installer/shell-quote.js";

/** What `sh` makes of the quoted word: printed back byte for byte. */
const echoBack = (value: string, cwd: string) => execFileSync("sh", ["-c", `printf '%s' ${shellQuote(value)}`], { cwd, encoding: "utf8" });

describe("shellQuote", () => {
  const dir = mkdtempSync(join(tmpdir(), "ballast-quote-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ["plain", "/opt/ballast", "/opt/ballast"],
    ["empty", "", "''"],
    ["space", "a b", "'a b'"],
    ["single quote", "it's", `'it'\\''s'`],
    ["assignment-looking", "A=b", "'A=b'"],
    ["tilde", "~root", "'~root'"],
    ["glob", "*", "'*'"],
  ])("%s", (_name, input, quoted) => {
    expect(shellQuote(input)).toBe(quoted);
  });

  it.each([
    "; rm -rf /",
    "$(touch PWNED)",
    "`touch PWNED`",
    "a'; touch PWNED; echo '",
    '"$(touch PWNED)"',
    "x\ntouch PWNED",
    "${IFS}touch${IFS}PWNED",
    "a && touch PWNED || touch PWNED",
    "> PWNED",
    "'",
    "\\'",
    "-n",
  ])("hostile %j reaches the command as one literal word and runs nothing", (hostile) => {
    expect(echoBack(hostile, dir)).toBe(hostile);
    expect(existsSync(join(dir, "PWNED"))).toBe(false);
  });

  it("round-trips any string without NUL through sh", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "binary", maxLength: 40 }).filter((s) => !s.includes("\0")),
        (s) => {
          expect(echoBack(s, dir)).toBe(s);
        },
      ),
      { numRuns: 150 },
    );
    expect(existsSync(join(dir, "PWNED"))).toBe(false);
  });

  it("refuses NUL", () => {
    expect(() => shellQuote("a\0b")).toThrow(/NUL/);
  });

  it("shellJoin quotes every argument", () => {
    expect(shellJoin(["systemctl", "restart", "x y.service"])).toBe("systemctl restart 'x y.service'");
    const out = execFileSync("sh", ["-c", `${shellJoin(["printf", "%s|", "a b", "$(id)", "'"])}`], { encoding: "utf8" });
    expect(out).toBe("a b|$(id)|'|");
  });
});
