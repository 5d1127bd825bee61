// Plexus shared-memory addon (Linux).
//
// What it gives JavaScript, and why each piece has to be native:
//   create/open/unlink  a named POSIX shared memory segment, mapped MAP_SHARED and handed
//                       back as a SharedArrayBuffer, so Atomics work on it across
//                       processes. Node-API can only wrap external memory as an ordinary
//                       ArrayBuffer, so this one function talks to V8 directly.
//   wait/wake           FUTEX_WAIT / FUTEX_WAKE on a 32-bit word of such a buffer, without
//                       FUTEX_PRIVATE_FLAG, so a waiter in one process is woken by another.
//                       (Atomics.wait/notify only see waiters in the same process.)
//   waitAsync           the same wait on a helper thread; settles a promise on the event
//                       loop, so the main thread never blocks. Always bounded by a timeout
//                       and cancellable.
//   peerCred            SO_PEERCRED of a connected Unix socket (pid, uid, gid).
//   alias               an ordinary ArrayBuffer over a SharedArrayBuffer's memory, for fast
//                       bulk copies (V8 copies into shared memory word by word).
//
// Everything else (names, headers, liveness, rings) lives in TypeScript: src/local/.

#include <node_api.h>
#include <uv.h>
#include <v8.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <math.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace {

// ---------------------------------------------------------------------------------------
// Node-API <-> V8 bridge.
//
// Inside Node a napi_value *is* a v8::Local<v8::Value> (js_native_api_v8.h converts the
// two with a plain bit copy). We need V8 for exactly two things Node-API cannot do in
// Node 20: make a SharedArrayBuffer over external memory, and read a SharedArrayBuffer's
// data pointer. Both conversions are kept here, in one place.
static_assert(sizeof(napi_value) == sizeof(v8::Local<v8::Value>), "napi_value must be a v8::Local");

v8::Local<v8::Value> ToV8(napi_value v) {
  v8::Local<v8::Value> local;
  memcpy(static_cast<void*>(&local), &v, sizeof(v));
  return local;
}

napi_value FromV8(v8::Local<v8::Value> local) {
  napi_value v;
  memcpy(static_cast<void*>(&v), &local, sizeof(v));
  return v;
}

// ---------------------------------------------------------------------------------------
// Errors: a JS Error with `code` (the errno name, e.g. "EEXIST"), `errno` and `syscall`,
// so the TypeScript layer can turn it into a coded PlexusError without reading text.

void ThrowErrno(napi_env env, const char* syscall, int err, const std::string& what) {
  const char* name = uv_err_name(-err);
  std::string msg = std::string(syscall) + " " + what + ": " + strerror(err);
  napi_value code, message, error, errnoValue, syscallValue;
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg.c_str(), msg.size(), &message);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, err, &errnoValue);
  napi_set_named_property(env, error, "errno", errnoValue);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscallValue);
  napi_set_named_property(env, error, "syscall", syscallValue);
  napi_throw(env, error);
}

napi_value ThrowType(napi_env env, const char* msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return nullptr;
}

napi_value ThrowRange(napi_env env, const char* msg) {
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
  return nullptr;
}

// ---------------------------------------------------------------------------------------
// Argument helpers.

bool GetArgs(napi_env env, napi_callback_info info, size_t want, napi_value* argv, void** data = nullptr) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, data) != napi_ok) return false;
  for (size_t i = argc; i < want; i++) napi_get_undefined(env, &argv[i]);
  return true;
}

// A segment name as given by the caller ("plexus-abc"); we prepend the "/" shm_open wants.
bool GetName(napi_env env, napi_value v, std::string* out) {
  char buf[256];
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, buf, sizeof(buf), &len) != napi_ok) {
    ThrowType(env, "name must be a string");
    return false;
  }
  if (len == 0 || len > 250) {
    ThrowRange(env, "name must be 1..250 bytes");
    return false;
  }
  for (size_t i = 0; i < len; i++) {
    if (buf[i] == '/' || buf[i] == '\0') {
      ThrowRange(env, "name must not contain '/' or NUL");
      return false;
    }
  }
  *out = std::string("/") + std::string(buf, len);
  return true;
}

bool GetDouble(napi_env env, napi_value v, double* out, const char* what) {
  if (napi_get_value_double(env, v, out) != napi_ok) {
    ThrowType(env, what);
    return false;
  }
  return true;
}

// The data pointer of a SharedArrayBuffer and a 4-aligned byte offset inside it.
bool GetWord(napi_env env, napi_value sabValue, napi_value offsetValue, int32_t** word) {
  v8::Local<v8::Value> local = ToV8(sabValue);
  if (local.IsEmpty() || !local->IsSharedArrayBuffer()) {
    ThrowType(env, "buffer must be a SharedArrayBuffer");
    return false;
  }
  v8::Local<v8::SharedArrayBuffer> sab = local.As<v8::SharedArrayBuffer>();
  double offset;
  if (!GetDouble(env, offsetValue, &offset, "byteOffset must be a number")) return false;
  size_t length = sab->ByteLength();
  if (!(offset >= 0) || offset != floor(offset) || static_cast<size_t>(offset) % 4 != 0 ||
      static_cast<size_t>(offset) + 4 > length) {
    ThrowRange(env, "byteOffset must be a multiple of 4 inside the buffer");
    return false;
  }
  *word = reinterpret_cast<int32_t*>(static_cast<char*>(sab->Data()) + static_cast<size_t>(offset));
  return true;
}

// ---------------------------------------------------------------------------------------
// Shared segments.

void Unmap(void* data, size_t length, void* /*deleter_data*/) {
  // Runs when the last SharedArrayBuffer (in any isolate of this process) that shares
  // this backing store is collected. Never earlier: JS may touch the memory until then.
  munmap(data, length);
}

napi_value WrapMapping(napi_env env, void* addr, size_t size) {
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  std::shared_ptr<v8::BackingStore> store = v8::SharedArrayBuffer::NewBackingStore(addr, size, Unmap, nullptr);
  v8::Local<v8::SharedArrayBuffer> sab = v8::SharedArrayBuffer::New(isolate, std::move(store));
  return FromV8(sab);
}

// create(name, size) -> SharedArrayBuffer. Fails with EEXIST if the name exists.
napi_value Create(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!GetArgs(env, info, 2, argv)) return nullptr;
  std::string name;
  if (!GetName(env, argv[0], &name)) return nullptr;
  double sizeD;
  if (!GetDouble(env, argv[1], &sizeD, "size must be a number")) return nullptr;
  if (!(sizeD >= 1) || sizeD != floor(sizeD) || sizeD > 1099511627776.0) return ThrowRange(env, "size out of range");
  size_t size = static_cast<size_t>(sizeD);

  int fd = shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    ThrowErrno(env, "shm_open", errno, name);
    return nullptr;
  }
  // The umask can only take bits away; make the mode exactly 0600 whatever it is.
  if (fchmod(fd, 0600) != 0 || ftruncate(fd, static_cast<off_t>(size)) != 0) {
    int err = errno;
    close(fd);
    shm_unlink(name.c_str());
    ThrowErrno(env, "ftruncate", err, name);
    return nullptr;
  }
  void* addr = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  int err = errno;
  close(fd);  // the mapping keeps the object alive; the fd is not needed any more
  if (addr == MAP_FAILED) {
    shm_unlink(name.c_str());
    ThrowErrno(env, "mmap", err, name);
    return nullptr;
  }
  return WrapMapping(env, addr, size);
}

// open(name) -> { buffer, uid, mode, size }. The caller checks uid/mode before trusting it.
napi_value Open(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!GetArgs(env, info, 1, argv)) return nullptr;
  std::string name;
  if (!GetName(env, argv[0], &name)) return nullptr;

  int fd = shm_open(name.c_str(), O_RDWR | O_CLOEXEC, 0);
  if (fd < 0) {
    ThrowErrno(env, "shm_open", errno, name);
    return nullptr;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    ThrowErrno(env, "fstat", err, name);
    return nullptr;
  }
  if (st.st_size <= 0) {
    // Created but not yet sized by its owner: the caller may retry.
    close(fd);
    ThrowErrno(env, "fstat", EAGAIN, name + " (segment has no size yet)");
    return nullptr;
  }
  size_t size = static_cast<size_t>(st.st_size);
  void* addr = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  int err = errno;
  close(fd);
  if (addr == MAP_FAILED) {
    ThrowErrno(env, "mmap", err, name);
    return nullptr;
  }
  napi_value result, uid, mode, sizeValue;
  napi_create_object(env, &result);
  napi_set_named_property(env, result, "buffer", WrapMapping(env, addr, size));
  napi_create_uint32(env, st.st_uid, &uid);
  napi_set_named_property(env, result, "uid", uid);
  napi_create_uint32(env, st.st_mode & 07777, &mode);
  napi_set_named_property(env, result, "mode", mode);
  napi_create_double(env, static_cast<double>(size), &sizeValue);
  napi_set_named_property(env, result, "size", sizeValue);
  return result;
}

// unlink(name) -> true if removed, false if it did not exist.
napi_value Unlink(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!GetArgs(env, info, 1, argv)) return nullptr;
  std::string name;
  if (!GetName(env, argv[0], &name)) return nullptr;
  napi_value result;
  if (shm_unlink(name.c_str()) == 0) {
    napi_get_boolean(env, true, &result);
    return result;
  }
  if (errno == ENOENT) {
    napi_get_boolean(env, false, &result);
    return result;
  }
  ThrowErrno(env, "shm_unlink", errno, name);
  return nullptr;
}

// alias(sab) -> ArrayBuffer over the same memory, not shared.
//
// V8 copies into and out of a SharedArrayBuffer with relaxed atomic word moves (about a
// third of memcpy's speed); through an ordinary ArrayBuffer over the same bytes
// TypedArray.prototype.set/slice are plain memcpy. The alias holds a reference to the
// SharedArrayBuffer's backing store, so the memory outlives both. Callers only copy
// through it into ring space they own (between Atomics operations that order the copy).
void ReleaseStore(void* /*data*/, size_t /*length*/, void* deleter_data) {
  delete static_cast<std::shared_ptr<v8::BackingStore>*>(deleter_data);
}

napi_value Alias(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!GetArgs(env, info, 1, argv)) return nullptr;
  v8::Local<v8::Value> local = ToV8(argv[0]);
  if (local.IsEmpty() || !local->IsSharedArrayBuffer()) return ThrowType(env, "buffer must be a SharedArrayBuffer");
  v8::Local<v8::SharedArrayBuffer> sab = local.As<v8::SharedArrayBuffer>();
  auto* keep = new std::shared_ptr<v8::BackingStore>(sab->GetBackingStore());
  std::unique_ptr<v8::BackingStore> store = v8::ArrayBuffer::NewBackingStore(sab->Data(), sab->ByteLength(), ReleaseStore, keep);
  return FromV8(v8::ArrayBuffer::New(v8::Isolate::GetCurrent(), std::move(store)));
}

// ---------------------------------------------------------------------------------------
// Futex. Shared (no FUTEX_PRIVATE_FLAG): the kernel keys a shared mapping by the file and
// offset, so two processes waiting/waking on the same word of a segment meet.

enum WaitResult { kOk = 0, kNotEqual = 1, kTimedOut = 2, kCancelled = 3 };

const char* ResultName(int r) {
  switch (r) {
    case kOk: return "ok";
    case kNotEqual: return "not-equal";
    case kTimedOut: return "timed-out";
    default: return "cancelled";
  }
}

int64_t MonotonicNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

// A cancellable wait sleeps at most this long per FUTEX_WAIT: a cancel's wake can land
// just before the waiter enters the syscall, and then only the slice bounds the delay.
const int64_t kCancelSliceNs = 100LL * 1000000LL;

// Waits while *word == expected, up to timeoutMs (negative: no limit). EINTR restarts
// with the time that is left. `cancelled`, when given, is checked before every sleep.
int FutexWait(int32_t* word, int32_t expected, double timeoutMs, const std::atomic<bool>* cancelled) {
  const bool forever = timeoutMs < 0;
  const int64_t deadline = forever ? 0 : MonotonicNs() + static_cast<int64_t>(timeoutMs * 1e6);
  for (;;) {
    if (cancelled != nullptr && cancelled->load()) return kCancelled;
    struct timespec ts;
    struct timespec* tsp = nullptr;
    int64_t left = forever ? INT64_MAX : deadline - MonotonicNs();
    if (left <= 0) return kTimedOut;
    bool sliced = false;
    if (cancelled != nullptr && left > kCancelSliceNs) {
      left = kCancelSliceNs;
      sliced = true;
    }
    if (left != INT64_MAX) {
      ts.tv_sec = static_cast<time_t>(left / 1000000000LL);
      ts.tv_nsec = static_cast<long>(left % 1000000000LL);
      tsp = &ts;
    }
    long rc = syscall(SYS_futex, word, FUTEX_WAIT, expected, tsp, nullptr, 0);
    if (cancelled != nullptr && cancelled->load()) return kCancelled;
    if (rc == 0) return kOk;  // woken (possibly spuriously: callers re-check their condition)
    if (errno == EAGAIN) return kNotEqual;
    if (errno == ETIMEDOUT) {
      if (sliced) continue;
      return kTimedOut;
    }
    if (errno == EINTR) continue;
    return kTimedOut;  // EFAULT/EINVAL cannot happen for a checked, mapped, aligned word
  }
}

int FutexWake(int32_t* word, int count) {
  long rc = syscall(SYS_futex, word, FUTEX_WAKE, count, nullptr, nullptr, 0);
  return rc < 0 ? 0 : static_cast<int>(rc);
}

// wait(buffer, byteOffset, expected, timeoutMs) -> "ok" | "not-equal" | "timed-out".
// Blocks the calling thread (meant for worker threads). timeoutMs may be Infinity.
napi_value Wait(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!GetArgs(env, info, 4, argv)) return nullptr;
  int32_t* word;
  if (!GetWord(env, argv[0], argv[1], &word)) return nullptr;
  int32_t expected;
  if (napi_get_value_int32(env, argv[2], &expected) != napi_ok) return ThrowType(env, "expected must be a number");
  double timeoutMs;
  if (!GetDouble(env, argv[3], &timeoutMs, "timeoutMs must be a number")) return nullptr;
  if (isnan(timeoutMs) || timeoutMs < 0) return ThrowRange(env, "timeoutMs must be >= 0");
  int r = FutexWait(word, expected, isinf(timeoutMs) ? -1 : timeoutMs, nullptr);
  napi_value result;
  napi_create_string_utf8(env, ResultName(r), NAPI_AUTO_LENGTH, &result);
  return result;
}

// wake(buffer, byteOffset, count) -> number of waiters woken (count may be Infinity).
napi_value Wake(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!GetArgs(env, info, 3, argv)) return nullptr;
  int32_t* word;
  if (!GetWord(env, argv[0], argv[1], &word)) return nullptr;
  double countD;
  if (!GetDouble(env, argv[2], &countD, "count must be a number")) return nullptr;
  if (isnan(countD) || countD < 0) return ThrowRange(env, "count must be >= 0");
  int count = countD >= INT_MAX ? INT_MAX : static_cast<int>(countD);
  napi_value result;
  napi_create_int32(env, FutexWake(word, count), &result);
  return result;
}

// ---------------------------------------------------------------------------------------
// Async wait: one helper thread per pending wait (a futex has no file descriptor to hand
// to the event loop). The thread blocks in FUTEX_WAIT and, when it returns, queues the
// result and pokes one uv_async handle per environment; the loop thread then settles the
// promises inside a callback scope (so their reactions run at once).
//
// Lifetime rules:
//  - every wait has a finite timeout, so no thread lives longer than its caller asked;
//  - a wait holds a reference to its SharedArrayBuffer, so the mapping outlives the wait;
//  - the uv_async handle is ref'ed only while a ref'ed wait is pending, so an unref'ed wait
//    never keeps the process alive;
//  - at environment teardown (process exit, worker termination) every pending wait is
//    cancelled and its thread joined before the handle is closed.

struct EnvState;

struct PendingWait {
  uint32_t id = 0;
  int32_t* word = nullptr;
  int32_t expected = 0;
  double timeoutMs = 0;
  bool ref = true;
  std::atomic<bool> cancelled{false};
  std::atomic<bool> finished{false};
  int result = kTimedOut;
  napi_deferred deferred = nullptr;
  napi_ref bufferRef = nullptr;
  pthread_t thread;
  bool joinable = false;
  EnvState* state = nullptr;
};

struct EnvState {
  napi_env env = nullptr;
  uv_async_t async;
  napi_async_context asyncContext = nullptr;
  napi_ref resource = nullptr;
  napi_async_cleanup_hook_handle cleanupHook = nullptr;
  std::mutex mutex;                    // guards `done`
  std::vector<PendingWait*> done;      // finished by their threads, not yet settled
  std::vector<PendingWait*> pending;   // every wait not yet settled (loop thread only)
  uint32_t nextId = 1;
  int refCount = 0;
  bool closing = false;
};

void UpdateRef(EnvState* st) {
  if (st->refCount > 0) uv_ref(reinterpret_cast<uv_handle_t*>(&st->async));
  else uv_unref(reinterpret_cast<uv_handle_t*>(&st->async));
}

void* WaitThread(void* arg) {
  PendingWait* w = static_cast<PendingWait*>(arg);
  w->result = FutexWait(w->word, w->expected, w->timeoutMs, &w->cancelled);
  w->finished.store(true);
  EnvState* st = w->state;
  {
    std::lock_guard<std::mutex> lock(st->mutex);
    st->done.push_back(w);
  }
  uv_async_send(&st->async);
  return nullptr;
}

void Forget(EnvState* st, PendingWait* w) {
  for (size_t i = 0; i < st->pending.size(); i++) {
    if (st->pending[i] == w) {
      st->pending[i] = st->pending.back();
      st->pending.pop_back();
      break;
    }
  }
  if (w->ref) st->refCount--;
}

void OnAsync(uv_async_t* handle) {
  EnvState* st = reinterpret_cast<EnvState*>(handle->data);
  std::vector<PendingWait*> done;
  {
    std::lock_guard<std::mutex> lock(st->mutex);
    done.swap(st->done);
  }
  if (done.empty() || st->closing) return;
  napi_env env = st->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value resource;
  napi_get_reference_value(env, st->resource, &resource);
  napi_callback_scope callbackScope;
  napi_open_callback_scope(env, resource, st->asyncContext, &callbackScope);
  for (PendingWait* w : done) {
    if (w->joinable) pthread_join(w->thread, nullptr);  // it has already returned or is returning
    napi_value value;
    napi_create_string_utf8(env, ResultName(w->result), NAPI_AUTO_LENGTH, &value);
    napi_resolve_deferred(env, w->deferred, value);
    napi_delete_reference(env, w->bufferRef);
    Forget(st, w);
    delete w;
  }
  UpdateRef(st);
  napi_close_callback_scope(env, callbackScope);  // runs the promise reactions
  napi_close_handle_scope(env, scope);
}

// waitAsync(buffer, byteOffset, expected, timeoutMs, ref) -> { promise, id }.
// The promise resolves to "ok" | "not-equal" | "timed-out" | "cancelled"; it never rejects.
napi_value WaitAsync(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  void* data;
  if (!GetArgs(env, info, 5, argv, &data)) return nullptr;
  EnvState* st = static_cast<EnvState*>(data);
  int32_t* word;
  if (!GetWord(env, argv[0], argv[1], &word)) return nullptr;
  int32_t expected;
  if (napi_get_value_int32(env, argv[2], &expected) != napi_ok) return ThrowType(env, "expected must be a number");
  double timeoutMs;
  if (!GetDouble(env, argv[3], &timeoutMs, "timeoutMs must be a number")) return nullptr;
  if (!(timeoutMs >= 0) || isinf(timeoutMs)) return ThrowRange(env, "timeoutMs must be finite and >= 0");
  bool ref = true;
  napi_valuetype refType;
  napi_typeof(env, argv[4], &refType);
  if (refType == napi_boolean) napi_get_value_bool(env, argv[4], &ref);
  if (st->closing) return ThrowRange(env, "environment is shutting down");

  std::unique_ptr<PendingWait> w(new PendingWait());
  w->id = st->nextId++;
  if (st->nextId == 0) st->nextId = 1;
  w->word = word;
  w->expected = expected;
  w->timeoutMs = timeoutMs;
  w->ref = ref;
  w->state = st;
  napi_value promise;
  if (napi_create_promise(env, &w->deferred, &promise) != napi_ok) return nullptr;
  if (napi_create_reference(env, argv[0], 1, &w->bufferRef) != napi_ok) return nullptr;
  PendingWait* raw = w.release();
  // A waiter thread only sits in one syscall: a small stack is plenty.
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  int started = pthread_create(&raw->thread, &attr, WaitThread, raw);
  pthread_attr_destroy(&attr);
  if (started != 0) {
    napi_delete_reference(env, raw->bufferRef);
    napi_value reason;
    napi_create_string_utf8(env, "could not start a wait thread", NAPI_AUTO_LENGTH, &reason);
    napi_value error;
    napi_create_error(env, nullptr, reason, &error);
    napi_reject_deferred(env, raw->deferred, error);
    delete raw;
    return promise;
  }
  raw->joinable = true;
  st->pending.push_back(raw);
  if (ref) st->refCount++;
  UpdateRef(st);

  napi_value result, id;
  napi_create_object(env, &result);
  napi_set_named_property(env, result, "promise", promise);
  napi_create_uint32(env, raw->id, &id);
  napi_set_named_property(env, result, "id", id);
  return result;
}

// cancelWait(id) -> true if that wait was still pending. It then resolves "cancelled".
// Cancelling wakes every waiter on the word (a futex cannot wake one chosen waiter);
// futex users re-check their condition after any wake, so that is harmless.
napi_value CancelWait(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  void* data;
  if (!GetArgs(env, info, 1, argv, &data)) return nullptr;
  EnvState* st = static_cast<EnvState*>(data);
  uint32_t id;
  if (napi_get_value_uint32(env, argv[0], &id) != napi_ok) return ThrowType(env, "id must be a number");
  bool found = false;
  for (PendingWait* w : st->pending) {
    if (w->id == id) {
      if (!w->cancelled.exchange(true)) {
        FutexWake(w->word, INT_MAX);
        found = true;
      }
      break;
    }
  }
  napi_value result;
  napi_get_boolean(env, found, &result);
  return result;
}

// pendingWaits() -> how many async waits are not yet settled (for tests and diagnostics).
napi_value PendingWaits(napi_env env, napi_callback_info info) {
  void* data;
  size_t argc = 0;
  napi_get_cb_info(env, info, &argc, nullptr, nullptr, &data);
  EnvState* st = static_cast<EnvState*>(data);
  napi_value result;
  napi_create_uint32(env, static_cast<uint32_t>(st->pending.size()), &result);
  return result;
}

void OnHandleClosed(uv_handle_t* handle) {
  EnvState* st = reinterpret_cast<EnvState*>(handle->data);
  napi_remove_async_cleanup_hook(st->cleanupHook);
  delete st;
}

void Teardown(napi_async_cleanup_hook_handle hook, void* arg) {
  EnvState* st = static_cast<EnvState*>(arg);
  st->closing = true;
  for (PendingWait* w : st->pending) {
    w->cancelled.store(true);
    FutexWake(w->word, INT_MAX);
  }
  for (PendingWait* w : st->pending) {
    // A wake can miss a thread that was about to enter FUTEX_WAIT: repeat it until the
    // thread is out (the cancel slice bounds this anyway).
    while (!w->finished.load()) {
      FutexWake(w->word, INT_MAX);
      struct timespec pause = {0, 1000000};
      nanosleep(&pause, nullptr);
    }
    if (w->joinable) pthread_join(w->thread, nullptr);
    // The promise can no longer be settled; the buffer reference and the deferred go
    // with the environment.
    delete w;
  }
  st->pending.clear();
  {
    std::lock_guard<std::mutex> lock(st->mutex);
    st->done.clear();
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&st->async), OnHandleClosed);
}

// ---------------------------------------------------------------------------------------
// SO_PEERCRED: who is on the other end of a connected Unix socket.

napi_value PeerCred(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!GetArgs(env, info, 1, argv)) return nullptr;
  int32_t fd;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) return ThrowType(env, "fd must be a file descriptor number");
  struct ucred cred;
  socklen_t len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    ThrowErrno(env, "getsockopt", errno, "SO_PEERCRED fd " + std::to_string(fd));
    return nullptr;
  }
  napi_value result, pid, uid, gid;
  napi_create_object(env, &result);
  napi_create_int32(env, cred.pid, &pid);
  napi_create_uint32(env, cred.uid, &uid);
  napi_create_uint32(env, cred.gid, &gid);
  napi_set_named_property(env, result, "pid", pid);
  napi_set_named_property(env, result, "uid", uid);
  napi_set_named_property(env, result, "gid", gid);
  return result;
}

}  // namespace

NAPI_MODULE_INIT() {
  EnvState* st = new EnvState();
  st->env = env;
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || uv_async_init(loop, &st->async, OnAsync) != 0) {
    delete st;
    napi_throw_error(env, nullptr, "plexus_shm: could not set up the event loop handle");
    return nullptr;
  }
  st->async.data = st;
  uv_unref(reinterpret_cast<uv_handle_t*>(&st->async));
  napi_value resource, resourceName;
  napi_create_object(env, &resource);
  napi_create_reference(env, resource, 1, &st->resource);
  napi_create_string_utf8(env, "PlexusFutexWait", NAPI_AUTO_LENGTH, &resourceName);
  napi_async_init(env, resource, resourceName, &st->asyncContext);
  napi_add_async_cleanup_hook(env, Teardown, st, &st->cleanupHook);

  napi_property_descriptor props[] = {
      {"create", nullptr, Create, nullptr, nullptr, nullptr, napi_enumerable, st},
      {"open", nullptr, Open, nullptr, nullptr, nullptr, napi_enumerable, st},
      {"unlink", nullptr, Unlink, nullptr, nullptr, nullptr, napi_enumerable, st},
      {"wait", nullptr, Wait, nullptr, nullptr, nullptr, napi_enumerable, st},
      {"wake", nullptr, Wake, nullptr, nullptr, nullptr, napi_enumerable, st},
      {"waitAsync", nullptr, WaitAsync, nullptr, nullptr, nullptr, napi_enumerable, st},
      {"cancelWait", nullptr, CancelWait, nullptr, nullptr, nullptr, napi_enumerable, st},
      {"pendingWaits", nullptr, PendingWaits, nullptr, nullptr, nullptr, napi_enumerable, st},
      {"peerCred", nullptr, PeerCred, nullptr, nullptr, nullptr, napi_enumerable, st},
      {"alias", nullptr, Alias, nullptr, nullptr, nullptr, napi_enumerable, st},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}
