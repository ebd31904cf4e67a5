/**
 * The Auto Scaling model became product code: lib/fleet/autoscaling/engine.ts (AutoScalingEngine).
 * This re-export keeps tests written against the old path compiling until they import the engine
 * directly; new code must not use it.
 */
export { AutoScalingEngine as AutoScalingModel, LAUNCHING, TERMINATING } from '../../lib/fleet/autoscaling/engine.ts';
export type * from '../../lib/fleet/autoscaling/engine.ts';
