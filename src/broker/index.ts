export { startBroker, type Broker, type AcceptOptions } from './broker.js';
export type { BrokerOptions, SlowConsumerPolicy } from './options.js';
export { loadAuthConfig, hashPassword, type AuthConfig, type UserConfig, type Permissions, type SubjectRules } from './auth.js';
export type { BrokerStatus } from './monitor.js';
