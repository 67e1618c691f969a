// tunmesh's only native code: open a Linux TUN queue and move packets in batches.
//
// Why native: Node has no way to issue the TUNSETIFF ioctl, and libuv refuses to wrap a
// character device as a stream. The addon therefore does three small things and nothing else:
//   1. open()   - /dev/net/tun + TUNSETIFF (IFF_TUN | IFF_NO_PI [| IFF_MULTI_QUEUE] [| IFF_TUN_EXCL]
//                 [| IFF_VNET_HDR]), O_NONBLOCK; setVnetHeaderSize() and setOffload() for the offload
//                 mode (every read and write then starts with a virtio_net_hdr)
//   2. Reader   - a uv_poll_t on the queue fd; on readiness it drains up to `slots` packets into
//                 a caller-owned buffer (slot i at i * slotSize) and calls JS once per batch
//   3. writeBatch - one N-API call writes many packets (one write(2) each: TUN takes one packet
//                 per write) straight from caller-owned memory, no copy
//   4. setSocketQueue - bounds a fast channel's kernel TCP queues (SO_RCVBUF, TCP_NOTSENT_LOWAT),
//                 which Node cannot set: a bulk flow would otherwise queue megabytes in front of
//                 every small packet sharing the channel (src/dataplane/fast/socket-queue.ts)
// Everything else (addresses, routes, MTU) is done from TypeScript with iproute2.

#include <napi.h>
#include <uv.h>

#include <cerrno>
#include <cstring>
#include <cstdint>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

namespace {

Napi::Error ErrnoError(Napi::Env env, const char* what, int err) {
  Napi::Error e = Napi::Error::New(env, std::string(what) + ": " + strerror(err));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, what));
  return e;
}

bool IsUint32Array(const Napi::Value& v) {
  return v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_uint32_array;
}

// The queue fd may come from another process (a forked worker gets it as fd 3+N), so the
// reader and writer make sure it is non-blocking themselves instead of trusting the opener.
// O_NONBLOCK lives on the shared open file description, so this is one fcntl per queue.
int EnsureNonBlocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return errno;
  if ((flags & O_NONBLOCK) == 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return errno;
  return 0;
}

// open(name, multiQueue, exclusive?, vnetHeader?) -> { fd, name }
// exclusive sets IFF_TUN_EXCL: fail with EBUSY instead of attaching to an existing device of
// the same name, so the first queue always creates the device it is about to configure.
// vnetHeader sets IFF_VNET_HDR: the flag is the device's (the last queue attached sets it for all),
// so every queue of one device must pass the same value.
Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsBoolean() ||
      (info.Length() > 2 && !info[2].IsBoolean() && !info[2].IsUndefined()) ||
      (info.Length() > 3 && !info[3].IsBoolean() && !info[3].IsUndefined())) {
    Napi::TypeError::New(env, "open(name: string, multiQueue: boolean, exclusive?: boolean, vnetHeader?: boolean)").ThrowAsJavaScriptException();
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
  if (info.Length() > 2 && info[2].IsBoolean() && info[2].As<Napi::Boolean>()) ifr.ifr_flags |= IFF_TUN_EXCL;
  if (info.Length() > 3 && info[3].IsBoolean() && info[3].As<Napi::Boolean>()) ifr.ifr_flags |= IFF_VNET_HDR;
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

// ioctlInt(fd, request, value): an ioctl taking a pointer to an int; throws with errno.
Napi::Value IntIoctl(const Napi::CallbackInfo& info, unsigned long request, const char* what) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
    Napi::TypeError::New(env, std::string(what) + "(fd: number, value: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  int value = info[1].As<Napi::Number>().Int32Value();
  if (ioctl(fd, request, &value) < 0) ErrnoError(env, what, errno).ThrowAsJavaScriptException();
  return env.Undefined();
}

// setVnetHeaderSize(fd, bytes): TUNSETVNETHDRSZ (10: virtio_net_hdr, 12: with num_buffers).
Napi::Value SetVnetHeaderSize(const Napi::CallbackInfo& info) {
  return IntIoctl(info, TUNSETVNETHDRSZ, "ioctl TUNSETVNETHDRSZ");
}

// setOffload(fd, flags): TUNSETOFFLOAD with TUN_F_* bits (what the device may hand us unsegmented
// or without checksum). The kernel refuses bits it does not know with EINVAL: the caller retries
// with fewer. Takes effect at once for the whole device; 0 turns offloads off.
Napi::Value SetOffload(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
    Napi::TypeError::New(env, "setOffload(fd: number, flags: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  // TUNSETOFFLOAD takes the flags by value, not through a pointer.
  unsigned long flags = info[1].As<Napi::Number>().Uint32Value();
  if (ioctl(info[0].As<Napi::Number>().Int32Value(), TUNSETOFFLOAD, flags) < 0) {
    ErrnoError(env, "ioctl TUNSETOFFLOAD", errno).ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

// setSocketQueue(fd, receiveBuffer, notSentLowat): SO_RCVBUF (the kernel doubles it for its own
// bookkeeping, and stops autotuning this socket's window) and TCP_NOTSENT_LOWAT (how much unsent
// data the socket holds before it stops being writable). A value of 0 leaves that option alone.
Napi::Value SetSocketQueue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber()) {
    Napi::TypeError::New(env, "setSocketQueue(fd: number, receiveBuffer: number, notSentLowat: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  int rcvbuf = info[1].As<Napi::Number>().Int32Value();
  int lowat = info[2].As<Napi::Number>().Int32Value();
  if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) < 0) {
    ErrnoError(env, "setsockopt SO_RCVBUF", errno).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (lowat > 0 && setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof lowat) < 0) {
    ErrnoError(env, "setsockopt TCP_NOTSENT_LOWAT", errno).ThrowAsJavaScriptException();
  }
  return env.Undefined();
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

// writeBatch(fd, buffer, offsets: Uint32Array, lengths: Uint32Array, count[, result: Uint32Array
//   [, zeroPrefix]]) -> { written, rejected }, or, when `result` (length >= 2) is given, fills
//   result[0] = written, result[1] = rejected and returns written: the hot path then allocates
//   nothing per call. zeroPrefix (0..kMaxZeroPrefix) writes that many zero bytes in front of each
//   packet in the same write (writev): the empty virtio_net_hdr a plain packet needs on a device
//   opened with IFF_VNET_HDR.
// Stops early on EAGAIN (the kernel queue is full: the caller counts the rest as dropped).
// Other errors throw, except EINVAL/EIO/EMSGSIZE on one packet (a malformed packet) and a
// range outside the buffer, which are skipped and counted as `rejected`.
constexpr uint32_t kMaxZeroPrefix = 16;
const uint8_t kZeros[kMaxZeroPrefix] = {0};

Napi::Value WriteBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool hasResult = info.Length() > 5 && !info[5].IsUndefined();
  uint32_t prefix = 0;
  if (info.Length() > 6 && !info[6].IsUndefined()) {
    if (!info[6].IsNumber() || info[6].As<Napi::Number>().Uint32Value() > kMaxZeroPrefix) {
      Napi::TypeError::New(env, "writeBatch: zeroPrefix must be a number in 0..16").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    prefix = info[6].As<Napi::Number>().Uint32Value();
  }
  if (info.Length() < 5 || !info[0].IsNumber() || !info[1].IsBuffer() || !IsUint32Array(info[2]) ||
      !IsUint32Array(info[3]) || !info[4].IsNumber() ||
      (hasResult && (!IsUint32Array(info[5]) || info[5].As<Napi::Uint32Array>().ElementLength() < 2))) {
    Napi::TypeError::New(env, "writeBatch(fd, buffer, offsets: Uint32Array, lengths: Uint32Array, count, result?: Uint32Array(2))").ThrowAsJavaScriptException();
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
    ssize_t n;
    if (prefix == 0) {
      n = ::write(fd, buf.Data() + off, len);
    } else {
      struct iovec iov[2] = {{const_cast<uint8_t*>(kZeros), prefix}, {buf.Data() + off, size_t(len)}};
      n = ::writev(fd, iov, 2);
    }
    if (n >= 0) { written++; continue; }
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    if (errno == EINVAL || errno == EIO || errno == EMSGSIZE) { rejected++; continue; }
    ErrnoError(env, "write tun", errno).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (hasResult) {
    Napi::Uint32Array result = info[5].As<Napi::Uint32Array>();
    result[0] = written;
    result[1] = rejected;
    return Napi::Number::New(env, written);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("written", Napi::Number::New(env, written));
  out.Set("rejected", Napi::Number::New(env, rejected));
  return out;
}

// detachQueue(fd): TUNSETQUEUE with IFF_DETACH_QUEUE. A detached queue can still write(2) packets
// into the kernel, but the kernel never hands it packets to send: the main process keeps one to
// write received packets, so every packet to send reaches a worker's attached queue.
Napi::Value DetachQueue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "detachQueue(fd: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof(ifr));
  ifr.ifr_flags = IFF_DETACH_QUEUE;
  if (ioctl(info[0].As<Napi::Number>().Int32Value(), TUNSETQUEUE, &ifr) < 0) {
    ErrnoError(env, "ioctl TUNSETQUEUE", errno).ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

// Reader: drains a non-blocking TUN fd into a caller-owned buffer whenever it is readable.
// Packet i of a batch lands at i * slotSize + headroom (headroom, default 0, leaves room in front
// of each packet for a frame header written in place) and is at most slotSize - headroom bytes.
// The callback gets (count) with lengths[0..count) filled, or (-errno) when the device fails.
// JS must finish with the slots before it returns: the next batch reuses them.
// Packed mode (an `offsets` array given): the buffer is one arena instead of fixed slots. Each
// read may take up to slotSize bytes (headroom included) and the next packet starts right after
// it (8-byte aligned); offsets[i] says where packet i starts. The batch ends at `slots` packets
// or when less than slotSize is left. Why: with offloads a read may be a 64 KB super-packet, and
// fixed 64 KB slots for 64 packets would be 4 MB per queue; packed, a 1 MB arena holds 64 small
// packets or 15 super-packets.
// A packet that does not fit its slot (the MTU was raised after the queue was opened) is dropped
// and counted in truncated(). TUN read(2) silently truncates and returns the bytes copied, so a
// read that fills the slot exactly is taken as truncated: callers size slots above the MTU
// (TunQueue adds slack), so a packet within the MTU never fills one.
class Reader : public Napi::ObjectWrap<Reader> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Reader", {InstanceMethod("start", &Reader::Start), InstanceMethod("stop", &Reader::Stop),
                                       InstanceMethod("truncated", &Reader::Truncated),
                                       InstanceMethod("poll", &Reader::Poll)});
  }

  explicit Reader(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Reader>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 6 || !info[0].IsNumber() || !info[1].IsBuffer() || !info[2].IsNumber() ||
        !info[3].IsNumber() || !IsUint32Array(info[4]) || !info[5].IsFunction() ||
        (info.Length() > 6 && !info[6].IsNumber() && !info[6].IsUndefined()) ||
        (info.Length() > 7 && !IsUint32Array(info[7]) && !info[7].IsUndefined())) {
      Napi::TypeError::New(env, "new Reader(fd, buffer, slotSize, slots, lengths: Uint32Array, onBatch, headroom?, offsets?: Uint32Array)").ThrowAsJavaScriptException();
      return;
    }
    if (info.Length() > 6 && info[6].IsNumber()) headroom_ = info[6].As<Napi::Number>().Uint32Value();
    fd_ = info[0].As<Napi::Number>().Int32Value();
    Napi::Buffer<uint8_t> buf = info[1].As<Napi::Buffer<uint8_t>>();
    slotSize_ = info[2].As<Napi::Number>().Uint32Value();
    slots_ = info[3].As<Napi::Number>().Uint32Value();
    Napi::Uint32Array lengths = info[4].As<Napi::Uint32Array>();
    if (info.Length() > 7 && IsUint32Array(info[7])) {
      Napi::Uint32Array offsets = info[7].As<Napi::Uint32Array>();
      if (offsets.ElementLength() < slots_ || buf.Length() < slotSize_ || headroom_ >= slotSize_ || slots_ == 0 ||
          lengths.ElementLength() < slots_) {
        Napi::RangeError::New(env, "packed reader: buffer below one slotSize, offsets or lengths below slots, or headroom >= slotSize").ThrowAsJavaScriptException();
        return;
      }
      offsets_ = offsets.Data();
      offsetsRef_ = Napi::Persistent(offsets.As<Napi::Object>());
      bufferLength_ = buf.Length();
    } else if (slotSize_ == 0 || slots_ == 0 || headroom_ >= slotSize_ || uint64_t(slotSize_) * slots_ > buf.Length() ||
               lengths.ElementLength() < slots_) {
      Napi::RangeError::New(env, "buffer or lengths too small for slots * slotSize, or headroom >= slotSize").ThrowAsJavaScriptException();
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
    int nb = EnsureNonBlocking(fd_);
    if (nb != 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      poll_ = nullptr;
      ErrnoError(env, "fcntl O_NONBLOCK", nb).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    poll_->data = this;
    rc = uv_poll_start(poll_, UV_READABLE, &Reader::OnReadable);
    if (rc != 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      poll_ = nullptr;
      ErrnoError(env, "uv_poll_start", -rc).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Ref();  // keep this object alive while libuv holds a pointer to it
    return env.Undefined();
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    StopPolling();
    return info.Env().Undefined();
  }

  // Reads now what the queue holds, as a readable event would (the batch callback runs before
  // poll returns). Why: a packet written to the TUN may be answered by the kernel within the
  // write (an ICMP echo reply, a TCP ACK or SYN-ACK) on this same queue; read at once, the answer
  // leaves without waiting for the rest of the event-loop turn. Not re-entrant: a poll from
  // inside the batch callback, which still reads the batch buffer, does nothing.
  Napi::Value Poll(const Napi::CallbackInfo& info) {
    if (poll_ != nullptr && !draining_) Drain(0);
    return info.Env().Undefined();
  }

  Napi::Value Truncated(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), double(truncated_));
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
    draining_ = true;
    DrainOnce(status);
    draining_ = false;
  }

  void DrainOnce(int status) {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    int32_t result = 0;
    if (status < 0) {
      result = status;  // already a negative errno from libuv
    } else {
      uint32_t n = 0;
      uint64_t pos = 0;  // packed mode: where the next packet's slot starts
      const uint32_t room = slotSize_ - headroom_;
      while (n < slots_) {
        uint64_t at;
        if (offsets_ != nullptr) {
          if (pos + slotSize_ > bufferLength_) break;
          at = pos;
        } else {
          at = uint64_t(n) * slotSize_;
        }
        ssize_t r = ::read(fd_, data_ + at + headroom_, room);
        if (r < 0) {
          if (errno == EINTR) continue;
          if (errno != EAGAIN && errno != EWOULDBLOCK && n == 0) result = -errno;
          break;
        }
        if (uint64_t(r) >= room) {
          truncated_++;
          continue;
        }
        if (offsets_ != nullptr) {
          offsets_[n] = uint32_t(at + headroom_);
          pos = (at + headroom_ + uint64_t(r) + 7) & ~uint64_t(7);
        }
        lengths_[n++] = uint32_t(r);
      }
      if (result == 0) result = int32_t(n);
      if (result == 0) return;  // spurious wakeup
    }
    // Keep ourselves alive across the call: JS may stop() (and drop its last reference) from
    // inside the callback.
    Ref();
    if (result < 0) StopPolling();
    callback_.MakeCallback(Value(), {Napi::Number::New(env, result)}, *context_);
    // No JS frame is above us: an exception left by the handler would vanish silently, so
    // hand it to Node as an uncaught exception (process 'uncaughtException' or a crash).
    if (env.IsExceptionPending()) {
      Napi::Error e = env.GetAndClearPendingException();
      napi_fatal_exception(env, e.Value());
    }
    Unref();
  }

  int fd_ = -1;
  uint8_t* data_ = nullptr;
  uint32_t* lengths_ = nullptr;
  uint32_t* offsets_ = nullptr;  // packed mode only
  uint64_t bufferLength_ = 0;    // packed mode only
  uint32_t slotSize_ = 0;
  uint32_t slots_ = 0;
  uint32_t headroom_ = 0;
  uint64_t truncated_ = 0;
  bool draining_ = false;  // inside Drain: the batch buffer is the callback's
  uv_poll_t* poll_ = nullptr;
  Napi::ObjectReference bufferRef_;
  Napi::ObjectReference lengthsRef_;
  Napi::ObjectReference offsetsRef_;
  Napi::FunctionReference callback_;
  Napi::AsyncContext* context_ = nullptr;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("open", Napi::Function::New(env, Open));
  exports.Set("close", Napi::Function::New(env, Close));
  exports.Set("writeBatch", Napi::Function::New(env, WriteBatch));
  exports.Set("detachQueue", Napi::Function::New(env, DetachQueue));
  exports.Set("setVnetHeaderSize", Napi::Function::New(env, SetVnetHeaderSize));
  exports.Set("setOffload", Napi::Function::New(env, SetOffload));
  exports.Set("setSocketQueue", Napi::Function::New(env, SetSocketQueue));
  exports.Set("Reader", Reader::Init(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(tunmesh_tun, Init)
