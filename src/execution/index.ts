export { ExecutionEngine } from "./engine.js";
export type { ClientFactory, ClientSpec, EngineClient, EngineOptions, StopOptions, StopReport } from "./engine.js";
export { clientArrivalMs, clientsStartedWithin, IterationSchedule, invertRamp } from "./schedule.js";
export { globalIndex, ownedIndices, ownsIndex, shareCount } from "./split.js";
export { credentialsFor, expandTemplate } from "./user-names.js";
export { hashUnit, WeightedPicker } from "./weighted-pick.js";
export { ArrivalLoop } from "./arrival-loop.js";
export { DEFAULT_PEER_SETTLE_MS, iterationRandom, PeerResolver, type PeerRequest, type PeerResolverOptions } from "./peers.js";
