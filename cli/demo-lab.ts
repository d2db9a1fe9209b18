// The demo on the real libvirt lab (root, packages present). Until it is wired, report why not.
export function labDemoPossible(): { ok: boolean; why: string } {
  return { ok: false, why: "the lab demo is not wired yet" };
}

export async function runLabDemo(_o: { follow: boolean; out: (s: string) => void }): Promise<number> {
  throw new Error("lab demo not available");
}
