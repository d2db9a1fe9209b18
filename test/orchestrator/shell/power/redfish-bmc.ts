import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

// A small Redfish service for the driver's tests, speaking the documented resources (DSP0266,
// ComputerSystem schema): the Systems collection, one ComputerSystem with PowerState and its
// #ComputerSystem.Reset action (target and ResetType@Redfish.AllowableValues, or an ActionInfo
// resource), HTTP basic authentication and Redfish error bodies.

export interface RedfishRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: string;
}

export interface RedfishBmcOptions {
  key: string;
  cert: string;
  username: string;
  password: string;
  /** Where the Reset action is; the driver must read it from the resource. */
  resetTarget?: string;
  /** ResetType@Redfish.AllowableValues inline (default), or in an ActionInfo resource. */
  allowable?: { inline: string[] } | { actionInfo: string[] };
  /** More systems in the collection. */
  extraSystems?: string[];
  /** Listen here (a loopback address); 127.0.0.1 by default. */
  listen?: string;
  /** Answer every request this many ms late. */
  delayMs?: number;
}

export interface RedfishBmc {
  url: string;
  port: number;
  requests: RedfishRequest[];
  powerState: "On" | "Off";
  options: RedfishBmcOptions;
  close(): Promise<void>;
}

const SYSTEM = "/redfish/v1/Systems/1";

function send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? "" : JSON.stringify(body);
  res.writeHead(status, { ...(text ? { "Content-Type": "application/json" } : {}), ...headers });
  res.end(text);
}

const redfishError = (message: string) => ({
  error: { code: "Base.1.8.GeneralError", message, "@Message.ExtendedInfo": [{ MessageId: "Base.1.8.GeneralError", Message: message }] },
});

export async function startRedfishBmc(options: RedfishBmcOptions): Promise<RedfishBmc> {
  const resetTarget = options.resetTarget ?? `${SYSTEM}/Actions/ComputerSystem.Reset`;
  const allowable = options.allowable ?? { inline: ["On", "ForceOff", "GracefulShutdown", "ForceRestart", "GracefulRestart"] };
  const bmc: RedfishBmc = { url: "", port: 0, requests: [], powerState: "Off", options, close: async () => undefined };
  const expected = `Basic ${Buffer.from(`${options.username}:${options.password}`).toString("base64")}`;

  const handle = (req: IncomingMessage, res: ServerResponse, body: string) => {
    const path = (req.url ?? "").split("?")[0]!;
    bmc.requests.push({ method: req.method ?? "", path, authorization: req.headers.authorization, contentType: req.headers["content-type"], body });
    if (req.headers.authorization !== expected)
      return send(res, 401, redfishError("The authentication credentials included with this request are missing or invalid."), {
        "WWW-Authenticate": 'Basic realm="Redfish"',
      });
    if (req.method === "GET" && path === "/redfish/v1/Systems") {
      const members = [SYSTEM, ...(options.extraSystems ?? [])].map((id) => ({ "@odata.id": id }));
      return send(res, 200, {
        "@odata.id": "/redfish/v1/Systems",
        "@odata.type": "#ComputerSystemCollection.ComputerSystemCollection",
        Name: "Computer System Collection",
        Members: members,
        "Members@odata.count": members.length,
      });
    }
    if (req.method === "GET" && path === SYSTEM) {
      const reset: Record<string, unknown> = { target: resetTarget };
      if ("inline" in allowable) reset["ResetType@Redfish.AllowableValues"] = allowable.inline;
      else reset["@Redfish.ActionInfo"] = `${SYSTEM}/ResetActionInfo`;
      return send(res, 200, {
        "@odata.id": SYSTEM,
        "@odata.type": "#ComputerSystem.v1_20_0.ComputerSystem",
        Id: "1",
        Name: "Test server",
        PowerState: bmc.powerState,
        Actions: { "#ComputerSystem.Reset": reset },
      });
    }
    if (req.method === "GET" && path === `${SYSTEM}/ResetActionInfo` && "actionInfo" in allowable)
      return send(res, 200, {
        "@odata.id": `${SYSTEM}/ResetActionInfo`,
        "@odata.type": "#ActionInfo.v1_3_0.ActionInfo",
        Id: "ResetActionInfo",
        Parameters: [{ Name: "ResetType", Required: true, DataType: "String", AllowableValues: allowable.actionInfo }],
      });
    if (req.method === "POST" && path === resetTarget) {
      let resetType: unknown;
      try {
        resetType = (JSON.parse(body) as { ResetType?: unknown }).ResetType;
      } catch {
        return send(res, 400, redfishError("The request body is not valid JSON."));
      }
      const allowed = "inline" in allowable ? allowable.inline : allowable.actionInfo;
      if (typeof resetType !== "string" || !allowed.includes(resetType))
        return send(res, 400, redfishError(`The value ${JSON.stringify(resetType)} for the property ResetType is not in the list of acceptable values.`));
      if (resetType === "On") bmc.powerState = "On";
      else if (resetType === "ForceOff" || resetType === "GracefulShutdown") bmc.powerState = "Off";
      return send(res, 204);
    }
    return send(res, 404, redfishError(`${req.method} ${path}: no such resource`));
  };

  const server: Server = createServer({ key: readFileSync(options.key), cert: readFileSync(options.cert) }, (req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => (body += c));
    req.on("end", () => {
      if (options.delayMs) {
        const t = setTimeout(() => handle(req, res, body), options.delayMs);
        res.on("close", () => clearTimeout(t));
      } else handle(req, res, body);
    });
  });
  const listen = options.listen ?? "127.0.0.1";
  await new Promise<void>((resolve) => server.listen(0, listen, () => resolve()));
  bmc.port = (server.address() as AddressInfo).port;
  bmc.url = `https://${listen}:${bmc.port}`;
  bmc.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return bmc;
}
