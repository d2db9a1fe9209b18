import { readFileSync } from "node:fs";
import { Client, type ConnectConfig, type SFTPWrapper } from "ssh2";
import { BallastError, describeError } from "../../shared/errors.js";
import type { HostTarget } from "./inventory.js";
import { appendKnownHost, checkHostKey, knownHostName, readKnownHosts } from "./known-hosts.js";

// The installer's only view of a host: run a command, put a file. SshRemote is the ssh2
// implementation; tests of the executor can plug in anything else.

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RemoteHost {
  /** Runs one command line (already quoted) and collects its output; never rejects on a non-zero exit. */
  exec(command: string, opts?: { timeoutMs?: number }): Promise<ExecResult>;
  /** Copies a local file to a remote path (SFTP). */
  upload(localPath: string, remotePath: string): Promise<void>;
  /** Writes content to a remote path, mode 0600 (SFTP). */
  writeFile(remotePath: string, content: string): Promise<void>;
  close(): void;
}

export class SshError extends BallastError {
  override readonly name: string = "SshError";
  constructor(message: string, options?: { cause?: unknown }) {
    super("INTERNAL", message, options);
  }
}

const MAX_OUTPUT = 64 * 1024;

export class SshRemote implements RemoteHost {
  private sftpSession: Promise<SFTPWrapper> | undefined;
  private constructor(
    private readonly client: Client,
    private readonly label: string,
  ) {}

  /** Connects and authenticates, checking the host key against known_hosts (strict unless acceptNew). */
  static async connect(t: HostTarget, env: NodeJS.ProcessEnv = process.env): Promise<SshRemote> {
    const client = new Client();
    const name = knownHostName(t.address, t.port);
    const label = `${t.user}@${t.address}:${t.port}`;
    let keyProblem: string | undefined;
    const cfg: ConnectConfig = {
      host: t.address,
      port: t.port,
      username: t.user,
      readyTimeout: t.connectTimeoutMs,
      keepaliveInterval: 10_000,
      hostVerifier: (key: Buffer) => {
        let verdict;
        try {
          verdict = checkHostKey(readKnownHosts(t.knownHosts), name, key, t.acceptNew);
        } catch (e) {
          keyProblem = `cannot read known_hosts ${t.knownHosts}: ${describeError(e)}`;
          return false;
        }
        if (!verdict.ok) {
          keyProblem = `${verdict.reason} [known_hosts: ${t.knownHosts}]`;
          return false;
        }
        if (!verdict.known) appendKnownHost(t.knownHosts, name, key);
        return true;
      },
    };
    if (t.privateKey !== undefined) {
      try {
        cfg.privateKey = readFileSync(t.privateKey);
      } catch (e) {
        throw new SshError(`cannot read private key ${t.privateKey}: ${describeError(e)}`, { cause: e });
      }
    } else if (env.SSH_AUTH_SOCK) cfg.agent = env.SSH_AUTH_SOCK;
    else throw new SshError("no SSH credentials: set defaults.ssh.private_key (or private_key per host), or run an ssh-agent (SSH_AUTH_SOCK)");

    await new Promise<void>((resolve, reject) => {
      const onError = (e: Error & { level?: string; code?: string }) => {
        client.removeListener("ready", onReady);
        client.end();
        let why = describeError(e);
        if (keyProblem) why = keyProblem;
        else if (e.level === "client-authentication") why = `authentication as ${t.user} failed (key ${t.privateKey ?? "from ssh-agent"} not accepted): ${why}`;
        else if (e.code === "ECONNREFUSED") why = `connection refused (is sshd listening on port ${t.port}?)`;
        else if (/timed out/i.test(why)) why = `no SSH handshake within ${t.connectTimeoutMs / 1000} s (${why})`;
        reject(new SshError(`ssh ${label}: ${why}`, { cause: e }));
      };
      const onReady = () => {
        client.removeListener("error", onError);
        client.on("error", () => undefined);
        resolve();
      };
      client.once("error", onError);
      client.once("ready", onReady);
      client.connect(cfg);
    });
    return new SshRemote(client, label);
  }

  exec(command: string, opts: { timeoutMs?: number } = {}): Promise<ExecResult> {
    const timeoutMs = opts.timeoutMs ?? 120_000;
    return new Promise((resolve, reject) => {
      this.client.exec(command, (err, stream) => {
        if (err) return reject(new SshError(`ssh ${this.label}: cannot run a command: ${err.message}`, { cause: err }));
        let stdout = "";
        let stderr = "";
        let code: number | undefined;
        const timer = setTimeout(() => {
          stream.close();
          reject(new SshError(`ssh ${this.label}: command did not finish within ${timeoutMs / 1000} s`));
        }, timeoutMs);
        stream.on("data", (d: Buffer) => {
          if (stdout.length < MAX_OUTPUT) stdout += d.toString("utf8");
        });
        stream.stderr.on("data", (d: Buffer) => {
          if (stderr.length < MAX_OUTPUT) stderr += d.toString("utf8");
        });
        stream.on("exit", (c: number | null, signal?: string) => {
          code = c ?? (signal ? 128 : -1);
        });
        stream.on("close", () => {
          clearTimeout(timer);
          resolve({ code: code ?? -1, stdout, stderr });
        });
      });
    });
  }

  private sftp(): Promise<SFTPWrapper> {
    this.sftpSession ??= new Promise((resolve, reject) => {
      this.client.sftp((err, sftp) => (err ? reject(new SshError(`ssh ${this.label}: SFTP is not available: ${err.message}`, { cause: err })) : resolve(sftp)));
    });
    return this.sftpSession;
  }

  async upload(localPath: string, remotePath: string): Promise<void> {
    const sftp = await this.sftp();
    await new Promise<void>((resolve, reject) =>
      sftp.fastPut(localPath, remotePath, { mode: 0o600 }, (err) =>
        err ? reject(new SshError(`sftp put ${remotePath}: ${describeError(err)}`, { cause: err })) : resolve(),
      ),
    );
  }

  async writeFile(remotePath: string, content: string): Promise<void> {
    const sftp = await this.sftp();
    await new Promise<void>((resolve, reject) =>
      sftp.writeFile(remotePath, content, { mode: 0o600 }, (err) =>
        err ? reject(new SshError(`sftp write ${remotePath}: ${describeError(err)}`, { cause: err })) : resolve(),
      ),
    );
  }

  close(): void {
    this.client.end();
  }
}
