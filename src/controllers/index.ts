// The controllers: API clients that turn objects into other objects (VMI -> launcher
// pod, pods -> node, Services -> Endpoints) and report what they did as Events.

export { startEndpointsController } from './endpoints.js';
export { createEventRecorder, type EventType, type RecordEvent } from './events.js';
export { launcherPod } from './launcher-pod.js';
export { startScheduler, unfit } from './scheduler.js';
export { startVmiController, VMI_FINALIZER } from './vmi.js';
export { vmiPhase, vmiStatus } from './vmi-status.js';
