import { readFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import type { PowerInterface } from "../../../shared/config/power-inventory.js";
import { describeError } from "../../../shared/errors.js";
import { abortWords, startDeadline, type Deadline } from "./deadline.js";
import { PowerDriverError, type OffMode, type PowerAnswer, type PowerDriver, type PowerFailure, type PowerStatus } from "./power-driver.js";
import { readSecretLine } from "./secret-file.js";

type RedfishPower = Extract<PowerInterface, { driver: "redfish" }>;

// Redfish over HTTPS (DMTF DSP0266): the ComputerSystem's PowerState, and its
// ComputerSystem.Reset action. Certificates are always checked (against ca_file, or Node's
// default CAs: its Mozilla list, NODE_EXTRA_CA_CERTS, the OS store with --use-openssl-ca);
// there is no switch to turn that off. The action's target is read from the
// resource, as the standard asks, and a ResetType the BMC does not list is not sent. Every
// URL the driver follows must stay on the configured origin, so the password is never sent
// anywhere else. One deadline covers all the requests of one call.

type Operation = "status" | "on" | "off";
type ResetType = "On" | "GracefulShutdown" | "ForceOff";

interface HttpAnswer {
  status: number;
  body: string;
}

interface ResetAction {
  target: string;
  allowed: string[] | undefined;
}

const MAX_BODY = 1024 * 1024;

export class RedfishDriver implements PowerDriver {
  readonly kind = "redfish" as const;
  private readonly base: URL;

  constructor(
    readonly host: string,
    private readonly cfg: RedfishPower,
  ) {
    this.base = new URL(cfg.url);
  }

  async status(signal?: AbortSignal): Promise<PowerStatus> {
    return this.within("status", signal, async (call) => {
      const system = await call.getJson(await this.systemPath(call));
      const ps = system.PowerState;
      if (typeof ps !== "string") throw call.fail("protocol", `${call.path} has no PowerState`);
      // PoweringOff still draws power and runs; PoweringOn is on its way (the agent will tell).
      const state = ps === "Off" ? "off" : ps === "On" || ps === "PoweringOn" || ps === "PoweringOff" || ps === "Paused" ? "on" : undefined;
      if (state === undefined) throw call.fail("protocol", `${call.path}: unknown PowerState ${JSON.stringify(ps)}`);
      return { state, detail: `PowerState ${ps}` };
    });
  }

  on(signal?: AbortSignal): Promise<PowerAnswer> {
    return this.within("on", signal, (call) => this.reset(call, "On"));
  }

  /** soft: ResetType GracefulShutdown (the OS shuts down cleanly); hard: ForceOff. */
  off(mode: OffMode, signal?: AbortSignal): Promise<PowerAnswer> {
    return this.within("off", signal, (call) => this.reset(call, mode === "soft" ? "GracefulShutdown" : "ForceOff"));
  }

  private async reset(call: Call, resetType: ResetType): Promise<PowerAnswer> {
    const systemPath = await this.systemPath(call);
    const system = await call.getJson(systemPath);
    const action = await this.resetAction(call, systemPath, system);
    if (action.allowed && !action.allowed.includes(resetType))
      throw call.fail("refused", `${systemPath} does not allow ResetType ${resetType} (allowed: ${action.allowed.join(", ") || "none"})`);
    const answer = await call.send("POST", action.target, JSON.stringify({ ResetType: resetType }));
    if (answer.status >= 200 && answer.status < 300) return { detail: `ComputerSystem.Reset ${resetType}: HTTP ${answer.status}` };
    throw call.httpFailure("POST", action.target, answer, `ComputerSystem.Reset ${resetType}`);
  }

  /** The Reset action's target and allowable values (inline, or in its ActionInfo resource). */
  private async resetAction(call: Call, systemPath: string, system: Record<string, unknown>): Promise<ResetAction> {
    const actions = asObject(system.Actions);
    const reset = actions ? asObject(actions["#ComputerSystem.Reset"]) : undefined;
    if (!reset || typeof reset.target !== "string") throw call.fail("protocol", `${systemPath} offers no #ComputerSystem.Reset action`);
    let allowed = stringList(reset["ResetType@Redfish.AllowableValues"]);
    const info = reset["@Redfish.ActionInfo"];
    if (allowed === undefined && typeof info === "string") {
      const params = (await call.getJson(info)).Parameters;
      const p = Array.isArray(params) ? params.map(asObject).find((x) => x?.Name === "ResetType") : undefined;
      allowed = p ? stringList(p.AllowableValues) : undefined;
    }
    return { target: reset.target, allowed };
  }

  /** The configured system, or the only member of /redfish/v1/Systems. */
  private async systemPath(call: Call): Promise<string> {
    if (this.cfg.system !== undefined) return this.cfg.system;
    const members = (await call.getJson("/redfish/v1/Systems")).Members;
    const ids = Array.isArray(members) ? members.map((m) => asObject(m)?.["@odata.id"]).filter((x): x is string => typeof x === "string") : [];
    if (ids.length === 1) return ids[0]!;
    if (ids.length === 0) throw call.fail("protocol", "/redfish/v1/Systems lists no system");
    throw call.fail("config", `/redfish/v1/Systems lists ${ids.length} systems (${ids.join(", ")}): set system to the one of this host`);
  }

  private async within<T>(operation: Operation, signal: AbortSignal | undefined, body: (call: Call) => Promise<T>): Promise<T> {
    const fail = (failure: PowerFailure, message: string, cause?: unknown) =>
      new PowerDriverError(this.host, operation, failure, message, cause === undefined ? undefined : { cause });
    let password: string;
    try {
      password = readSecretLine(this.cfg.password_file, "password_file");
    } catch (e) {
      throw fail("config", describeError(e), e);
    }
    let ca: Buffer | undefined;
    if (this.cfg.ca_file !== undefined)
      try {
        ca = readFileSync(this.cfg.ca_file);
      } catch (e) {
        throw fail("config", `cannot read ca_file ${this.cfg.ca_file}: ${describeError(e)}`, e);
      }
    const deadline = startDeadline(this.cfg.timeout, signal);
    try {
      return await body(new Call(this.base, this.cfg, password, ca, deadline, fail));
    } finally {
      deadline.dispose();
    }
  }
}

/** The requests of one driver call: one deadline, one set of credentials, one origin. */
class Call {
  path = "";
  constructor(
    private readonly base: URL,
    private readonly cfg: RedfishPower,
    private readonly password: string,
    private readonly ca: Buffer | undefined,
    private readonly deadline: Deadline,
    readonly fail: (failure: PowerFailure, message: string, cause?: unknown) => PowerDriverError,
  ) {}

  async getJson(path: string): Promise<Record<string, unknown>> {
    const answer = await this.send("GET", path);
    if (answer.status !== 200) throw this.httpFailure("GET", path, answer);
    let doc: unknown;
    try {
      doc = JSON.parse(answer.body);
    } catch (e) {
      throw this.fail("protocol", `GET ${path}: the answer is not JSON (${describeError(e)})`, e);
    }
    const obj = asObject(doc);
    if (!obj) throw this.fail("protocol", `GET ${path}: the answer is not a JSON object`);
    this.path = path;
    return obj;
  }

  send(method: "GET" | "POST", path: string, body?: string): Promise<HttpAnswer> {
    const url = new URL(path, this.base);
    if (url.origin !== this.base.origin)
      return Promise.reject(this.fail("protocol", `the BMC pointed to ${url.origin}, not ${this.base.origin}; not followed`));
    const headers: Record<string, string | number> = {
      Accept: "application/json",
      Authorization: `Basic ${Buffer.from(`${this.cfg.username}:${this.password}`).toString("base64")}`,
      "OData-Version": "4.0",
    };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      headers["Content-Length"] = Buffer.byteLength(body);
    }
    return new Promise((resolve, reject) => {
      const req = httpsRequest(url, { method, headers, ca: this.ca, rejectUnauthorized: true, signal: this.deadline.signal, agent: false }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          if (text.length < MAX_BODY) text += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on("error", (e) => reject(this.transportFailure(method, url, e)));
        res.on("close", () => {
          if (!res.complete) reject(this.transportFailure(method, url, new Error("the connection closed before the whole answer arrived")));
        });
      });
      req.on("error", (e) => reject(this.transportFailure(method, url, e)));
      req.end(body);
    });
  }

  private transportFailure(method: string, url: URL, e: Error & { code?: string }): PowerDriverError {
    const what = `${method} ${url.href}`;
    if (this.deadline.signal.aborted) return this.fail("timeout", `${what}: ${abortWords(this.deadline, this.cfg.timeout)}`, e);
    const code = e.code ?? "";
    if (isTlsError(code, e.message)) {
      const trust = this.cfg.ca_file === undefined ? "Node's default CAs (no ca_file)" : `ca_file ${this.cfg.ca_file}`;
      return this.fail("config", `${what}: TLS: the BMC's certificate is not trusted (${code || "TLS"}: ${e.message}); checked against ${trust}`, e);
    }
    if (code === "ECONNREFUSED") return this.fail("unreachable", `${what}: connection refused (nothing listens at ${url.host})`, e);
    if (code === "ENOTFOUND" || code === "EAI_AGAIN") return this.fail("unreachable", `${what}: cannot resolve ${url.hostname} (${code})`, e);
    if (code === "EHOSTUNREACH" || code === "ENETUNREACH" || code === "ETIMEDOUT") return this.fail("unreachable", `${what}: ${code}: ${e.message}`, e);
    return this.fail("protocol", `${what}: ${code ? `${code}: ` : ""}${e.message}`, e);
  }

  httpFailure(method: string, path: string, answer: HttpAnswer, what = `${method} ${path}`): PowerDriverError {
    const said = redfishMessage(answer.body);
    const tailText = said ? `: ${said}` : "";
    if (answer.status === 401)
      return this.fail("auth", `${what}: HTTP 401: the BMC did not accept user ${this.cfg.username} and the password in ${this.cfg.password_file}${tailText}`);
    if (answer.status === 403) return this.fail("auth", `${what}: HTTP 403: user ${this.cfg.username} may not do this${tailText}`);
    if (answer.status === 404) return this.fail("config", `${what}: HTTP 404: no such resource on the BMC${tailText}`);
    if (method === "POST" && answer.status >= 400 && answer.status < 500) return this.fail("refused", `${what}: HTTP ${answer.status}${tailText}`);
    return this.fail("protocol", `${what}: HTTP ${answer.status}${tailText}`);
  }
}

function isTlsError(code: string, message: string): boolean {
  return /CERT|SIGNATURE|ISSUER|SELF_SIGNED|ERR_TLS|ERR_SSL|EPROTO/.test(code) || /certificate|SSL routines/i.test(message);
}

/** The Redfish error's message (error.message, or its first @Message.ExtendedInfo). */
export function redfishMessage(body: string): string | undefined {
  try {
    const err = asObject(asObject(JSON.parse(body))?.error);
    const info = err?.["@Message.ExtendedInfo"];
    const first = Array.isArray(info) ? asObject(info[0]) : undefined;
    const msg = typeof first?.Message === "string" ? first.Message : err?.message;
    return typeof msg === "string" ? msg.slice(0, 300) : undefined;
  } catch {
    return undefined;
  }
}

function asObject(v: unknown): Record<string, unknown> | undefined {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function stringList(v: unknown): string[] | undefined {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : undefined;
}
