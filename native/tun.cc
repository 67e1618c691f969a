// tunmesh's only native code: open a Linux TUN queue and move packets in batches.
//
// Why native: Node has no way to issue the TUNSETIFF ioctl, and libuv refuses to wrap a
// character device as a stream. The addon therefore does three small things and nothing else:
//   1. open()   - /dev/net/tun + TUNSETIFF (IFF_TUN | IFF_NO_PI [| IFF_MULTI_QUEUE]), O_NONBLOCK
//   2. Reader   - a uv_poll_t on the queue fd; on readiness it drains up to `slots` packets into
//                 a caller-owned buffer (slot i at i * slotSize) and calls JS once per batch
//   3. writeBatch - one N-API call writes many packets (one write(2) each: TUN takes one packet
//                 per write) straight from caller-owned memory, no copy
// Everything else (addresses, routes, MTU) is done from TypeScript with iproute2.

#include <napi.h>
#include <uv.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <unistd.h>

namespace {

Napi::Error ErrnoError(Napi::Env env, const char* what, int err) {
  Napi::Error e = Napi::Error::New(env, std::string(what) + ": " + strerror(err));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, what));
  return e;
}

// open(name, multiQueue) -> { fd, name }
Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsBoolean()) {
    Napi::TypeError::New(env, "open(name: string, multiQueue: boolean)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string name = info[0].As<Napi::String>();
  if (name.size() >= IFNAMSIZ) {
    Napi::RangeError::New(env, "device name longer than 15 bytes").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    ErrnoError(env, "open /dev/net/tun", errno).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof(ifr));
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  if (info[1].As<Napi::Boolean>()) ifr.ifr_flags |= IFF_MULTI_QUEUE;
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    ::close(fd);
    ErrnoError(env, "ioctl TUNSETIFF", err).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("fd", Napi::Number::New(env, fd));
  out.Set("name", Napi::String::New(env, ifr.ifr_name));
  return out;
}

// close(fd)
Napi::Value Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "close(fd: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  ::close(info[0].As<Napi::Number>().Int32Value());
  return env.Undefined();
}

// writeBatch(fd, buffer, offsets: Uint32Array, lengths: Uint32Array, count) -> packets written.
// Stops early on EAGAIN (the kernel queue is full: the caller counts the rest as dropped).
// Other errors throw, except EINVAL/EIO on one packet (a malformed packet), which is skipped
// and counted in the returned object's `rejected`.
Napi::Value WriteBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 5 || !info[0].IsNumber() || !info[1].IsBuffer() || !info[2].IsTypedArray() ||
      !info[3].IsTypedArray() || !info[4].IsNumber()) {
    Napi::TypeError::New(env, "writeBatch(fd, buffer, offsets, lengths, count)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  Napi::Buffer<uint8_t> buf = info[1].As<Napi::Buffer<uint8_t>>();
  Napi::Uint32Array offsets = info[2].As<Napi::Uint32Array>();
  Napi::Uint32Array lengths = info[3].As<Napi::Uint32Array>();
  uint32_t count = info[4].As<Napi::Number>().Uint32Value();
  if (count > offsets.ElementLength() || count > lengths.ElementLength()) {
    Napi::RangeError::New(env, "count exceeds offsets/lengths").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  uint32_t written = 0, rejected = 0;
  for (uint32_t i = 0; i < count; i++) {
    uint64_t off = offsets[i], len = lengths[i];
    if (off + len > buf.Length()) { rejected++; continue; }
    ssize_t n = ::write(fd, buf.Data() + off, len);
    if (n >= 0) { written++; continue; }
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    if (errno == EINVAL || errno == EIO || errno == EMSGSIZE) { rejected++; continue; }
    ErrnoError(env, "write tun", errno).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("written", Napi::Number::New(env, written));
  out.Set("rejected", Napi::Number::New(env, rejected));
  return out;
}

// Reader: drains a non-blocking TUN fd into a caller-owned buffer whenever it is readable.
// The callback gets (count) with lengths[0..count) filled, or (-errno) when the device fails.
// JS must finish with the slots before it returns: the next batch reuses them.
class Reader : public Napi::ObjectWrap<Reader> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Reader", {InstanceMethod("start", &Reader::Start), InstanceMethod("stop", &Reader::Stop)});
  }

  explicit Reader(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Reader>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 6 || !info[0].IsNumber() || !info[1].IsBuffer() || !info[2].IsNumber() ||
        !info[3].IsNumber() || !info[4].IsTypedArray() || !info[5].IsFunction()) {
      Napi::TypeError::New(env, "new Reader(fd, buffer, slotSize, slots, lengths, onBatch)").ThrowAsJavaScriptException();
      return;
    }
    fd_ = info[0].As<Napi::Number>().Int32Value();
    Napi::Buffer<uint8_t> buf = info[1].As<Napi::Buffer<uint8_t>>();
    slotSize_ = info[2].As<Napi::Number>().Uint32Value();
    slots_ = info[3].As<Napi::Number>().Uint32Value();
    Napi::Uint32Array lengths = info[4].As<Napi::Uint32Array>();
    if (slotSize_ == 0 || slots_ == 0 || uint64_t(slotSize_) * slots_ > buf.Length() || lengths.ElementLength() < slots_) {
      Napi::RangeError::New(env, "buffer or lengths too small for slots * slotSize").ThrowAsJavaScriptException();
      return;
    }
    data_ = buf.Data();
    lengths_ = lengths.Data();
    bufferRef_ = Napi::Persistent(buf.As<Napi::Object>());
    lengthsRef_ = Napi::Persistent(lengths.As<Napi::Object>());
    callback_ = Napi::Persistent(info[5].As<Napi::Function>());
    context_ = new Napi::AsyncContext(env, "tunmesh.tun.Reader");
  }

  ~Reader() override { delete context_; }

 private:
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (poll_ != nullptr) return env.Undefined();
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    poll_ = new uv_poll_t;
    int rc = uv_poll_init(loop, poll_, fd_);
    if (rc != 0) {
      delete poll_;
      poll_ = nullptr;
      ErrnoError(env, "uv_poll_init", -rc).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    poll_->data = this;
    uv_poll_start(poll_, UV_READABLE, &Reader::OnReadable);
    Ref();  // keep this object alive while libuv holds a pointer to it
    return env.Undefined();
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    StopPolling();
    return info.Env().Undefined();
  }

  void StopPolling() {
    if (poll_ == nullptr) return;
    uv_poll_stop(poll_);
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    poll_ = nullptr;
    Unref();
  }

  static void OnReadable(uv_poll_t* handle, int status, int /*events*/) {
    Reader* self = static_cast<Reader*>(handle->data);
    self->Drain(status);
  }

  void Drain(int status) {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    int32_t result = 0;
    if (status < 0) {
      result = status;  // already a negative errno from libuv
    } else {
      uint32_t n = 0;
      while (n < slots_) {
        ssize_t r = ::read(fd_, data_ + uint64_t(n) * slotSize_, slotSize_);
        if (r < 0) {
          if (errno == EINTR) continue;
          if (errno != EAGAIN && errno != EWOULDBLOCK && n == 0) result = -errno;
          break;
        }
        lengths_[n++] = uint32_t(r);
      }
      if (result == 0) result = int32_t(n);
      if (result == 0) return;  // spurious wakeup
    }
    if (result < 0) StopPolling();
    callback_.MakeCallback(Value(), {Napi::Number::New(env, result)}, *context_);
  }

  int fd_ = -1;
  uint8_t* data_ = nullptr;
  uint32_t* lengths_ = nullptr;
  uint32_t slotSize_ = 0;
  uint32_t slots_ = 0;
  uv_poll_t* poll_ = nullptr;
  Napi::ObjectReference bufferRef_;
  Napi::ObjectReference lengthsRef_;
  Napi::FunctionReference callback_;
  Napi::AsyncContext* context_ = nullptr;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("open", Napi::Function::New(env, Open));
  exports.Set("close", Napi::Function::New(env, Close));
  exports.Set("writeBatch", Napi::Function::New(env, WriteBatch));
  exports.Set("Reader", Reader::Init(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(tunmesh_tun, Init)
