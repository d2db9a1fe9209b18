import { createHmac, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { checkHostKey, fingerprint, keyTypeOf, knownHostName, parseKnownHosts, patternsMatch } from "../../../deploy/installer/known-hosts.js";

// An SSH public key blob: string type, then key material.
function blob(type: string, material: Buffer): Buffer {
  const t = Buffer.from(type);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(t.length);
  const mlen = Buffer.alloc(4);
  mlen.writeUInt32BE(material.length);
  return Buffer.concat([len, t, mlen, material]);
}
const keyA = blob("ssh-ed25519", randomBytes(32));
const keyB = blob("ssh-ed25519", randomBytes(32));
const rsa = blob("ssh-rsa", randomBytes(64));
const line = (name: string, k: Buffer, marker = "") => `${marker ? marker + " " : ""}${name} ${keyTypeOf(k)} ${k.toString("base64")}`;

describe("known_hosts", () => {
  it("names non-22 ports in brackets", () => {
    expect(knownHostName("10.0.0.1", 22)).toBe("10.0.0.1");
    expect(knownHostName("10.0.0.1", 2222)).toBe("[10.0.0.1]:2222");
  });

  it("matches plain, listed, wildcard, negated and hashed patterns", () => {
    expect(patternsMatch("hv-a,10.0.0.1", "10.0.0.1")).toBe(true);
    expect(patternsMatch("hv-*.example.org", "hv-7.example.org")).toBe(true);
    expect(patternsMatch("hv-?", "hv-10")).toBe(false);
    expect(patternsMatch("*.example.org,!bad.example.org", "bad.example.org")).toBe(false);
    expect(patternsMatch("[10.0.0.1]:2222", "[10.0.0.1]:2222")).toBe(true);
    expect(patternsMatch("[10.0.0.1]:2222", "10.0.0.1")).toBe(false);
    const salt = randomBytes(20);
    const hashed = `|1|${salt.toString("base64")}|${createHmac("sha1", salt).update("hv-a").digest("base64")}`;
    expect(patternsMatch(hashed, "hv-a")).toBe(true);
    expect(patternsMatch(hashed, "hv-b")).toBe(false);
  });

  it("accepts the recorded key, refuses a different one (mismatch) and unknown hosts unless told", () => {
    const entries = parseKnownHosts(["# comment", "", line("hv-a", keyA), line("@cert-authority *.example.org", keyB)].join("\n"));
    expect(entries).toHaveLength(2);
    expect(checkHostKey(entries, "hv-a", keyA, false)).toEqual({ ok: true, known: true });
    const mismatch = checkHostKey(entries, "hv-a", keyB, true);
    expect(mismatch.ok).toBe(false);
    expect(!mismatch.ok && mismatch.reason).toMatch(/HOST KEY MISMATCH for hv-a/);
    const otherType = checkHostKey(entries, "hv-a", rsa, true);
    expect(!otherType.ok && otherType.reason).toMatch(/ssh-rsa key .* only lists ssh-ed25519/);
    const unknown = checkHostKey(entries, "hv-b", keyA, false);
    expect(!unknown.ok && unknown.reason).toContain(`unknown host key for hv-b: ssh-ed25519 ${fingerprint(keyA)}`);
    expect(checkHostKey(entries, "hv-b", keyA, true)).toEqual({ ok: true, known: false, recorded: true });
  });

  it("refuses a revoked key even when it is also listed", () => {
    const entries = parseKnownHosts([line("hv-a", keyA), line("hv-a", keyA, "@revoked")].join("\n"));
    const v = checkHostKey(entries, "hv-a", keyA, true);
    expect(!v.ok && v.reason).toMatch(/@revoked/);
  });

  it("fingerprints like ssh-keygen -l", () => {
    expect(fingerprint(keyA)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });
});
