/**
 * `defineService`: checks a contract once, freezes it, and derives what every side
 * needs (major version, codec, subjects). Subjects:
 *
 *   methods  `$SRV.<name>.<major>.<method>`   served in the queue group `<name>` by default
 *   events   `$EVT.<name>.<major>.<event>`
 *
 * The major version is in the subject so clients of `^2` never reach a `3.x` server;
 * minor versions of one major share subjects (they must stay compatible).
 */
import { cbor, json, msgpack, type Codec } from '../codec/index.js';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { isStandardSchema } from './standard-schema.js';
import type { CodecName, MethodDefinition, ServiceContract, ServiceDefinition } from './types.js';

/** Prefix of every method subject. */
export const METHOD_SUBJECT_PREFIX = '$SRV';
/** Prefix of every event subject. */
export const EVENT_SUBJECT_PREFIX = '$EVT';
/** Service names: a letter, then letters, digits, `-` or `_`; at most 64 characters. */
const SERVICE_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
/** Method and event names: identifiers, at most 64 characters. */
const MEMBER_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
/** All-caps names are kept for discovery's own subjects (`$SRV.PING`, `$SRV.INFO`, …). */
const RESERVED_NAME = /^[A-Z_]+$/;
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;
/** Most methods and events one contract may have. */
export const MAX_CONTRACT_MEMBERS = 1024;

const namedCodecs: Readonly<Record<CodecName, Codec>> = { json, msgpack, cbor };

function invalid(message: string): PlexusError {
  return new PlexusError(ErrorCode.INVALID_ARGUMENT, message);
}

/** A codec by name, or the codec object itself. */
export function resolveCodec(codec: CodecName | Codec | undefined, fallback: Codec = json): Codec {
  if (codec === undefined) return fallback;
  if (typeof codec === 'string') {
    const c = Object.prototype.hasOwnProperty.call(namedCodecs, codec) ? namedCodecs[codec] : undefined;
    if (!c) throw invalid(`unknown codec ${JSON.stringify(codec)} (json, msgpack, cbor, or pass a Codec)`);
    return c;
  }
  if (typeof codec !== 'object' || codec === null || typeof codec.encode !== 'function' || typeof codec.decode !== 'function') {
    throw invalid('codec must be a codec name or a Codec object');
  }
  return codec;
}

function checkMethod(service: string, name: string, m: MethodDefinition): void {
  const what = `${service}.${name}`;
  if (typeof m !== 'object' || m === null) throw invalid(`method ${what} must be an object`);
  if (!isStandardSchema(m.input)) throw invalid(`method ${what}: input is not a Standard Schema`);
  if (!isStandardSchema(m.output)) throw invalid(`method ${what}: output is not a Standard Schema`);
  if (m.stream !== undefined && m.stream !== 'server' && m.stream !== 'client') {
    throw invalid(`method ${what}: stream must be 'server' or 'client'`);
  }
  if (m.codecs !== undefined) {
    if (typeof m.codecs !== 'object' || m.codecs === null) throw invalid(`method ${what}: codecs must be { input, output }`);
    resolveCodec(m.codecs.input);
    resolveCodec(m.codecs.output);
  }
  if (m.timeoutMs !== undefined && !(Number.isFinite(m.timeoutMs) && m.timeoutMs > 0 && m.timeoutMs <= 2 ** 31 - 1)) {
    throw invalid(`method ${what}: timeoutMs must be a number of ms from 1 to 2^31-1`);
  }
}

/**
 * Define a service contract: its name, semver version, methods with Standard Schema
 * input/output (zod, valibot, arktype, …), and events. Types of calls and handlers are
 * inferred from the schemas; nothing is generated.
 *
 * @throws PLEXUS_ERR_INVALID_ARGUMENT for a bad name, version, schema or codec.
 */
export function defineService<const Name extends string, const Def extends ServiceDefinition>(
  name: Name,
  definition: Def,
): ServiceContract<Name, Def> {
  if (typeof name !== 'string' || !SERVICE_NAME.test(name)) {
    throw invalid(`service name ${JSON.stringify(name)} must be a letter then letters, digits, '-' or '_' (at most 64)`);
  }
  if (RESERVED_NAME.test(name)) throw invalid(`service name ${name} is reserved (all-caps names are discovery's)`);
  if (typeof definition !== 'object' || definition === null) throw invalid('a service definition must be an object');
  const version = definition.version;
  const sv = typeof version === 'string' ? SEMVER.exec(version) : null;
  if (!sv) throw invalid(`service ${name}: version ${JSON.stringify(version)} is not semver MAJOR.MINOR.PATCH`);
  const major = Number(sv[1]);
  if (!Number.isSafeInteger(major)) throw invalid(`service ${name}: major version too large`);
  const methods = definition.methods;
  if (typeof methods !== 'object' || methods === null) throw invalid(`service ${name}: methods must be an object`);
  const events = definition.events ?? {};
  const names = [...Object.keys(methods), ...Object.keys(events)];
  if (names.length > MAX_CONTRACT_MEMBERS) throw invalid(`service ${name}: more than ${MAX_CONTRACT_MEMBERS} methods and events`);
  for (const [m, def] of Object.entries(methods)) {
    if (!MEMBER_NAME.test(m)) throw invalid(`service ${name}: method name ${JSON.stringify(m)} is not an identifier`);
    checkMethod(name, m, def);
    if (definition.codec === 'protobuf' && def.codecs === undefined) {
      throw invalid(`service ${name} uses protobuf: method ${m} needs codecs { input, output } (protobufCodec per message type)`);
    }
  }
  for (const [e, schema] of Object.entries(events)) {
    if (!MEMBER_NAME.test(e)) throw invalid(`service ${name}: event name ${JSON.stringify(e)} is not an identifier`);
    if (!isStandardSchema(schema)) throw invalid(`event ${name}.${e} is not a Standard Schema`);
  }
  const contract = {
    kind: 'plexus.service' as const,
    name,
    version,
    major,
    codec: definition.codec === 'protobuf' ? json : resolveCodec(definition.codec),
    description: definition.description,
    methods: Object.freeze({ ...methods }),
    events: Object.freeze({ ...events }),
    definition,
  };
  return Object.freeze(contract) as unknown as ServiceContract<Name, Def>;
}

/** True if `value` is a contract made by {@link defineService}. */
export function isServiceContract(value: unknown): value is ServiceContract {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'plexus.service';
}

/** The definition of `method`, or PLEXUS_ERR_INVALID_ARGUMENT if the contract has none. */
export function methodOf(contract: ServiceContract, method: string): MethodDefinition {
  const m = Object.prototype.hasOwnProperty.call(contract.methods, method) ? contract.methods[method] : undefined;
  if (!m) throw invalid(`service ${contract.name} has no method ${JSON.stringify(method)}`);
  return m;
}

/** The subject a method is served on: `$SRV.<name>.<major>.<method>`. */
export function methodSubject(contract: ServiceContract, method: string, major: number = contract.major): string {
  methodOf(contract, method);
  return `${METHOD_SUBJECT_PREFIX}.${contract.name}.${major}.${method}`;
}

/** The subject an event is published on: `$EVT.<name>.<major>.<event>`. */
export function eventSubject(contract: ServiceContract, event: string, major: number = contract.major): string {
  if (!Object.prototype.hasOwnProperty.call(contract.events, event)) {
    throw invalid(`service ${contract.name} has no event ${JSON.stringify(event)}`);
  }
  return `${EVENT_SUBJECT_PREFIX}.${contract.name}.${major}.${event}`;
}

/**
 * The major version a client's range selects: `^2`, `~2.1`, `2`, `2.x`, `2.1.0`, `=2.1.0`
 * all select 2. Wider ranges (`>=2`, `2 || 3`) cannot name one set of subjects and are
 * refused; discovery's version-aware selection handles those.
 */
export function majorOfRange(range: string): number {
  const m = /^\s*[\^~=v]?\s*(0|[1-9]\d{0,8})(?:\.(?:\d+|x|\*)(?:\.(?:\d+|x|\*))?)?(?:[-+][0-9A-Za-z.+-]*)?\s*$/.exec(range);
  if (!m) throw invalid(`version range ${JSON.stringify(range)} does not select one major version (use ^M, ~M.m, M.x or M.m.p)`);
  return Number(m[1]);
}
