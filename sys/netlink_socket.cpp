#include "sys/netlink_socket.h"

#include <libmnl/libmnl.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <ctime>
#include <string>

namespace fwgate::sys {

void NetlinkSocket::Closer::operator()(mnl_socket* s) const { mnl_socket_close(s); }

NetlinkSocket::NetlinkSocket(mnl_socket* s)
    : sock_(s), seq_(static_cast<uint32_t>(time(nullptr))), buf_(kReceiveBytes + kGuardBytes, 0) {}
NetlinkSocket::NetlinkSocket(NetlinkSocket&&) noexcept = default;
NetlinkSocket& NetlinkSocket::operator=(NetlinkSocket&&) noexcept = default;
NetlinkSocket::~NetlinkSocket() = default;

Result<NetlinkSocket> NetlinkSocket::Open(int protocol, const Options& options) {
  mnl_socket* s = mnl_socket_open2(protocol, SOCK_CLOEXEC);
  if (s == nullptr) return Error::FromErrno(errno, "opening a netlink socket");
  NetlinkSocket sock(s);
  if (mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) < 0) {
    return Error::FromErrno(errno, "binding a netlink socket");
  }
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(options.timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((options.timeout.count() % 1000) * 1000);
  if (setsockopt(mnl_socket_get_fd(s), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0) {
    return Error::FromErrno(errno, "setting a netlink receive timeout");
  }
  if (options.receive_buffer > 0) {
    int size = options.receive_buffer;
    // FORCE needs CAP_NET_ADMIN; the plain option is the best effort without it.
    if (setsockopt(mnl_socket_get_fd(s), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) != 0) {
      (void)setsockopt(mnl_socket_get_fd(s), SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    }
  }
  return sock;
}

Result<NetlinkSocket> NetlinkSocket::OpenIn(const NetnsHandle& ns, int protocol,
                                            const Options& options) {
  Result<NetlinkSocket> out = Error::Internal("netlink socket not opened");
  if (auto st = RunInNetns(ns, [&] { out = Open(protocol, options); }); !st) return st.error();
  return out;
}

uint32_t NetlinkSocket::portid() const { return mnl_socket_get_portid(sock_.get()); }
int NetlinkSocket::fd() const { return mnl_socket_get_fd(sock_.get()); }

namespace {
struct CallbackCtx {
  const NetlinkSocket::MessageFn* fn = nullptr;
  Status status = OkStatus();
  bool first_only = false;
};

int Trampoline(const nlmsghdr* m, void* data) {
  auto* c = static_cast<CallbackCtx*>(data);
  if (c->fn != nullptr && *c->fn) {
    Status st = (*c->fn)(m);
    if (!st.ok()) {
      c->status = std::move(st);
      return MNL_CB_ERROR;
    }
  }
  return c->first_only ? MNL_CB_STOP : MNL_CB_OK;
}
}  // namespace

Status NetlinkSocket::Exchange(nlmsghdr* nlh, std::string_view what, const MessageFn& on_message,
                               bool first_only) {
  nlh->nlmsg_flags |= NLM_F_REQUEST;
  nlh->nlmsg_seq = ++seq_;
  if (mnl_socket_sendto(sock_.get(), nlh, nlh->nlmsg_len) < 0) {
    return Error::FromErrno(errno, std::string(what));
  }
  CallbackCtx ctx{&on_message, OkStatus(), first_only};
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(sock_.get(), buf_.data(), kReceiveBytes);
    if (n < 0) {
      int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) {
        return Error::FromErrno(ETIMEDOUT, std::string(what) + " (no reply from the kernel)");
      }
      return Error::FromErrno(err, std::string(what));
    }
    Guard(static_cast<size_t>(n));
    errno = 0;
    // mnl_cb_run checks port and sequence, turns NLMSG_ERROR into errno and NLMSG_DONE into
    // STOP, and (libmnl 1.0.4) reports NLM_F_DUMP_INTR as EINTR.
    int ret =
        mnl_cb_run(buf_.data(), static_cast<size_t>(n), nlh->nlmsg_seq, portid(), Trampoline, &ctx);
    if (!ctx.status.ok()) return ctx.status;
    if (ret == MNL_CB_ERROR) {
      return Error::FromErrno(errno != 0 ? errno : EPROTO, std::string(what));
    }
    if (ret == MNL_CB_STOP) return OkStatus();
  }
}

Status NetlinkSocket::Request(nlmsghdr* nlh, std::string_view what, const MessageFn& on_message) {
  return Exchange(nlh, what, on_message, false);
}

Status NetlinkSocket::RequestOne(nlmsghdr* nlh, std::string_view what,
                                 const MessageFn& on_message) {
  return Exchange(nlh, what, on_message, true);
}

Status NetlinkSocket::JoinGroup(unsigned group) {
  int g = static_cast<int>(group);
  if (setsockopt(fd(), SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g, sizeof(g)) != 0) {
    return Error::FromErrno(errno, "joining netlink group " + std::to_string(group));
  }
  return OkStatus();
}

Result<bool> NetlinkSocket::ReceiveEvents(std::chrono::milliseconds timeout,
                                          const MessageFn& on_message) {
  pollfd p{fd(), POLLIN, 0};
  int r = ::poll(&p, 1, static_cast<int>(timeout.count()));
  if (r < 0) {
    if (errno == EINTR) return false;
    return Error::FromErrno(errno, "waiting for netlink events");
  }
  if (r == 0) return false;
  ssize_t n = recv(fd(), buf_.data(), kReceiveBytes, MSG_DONTWAIT);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return false;
    return Error::FromErrno(errno, "receiving netlink events");
  }
  Guard(static_cast<size_t>(n));
  CallbackCtx ctx{&on_message, OkStatus(), false};
  // Events carry sequence 0 and port 0: no checks.
  int ret = mnl_cb_run(buf_.data(), static_cast<size_t>(n), 0, 0, Trampoline, &ctx);
  if (!ctx.status.ok()) return ctx.status.error();
  if (ret == MNL_CB_ERROR) return Error::FromErrno(errno != 0 ? errno : EPROTO, "netlink event");
  return true;
}

}  // namespace fwgate::sys
