/**
 * Learning-rate schedules: plain functions from the step count (updates done so far, 0 for the
 * first update) to a learning rate. They compose: `warmup(500, cosine(3e-4, 10_000))`.
 */

/** A learning rate as a function of the number of updates done so far. */
export type Schedule = (step: number) => number;
/** A constant learning rate or a schedule. */
export type LearningRate = number | Schedule;

/** The same rate every step. `constant(1e-4)` */
export const constant = (lr: number): Schedule => () => lr;

/** lr * gamma^floor(step / every), as torch's StepLR. `stepDecay(0.1, 30, 0.1)` */
export const stepDecay = (lr: number, every: number, gamma = 0.1): Schedule => (step) => lr * gamma ** Math.floor(step / every);

/**
 * Cosine annealing from lr to minLr over `steps`, then minLr, as torch's CosineAnnealingLR (closed form).
 * `cosine(3e-4, 10_000)`
 */
export const cosine = (lr: number, steps: number, minLr = 0): Schedule => (step) =>
  minLr + ((lr - minLr) * (1 + Math.cos(Math.PI * Math.min(step, steps) / steps))) / 2;

/**
 * Linear warm-up over `steps` from startFactor * after(0) up to after(0), then `after` from its own step 0.
 * NOTE: with startFactor 0 (the default, as optax) the very first update has learning rate 0.
 * `warmup(100, constant(1e-3))`
 */
export const warmup = (steps: number, after: LearningRate, startFactor = 0): Schedule => {
  const f = typeof after === 'number' ? constant(after) : after;
  return (step) => (step < steps ? f(0) * (startFactor + ((1 - startFactor) * step) / steps) : f(step - steps));
};
