import { createSocket } from "node:dgram";
import { isIPv6 } from "node:net";

// Wake-on-LAN: a "magic packet" is six 0xFF bytes, then the target's MAC address sixteen times,
// sent as a UDP datagram to a broadcast address (port 9, "discard", by convention). The NIC of
// a switched-off host watches for it; nothing answers, so the caller learns that the host woke
// only when its agent reports.

/** The 102 bytes of the magic packet for `mac` ("52:54:00:12:34:56" or with "-"). */
export function magicPacket(mac: string): Buffer {
  const hex = mac.replace(/[:-]/g, "");
  if (!/^[0-9A-Fa-f]{12}$/.test(hex)) throw new RangeError(`not a MAC address: ${JSON.stringify(mac)}`);
  const addr = Buffer.from(hex, "hex");
  return Buffer.concat([Buffer.alloc(6, 0xff), ...Array.from({ length: 16 }, () => addr)]);
}

/** Copies sent per wake-up: UDP may drop one, and a NIC wakes on the first it sees. */
export const MAGIC_PACKET_COPIES = 3;

/** Sends the packet `copies` times to address:port with broadcast enabled; resolves once the kernel took them. */
export async function sendMagicPacket(mac: string, address: string, port: number, signal?: AbortSignal, copies = MAGIC_PACKET_COPIES): Promise<void> {
  const packet = magicPacket(mac);
  signal?.throwIfAborted();
  const socket = createSocket(isIPv6(address) ? "udp6" : "udp4");
  // A send whose socket is closed under it never calls back: the abort settles the promise instead.
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal?.reason instanceof Error ? signal.reason : new Error("aborted"));
    signal?.addEventListener("abort", onAbort, { once: true });
  });
  const work = (async () => {
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(0, () => {
        socket.removeListener("error", reject);
        resolve();
      });
    });
    socket.setBroadcast(true);
    for (let i = 0; i < copies; i++) await new Promise<void>((resolve, reject) => socket.send(packet, port, address, (e) => (e ? reject(e) : resolve())));
  })();
  try {
    await Promise.race([work, aborted]);
  } finally {
    if (onAbort) signal?.removeEventListener("abort", onAbort);
    aborted.catch(() => undefined);
    work.catch(() => undefined);
    socket.close();
  }
}
