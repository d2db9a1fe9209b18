import type { GuestStateAnswer } from "../ports/hypervisor.js";
import { attr, child, children, parseXml } from "./parse-xml.js";

// Parser for the guest agent channel in `virsh dumpxml DOMAIN` (the live XML, libvirt 9): the
// <channel> whose <target type='virtio' name='org.qemu.guest_agent.0'/> carries state='connected'
// once a program in the guest opened the port (QEMU's VSERPORT_CHANGE event), 'disconnected'
// before. Pure.
//
// libvirt writes no state when it does not know one: a shut-off domain's XML is its definition,
// and a QEMU without the event reports none. Only 'connected' says a guest is up, so every other
// case of an existing channel is "disconnected".

/** The virtio port name QEMU's guest agent (qemu-ga) opens. */
export const GUEST_AGENT_PORT = "org.qemu.guest_agent.0";

export function parseGuestAgent(xml: string): GuestStateAnswer["guestAgent"] {
  const devices = child(child(parseXml(xml, "virsh dumpxml"), "domain"), "devices");
  for (const channel of children(devices, "channel")) {
    const target = child(channel, "target");
    if (attr(target, "type") !== "virtio" || attr(target, "name") !== GUEST_AGENT_PORT) continue;
    return attr(target, "state") === "connected" ? "connected" : "disconnected";
  }
  return "none";
}
