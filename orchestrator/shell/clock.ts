/** Time at the edges: the shell reads the clock, the core is handed `now`. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
