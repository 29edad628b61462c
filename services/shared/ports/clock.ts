/** Time and randomness come through ports so tests and machines stay deterministic. */
export interface Clock {
  now(): number;
}

export interface Ids {
  /** Uniform in [0, 1). */
  random(): number;
}
