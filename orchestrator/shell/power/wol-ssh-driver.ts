import { Client, type ConnectConfig } from "ssh2";
import { checkHostKey, fingerprint, keyTypeOf, knownHostName, patternsMatch, readKnownHosts } from "../../../deploy/installer/known-hosts.js";
import { shellJoin } from "../../../deploy/installer/shell-quote.js";
import type { PowerInterface } from "../../../shared/config/power-inventory.js";
import { describeError } from "../../../shared/errors.js";
import { abortWords, startDeadline, type Deadline } from "./deadline.js";
import { sendMagicPacket } from "./magic-packet.js";
import { PowerDriverError, type OffMode, type PowerAnswer, type PowerDriver, type PowerFailure, type PowerStatus } from "./power-driver.js";
import { readSecretBytes } from "./secret-file.js";

type WolSshPower = Extract<PowerInterface, { driver: "wol-ssh" }>;

// Wake-on-LAN to switch on, SSH (ssh2) to switch off and to read the state. The host key is
// always checked against known_hosts_file, never learnt: a host that answers with another key
// is an error (someone else holds its address), never "off". An SSH server that answers with
// the known key is on; a refused connection, an unreachable host or no SSH handshake within the
// timeout is off. WoL cannot cut power, so there is no hard power-off here: fencing needs a BMC
// (ipmi or redfish).

type Operation = "status" | "on" | "off";

/** How one SSH connection attempt ended. */
type Connected = { ok: true; client: Client; keyText: string } | { ok: false; down: string | undefined; error: PowerDriverError };

export class WolSshDriver implements PowerDriver {
  readonly kind = "wol-ssh" as const;
  private readonly knownName: string;

  constructor(
    readonly host: string,
    private readonly cfg: WolSshPower,
  ) {
    this.knownName = knownHostName(cfg.ssh_host, cfg.ssh_port);
  }

  async status(signal?: AbortSignal): Promise<PowerStatus> {
    const deadline = startDeadline(this.cfg.timeout, signal);
    try {
      const c = await this.connect("status", deadline);
      if (!c.ok) {
        if (c.down !== undefined) return { state: "off", detail: c.down };
        throw c.error;
      }
      c.client.end();
      return { state: "on", detail: `SSH server at ${this.where()} answered with its known host key (${c.keyText})` };
    } finally {
      deadline.dispose();
    }
  }

  async on(signal?: AbortSignal): Promise<PowerAnswer> {
    const deadline = startDeadline(this.cfg.timeout, signal);
    try {
      await sendMagicPacket(this.cfg.mac, this.cfg.broadcast, this.cfg.wol_port, deadline.signal);
      return { detail: `Wake-on-LAN magic packet for ${this.cfg.mac} sent to ${this.cfg.broadcast}:${this.cfg.wol_port}` };
    } catch (e) {
      if (deadline.signal.aborted) throw this.error("on", "timeout", `sending the magic packet: ${abortWords(deadline, this.cfg.timeout)}`, e);
      throw this.error("on", "unreachable", `cannot send the magic packet to ${this.cfg.broadcast}:${this.cfg.wol_port}: ${describeError(e)}`, e);
    } finally {
      deadline.dispose();
    }
  }

  /** soft: runs shutdown_command over SSH. hard is refused: SSH cannot cut power. */
  async off(mode: OffMode, signal?: AbortSignal): Promise<PowerAnswer> {
    if (mode === "hard")
      throw this.error("off", "config", "wol-ssh cannot cut power (a hard power-off, as fencing needs, takes a BMC: use the ipmi or redfish driver)");
    let command: string;
    try {
      command = shellJoin(this.cfg.shutdown_command);
    } catch (e) {
      throw this.error("off", "config", `shutdown_command: ${describeError(e)}`, e);
    }
    const deadline = startDeadline(this.cfg.timeout, signal);
    try {
      const c = await this.connect("off", deadline);
      if (!c.ok) throw c.error;
      try {
        return await this.runShutdown(c.client, command, deadline);
      } finally {
        c.client.end();
      }
    } finally {
      deadline.dispose();
    }
  }

  private runShutdown(client: Client, command: string, deadline: Deadline): Promise<PowerAnswer> {
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(this.error("off", "timeout", `${command}: ${abortWords(deadline, this.cfg.timeout)}`));
      deadline.signal.addEventListener("abort", onAbort, { once: true });
      const done = () => deadline.signal.removeEventListener("abort", onAbort);
      client.exec(command, (err, stream) => {
        if (err) {
          done();
          return reject(this.error("off", "protocol", `cannot run the shutdown command: ${err.message}`, err));
        }
        let stderr = "";
        let code: number | null | undefined;
        stream.stderr.on("data", (d: Buffer) => {
          if (stderr.length < 8192) stderr += d.toString("utf8");
        });
        stream.on("data", () => undefined);
        stream.on("exit", (c: number | null) => {
          code = c;
        });
        stream.on("close", () => {
          done();
          if (code === 0) resolve({ detail: `${command}: exit status 0` });
          else if (code === undefined || code === null)
            // A shutdown may take sshd down before it reports the command's exit status.
            resolve({ detail: `${command}: the connection closed before an exit status (as a shutdown does)` });
          else reject(this.error("off", "refused", `${command} exited with status ${code}${stderr.trim() ? `: ${stderr.trim().slice(0, 500)}` : ""}`));
        });
      });
    });
  }

  /** Opens an SSH session: host key checked, then public-key authentication as ssh_user. */
  private connect(operation: Operation, deadline: Deadline): Promise<Connected> {
    let privateKey: Buffer;
    try {
      privateKey = readSecretBytes(this.cfg.private_key_file, "private_key_file");
    } catch (e) {
      return Promise.resolve({ ok: false, down: undefined, error: this.error(operation, "config", describeError(e), e) });
    }
    const client = new Client();
    let keyProblem: string | undefined;
    let keyText = "";
    const cfg: ConnectConfig = {
      host: this.cfg.ssh_host,
      port: this.cfg.ssh_port,
      username: this.cfg.ssh_user,
      privateKey,
      readyTimeout: deadline.timeoutMs,
      hostVerifier: (key: Buffer) => {
        keyText = `${keyTypeOf(key)} ${fingerprint(key)}`;
        keyProblem = this.hostKeyProblem(key);
        return keyProblem === undefined;
      },
    };
    return new Promise((resolve) => {
      const settle = (c: Connected) => {
        deadline.signal.removeEventListener("abort", onAbort);
        client.removeAllListeners("ready");
        client.removeAllListeners("error");
        client.on("error", () => undefined);
        if (!c.ok) client.destroy();
        resolve(c);
      };
      // No SSH server answered: "off" to a status call, an error to the others.
      const down = (why: string, e?: unknown, failure: PowerFailure = "unreachable") =>
        settle({ ok: false, down: `ssh ${this.where()}: ${why}`, error: this.error(operation, failure, `ssh ${this.where()}: ${why}`, e) });
      const onAbort = () => {
        if (deadline.timedOut()) down(`no SSH handshake within ${this.cfg.timeout} s`, undefined, "timeout");
        else settle({ ok: false, down: undefined, error: this.error(operation, "timeout", `ssh ${this.where()}: cancelled by the caller`) });
      };
      deadline.signal.addEventListener("abort", onAbort, { once: true });
      client.once("ready", () => settle({ ok: true, client, keyText }));
      client.once("error", (e: Error & { level?: string; code?: string }) => {
        if (keyProblem !== undefined)
          return settle({ ok: false, down: undefined, error: this.error(operation, "auth", `ssh ${this.where()}: ${keyProblem}`, e) });
        if (e.level === "client-authentication")
          return settle({
            ok: false,
            down: undefined,
            error: this.error(
              operation,
              "auth",
              `ssh ${this.where()}: authentication as ${this.cfg.ssh_user} with ${this.cfg.private_key_file} failed: ${e.message}`,
              e,
            ),
          });
        const code = e.code ?? "";
        if (code === "ECONNREFUSED") return down("connection refused", e);
        if (code === "EHOSTUNREACH" || code === "ENETUNREACH" || code === "EHOSTDOWN") return down(`${code}: ${e.message}`, e);
        if (code === "ETIMEDOUT" || /timed out/i.test(e.message)) return down(`no SSH handshake within ${this.cfg.timeout} s (${e.message})`, e, "timeout");
        if (code === "ENOTFOUND" || code === "EAI_AGAIN")
          return settle({
            ok: false,
            down: undefined,
            error: this.error(operation, "unreachable", `ssh ${this.where()}: cannot resolve ${this.cfg.ssh_host} (${code})`, e),
          });
        settle({ ok: false, down: undefined, error: this.error(operation, "protocol", `ssh ${this.where()}: ${code ? `${code}: ` : ""}${e.message}`, e) });
      });
      try {
        client.connect(cfg);
      } catch (e) {
        // ssh2 parses the private key synchronously.
        settle({ ok: false, down: undefined, error: this.error(operation, "config", `private_key_file ${this.cfg.private_key_file}: ${describeError(e)}`, e) });
      }
    });
  }

  /** Why the presented host key is not accepted; undefined when known_hosts_file lists it for this host. */
  private hostKeyProblem(key: Buffer): string | undefined {
    let entries;
    try {
      entries = readKnownHosts(this.cfg.known_hosts_file);
    } catch (e) {
      return `cannot read known_hosts_file ${this.cfg.known_hosts_file}: ${describeError(e)}`;
    }
    const verdict = checkHostKey(entries, this.knownName, key, false);
    if (verdict.ok) return undefined;
    if (!entries.some((e) => e.marker === "" && patternsMatch(e.patterns, this.knownName)))
      return `unknown host key for ${this.knownName}: ${keyTypeOf(key)} ${fingerprint(key)} is not in known_hosts_file ${this.cfg.known_hosts_file} (add it after checking the fingerprint, e.g. with ssh-keyscan)`;
    return `${verdict.reason} [known_hosts_file: ${this.cfg.known_hosts_file}]`;
  }

  private where(): string {
    return `${this.cfg.ssh_user}@${this.cfg.ssh_host}:${this.cfg.ssh_port}`;
  }

  private error(operation: Operation, failure: PowerFailure, message: string, cause?: unknown): PowerDriverError {
    return new PowerDriverError(this.host, operation, failure, message, cause === undefined ? undefined : { cause });
  }
}
