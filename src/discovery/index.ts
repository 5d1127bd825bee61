/**
 * Service discovery (issue 5 §3): register instances with the broker's registry, list
 * and watch them, ask them for PING/INFO/STATS, pick them by version range, balance
 * calls across them, and address capabilities by intent. See docs/discovery.md.
 */
export { RegistrySubject, REGISTRY_PREFIX, type InstanceHealth, type InstanceRecord, type RegistryEvent, type RegistryOptions } from '../broker/registry.js';
export { registerInstance, type EndpointStats, type EndpointStatsReport, type InstanceHandle, type InstanceInfo, type InstanceStats, type RegisterOptions } from './instance.js';
export { parseServiceRef, services, type AskOptions, type InfoReply, type PingReply, type ServiceDirectory } from './services.js';
export { type InstanceEvent, type WatchOptions } from './watch.js';
export { gather, type GatherAnswer, type GatherOptions } from './gather.js';
export { VersionRange, compareVersions, parseVersion, satisfies, type SemVer } from './semver.js';
export { INSTANCE_PREFIX, SrvVerb, instanceSubject, srvSubject } from './subjects.js';
export {
  handle,
  intent,
  type HandleOptions,
  type IntentChooser,
  type IntentContext,
  type IntentHandler,
  type IntentHandlerHandle,
  type IntentOptions,
  type IntentOutcome,
  type IntentResult,
} from './intents.js';
export { ServiceBalancer, type BalanceStrategy, type BalancerOptions, type BalancedRoute } from './balance.js';
