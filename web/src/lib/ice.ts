/** gathered waits for pc's ICE gathering to end, or ms, whichever is
 * first: a network with no route for some candidate type can hold
 * gathering open for long, and what there is after 2 s is enough on a LAN
 * or via TURN. */
export function gathered(pc: RTCPeerConnection, ms = 2000): Promise<void> {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(t);
      pc.removeEventListener("icegatheringstatechange", changed);
      resolve();
    };
    const changed = () => {
      if (pc.iceGatheringState === "complete") done();
    };
    const t = setTimeout(done, ms);
    pc.addEventListener("icegatheringstatechange", changed);
  });
}
