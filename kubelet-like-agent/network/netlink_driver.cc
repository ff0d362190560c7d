// File: kubelet-like-agent/network/netlink_driver.cc
#include "kubelet-like-agent/network/netlink_driver.h"

#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <nftables/libnftables.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace berth::agent::network {
namespace {

using absl::StrCat;

absl::Status NlError(const std::string& what, int err) {
  return absl::InternalError(StrCat(what, ": ", nl_geterror(err)));
}

struct Socket {
  nl_sock* sk = nullptr;
  ~Socket() {
    if (sk) nl_socket_free(sk);
  }
  absl::Status Connect() {
    sk = nl_socket_alloc();
    if (sk == nullptr) return absl::ResourceExhaustedError("netlink socket");
    int err = nl_connect(sk, NETLINK_ROUTE);
    return err < 0 ? NlError("netlink connect", err) : absl::OkStatus();
  }
};

template <typename T, void (*Free)(T*)>
struct Owned {
  T* p = nullptr;
  ~Owned() {
    if (p) Free(p);
  }
};
using Link = Owned<rtnl_link, rtnl_link_put>;
using Addr = Owned<nl_addr, nl_addr_put>;

void PutRoute(rtnl_route* r) { rtnl_route_put(r); }
void PutRtAddr(rtnl_addr* a) { rtnl_addr_put(a); }

absl::Status SetUp(nl_sock* sk, rtnl_link* link) {
  Link change{rtnl_link_alloc()};
  rtnl_link_set_flags(change.p, IFF_UP);
  int err = rtnl_link_change(sk, link, change.p, 0);
  return err < 0 ? NlError(StrCat("setting ", rtnl_link_get_name(link), " up"), err) : absl::OkStatus();
}

absl::Status AddAddress(nl_sock* sk, int ifindex, uint32_t address, int prefix_length) {
  Owned<rtnl_addr, PutRtAddr> a{rtnl_addr_alloc()};
  Addr local;
  std::string text = StrCat(net::FormatIpv4(address), "/", prefix_length);
  int err = nl_addr_parse(text.c_str(), AF_INET, &local.p);
  if (err < 0) return NlError(StrCat("address ", text), err);
  rtnl_addr_set_ifindex(a.p, ifindex);
  rtnl_addr_set_local(a.p, local.p);
  err = rtnl_addr_add(sk, a.p, 0);
  if (err < 0 && err != -NLE_EXIST) return NlError(StrCat("adding address ", text), err);
  return absl::OkStatus();
}

absl::Status WriteSysctl(const std::string& key, const std::string& value) {
  // /proc/sys/net belongs to the namespace of the thread that opens it.
  std::string path = "/proc/sys/" + key;
  std::ofstream out(path);
  out << value;
  out.flush();
  if (!out) return absl::InternalError(StrCat("sysctl ", key, "=", value, ": cannot write ", path));
  return absl::OkStatus();
}

bool IsNetnsMount(const std::string& path) {
  struct statfs st {};
  return statfs(path.c_str(), &st) == 0 && st.f_type == NSFS_MAGIC;
}

// Hairpin on a bridge port (a pod reaching itself through its Service comes back out of the
// port it went in), set as `ip link set ... type bridge_slave hairpin on` does: RTM_SETLINK of
// family AF_BRIDGE with IFLA_PROTINFO/IFLA_BRPORT_MODE.
absl::Status SetHairpin(nl_sock* sk, int ifindex) {
  nl_msg* msg = nlmsg_alloc_simple(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK);
  if (msg == nullptr) return absl::ResourceExhaustedError("netlink message");
  ifinfomsg info{};
  info.ifi_family = AF_BRIDGE;
  info.ifi_index = ifindex;
  int err = nlmsg_append(msg, &info, sizeof info, NLMSG_ALIGNTO);
  nlattr* protinfo = err < 0 ? nullptr : nla_nest_start(msg, IFLA_PROTINFO | NLA_F_NESTED);
  if (protinfo == nullptr || nla_put_u8(msg, IFLA_BRPORT_MODE, 1) < 0) {
    nlmsg_free(msg);
    return absl::InternalError("building the hairpin message");
  }
  nla_nest_end(msg, protinfo);
  err = nl_send_auto(sk, msg);
  nlmsg_free(msg);
  if (err >= 0) err = nl_wait_for_ack(sk);
  return err < 0 ? NlError("hairpin mode", err) : absl::OkStatus();
}

}  // namespace

struct NetlinkDriver::State {
  Socket node;
  nft_ctx* nft = nullptr;
  ~State() {
    if (nft) nft_ctx_free(nft);
  }
};

absl::StatusOr<std::unique_ptr<NetlinkDriver>> NetlinkDriver::Create(const std::string& node_netns_path) {
  std::unique_ptr<NetlinkDriver> d(new NetlinkDriver());
  auto thread = NetnsThread::Start(node_netns_path);
  if (!thread.ok()) return thread.status();
  d->thread_ = *std::move(thread);
  d->state_ = std::make_unique<State>();
  absl::Status s = d->thread_->Run([&] {
    absl::Status c = d->state_->node.Connect();
    if (!c.ok()) return c;
    d->state_->nft = nft_ctx_new(NFT_CTX_DEFAULT);
    if (d->state_->nft == nullptr) return absl::InternalError("nft_ctx_new failed");
    nft_ctx_buffer_output(d->state_->nft);
    nft_ctx_buffer_error(d->state_->nft);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return d;
}

NetlinkDriver::~NetlinkDriver() {
  if (thread_) (void)thread_->Run([&] {
      state_.reset();
      return absl::OkStatus();
    });
}

absl::Status NetlinkDriver::EnsureBridge(const std::string& name, uint32_t gateway, int prefix_length) {
  return thread_->Run([&]() -> absl::Status {
    nl_sock* sk = state_->node.sk;
    Link bridge;
    if (rtnl_link_get_kernel(sk, 0, name.c_str(), &bridge.p) < 0) {
      int err = rtnl_link_bridge_add(sk, name.c_str());
      if (err < 0 && err != -NLE_EXIST) return NlError(StrCat("creating bridge ", name), err);
      err = rtnl_link_get_kernel(sk, 0, name.c_str(), &bridge.p);
      if (err < 0) return NlError(StrCat("bridge ", name), err);
    } else if (!rtnl_link_is_bridge(bridge.p)) {
      return absl::FailedPreconditionError(StrCat(name, " exists and is not a bridge"));
    }
    absl::Status s = AddAddress(sk, rtnl_link_get_ifindex(bridge.p), gateway, prefix_length);
    if (!s.ok()) return s;
    s = SetUp(sk, bridge.p);
    if (!s.ok()) return s;
    (void)WriteSysctl(StrCat("net/ipv6/conf/", name, "/accept_ra"), "0");
    return WriteSysctl("net/ipv4/ip_forward", "1");
  });
}

absl::Status NetlinkDriver::CreateNetns(const std::string& path) {
  return thread_->Run([&]() -> absl::Status {
    if (IsNetnsMount(path)) return absl::OkStatus();
    int fd = open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0444);
    if (fd < 0) return absl::UnavailableError(StrCat("netns file ", path, ": ", std::strerror(errno)));
    close(fd);
    if (unshare(CLONE_NEWNET) != 0) return absl::InternalError(StrCat("unshare(CLONE_NEWNET): ", std::strerror(errno)));
    // From here the thread is in the new namespace: return home whatever happens.
    absl::Status result = absl::OkStatus();
    if (mount("/proc/thread-self/ns/net", path.c_str(), nullptr, MS_BIND, nullptr) != 0) {
      result = absl::InternalError(StrCat("pinning the pod network namespace at ", path, ": ", std::strerror(errno)));
    } else {
      Socket pod;
      result = pod.Connect();
      Link lo;
      if (result.ok()) {
        int err = rtnl_link_get_kernel(pod.sk, 0, "lo", &lo.p);
        result = err < 0 ? NlError("lo", err) : SetUp(pod.sk, lo.p);
      }
    }
    if (setns(thread_->home_fd(), CLONE_NEWNET) != 0) std::abort();  // see NetnsVisit
    if (!result.ok()) {
      umount2(path.c_str(), MNT_DETACH);
      unlink(path.c_str());
    }
    return result;
  });
}

absl::Status NetlinkDriver::DeleteNetns(const std::string& path) {
  if (umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
    return absl::InternalError(StrCat("unmounting ", path, ": ", std::strerror(errno)));
  }
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return absl::InternalError(StrCat("removing ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

namespace {

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

void DeleteLinkNamed(nl_sock* sk, const std::string& name) {
  Link gone{rtnl_link_alloc()};
  rtnl_link_set_name(gone.p, name.c_str());
  rtnl_link_delete(sk, gone.p);
}

// The veth `host_ifname` to eth0 in the namespace open at `pod_fd`, its host end a hairpinned
// port of `bridge_name`; both ends down. kAlreadyExists when `host_ifname` is there already.
absl::Status CreateBridgedVeth(nl_sock* sk, int pod_fd, const std::string& host_ifname, const std::string& bridge_name) {
  Link bridge;
  int err = rtnl_link_get_kernel(sk, 0, bridge_name.c_str(), &bridge.p);
  if (err < 0) return NlError(StrCat("bridge ", bridge_name), err);
  Link existing;
  if (rtnl_link_get_kernel(sk, 0, host_ifname.c_str(), &existing.p) >= 0) {
    return absl::AlreadyExistsError(StrCat("link ", host_ifname, " exists"));
  }
  {
    Link veth{rtnl_link_veth_alloc()};
    if (veth.p == nullptr) return absl::ResourceExhaustedError("veth");
    rtnl_link_set_name(veth.p, host_ifname.c_str());
    rtnl_link* peer = rtnl_link_veth_get_peer(veth.p);
    rtnl_link_set_name(peer, "eth0");
    rtnl_link_set_ns_fd(peer, pod_fd);
    err = rtnl_link_add(sk, veth.p, NLM_F_CREATE | NLM_F_EXCL);
    rtnl_link_put(peer);
    if (err < 0) return NlError(StrCat("creating veth ", host_ifname), err);
  }
  absl::Status s = [&]() -> absl::Status {
    Link host;
    int e = rtnl_link_get_kernel(sk, 0, host_ifname.c_str(), &host.p);
    if (e < 0) return NlError(StrCat("veth ", host_ifname), e);
    int host_index = rtnl_link_get_ifindex(host.p);
    e = rtnl_link_enslave_ifindex(sk, rtnl_link_get_ifindex(bridge.p), host_index);
    if (e < 0) return NlError(StrCat("attaching ", host_ifname, " to ", bridge_name), e);
    return SetHairpin(sk, host_index);
  }();
  if (!s.ok()) DeleteLinkNamed(sk, host_ifname);
  return s;
}

// The host end `host_ifname` up, then, inside the pod's namespace, eth0's address, eth0 up and
// the default route through the gateway.
absl::Status BringUpPodLink(nl_sock* sk, int pod_fd, int home_fd, const PodLink& l) {
  Link host;
  int e = rtnl_link_get_kernel(sk, 0, l.host_ifname.c_str(), &host.p);
  if (e < 0) return NlError(StrCat("veth ", l.host_ifname), e);
  absl::Status h = SetUp(sk, host.p);
  if (!h.ok()) return h;
  // The pod's side, through a netlink socket opened inside its namespace.
  Socket pod;
  {
    NetnsVisit visit(pod_fd, home_fd);
    if (!visit.ok()) return absl::InternalError(StrCat("setns into ", l.netns_path, ": ", std::strerror(errno)));
    h = pod.Connect();
  }
  if (!h.ok()) return h;
  Link eth0;
  e = rtnl_link_get_kernel(pod.sk, 0, "eth0", &eth0.p);
  if (e < 0) return NlError("eth0 in the pod", e);
  h = AddAddress(pod.sk, rtnl_link_get_ifindex(eth0.p), l.address, l.prefix_length);
  if (!h.ok()) return h;
  h = SetUp(pod.sk, eth0.p);
  if (!h.ok()) return h;
  Owned<rtnl_route, PutRoute> route{rtnl_route_alloc()};
  Addr dst, gw;
  nl_addr_parse("0.0.0.0/0", AF_INET, &dst.p);
  nl_addr_parse(net::FormatIpv4(l.gateway).c_str(), AF_INET, &gw.p);
  rtnl_route_set_family(route.p, AF_INET);
  rtnl_route_set_dst(route.p, dst.p);
  rtnl_nexthop* nh = rtnl_route_nh_alloc();
  rtnl_route_nh_set_gateway(nh, gw.p);
  rtnl_route_nh_set_ifindex(nh, rtnl_link_get_ifindex(eth0.p));
  rtnl_route_add_nexthop(route.p, nh);
  e = rtnl_route_add(pod.sk, route.p, NLM_F_CREATE | NLM_F_REPLACE);
  if (e < 0) return NlError("default route in the pod", e);
  return absl::OkStatus();
}

absl::StatusOr<int> OpenNetns(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::FailedPreconditionError(StrCat("pod network namespace ", path, ": ", std::strerror(errno)));
  return fd;
}

}  // namespace

absl::Status NetlinkDriver::AddPodLink(const PodLink& l) {
  return thread_->Run([&]() -> absl::Status {
    nl_sock* sk = state_->node.sk;
    auto pod_fd = OpenNetns(l.netns_path);
    if (!pod_fd.ok()) return pod_fd.status();
    Fd closer{*pod_fd};
    absl::Status s = CreateBridgedVeth(sk, *pod_fd, l.host_ifname, l.bridge);
    if (!s.ok()) return s;
    s = BringUpPodLink(sk, *pod_fd, thread_->home_fd(), l);
    if (!s.ok()) DeleteLinkNamed(sk, l.host_ifname);
    return s;
  });
}

absl::Status NetlinkDriver::AddSpareLink(const std::string& netns_path, const std::string& host_ifname, const std::string& bridge) {
  return thread_->Run([&]() -> absl::Status {
    auto pod_fd = OpenNetns(netns_path);
    if (!pod_fd.ok()) return pod_fd.status();
    Fd closer{*pod_fd};
    return CreateBridgedVeth(state_->node.sk, *pod_fd, host_ifname, bridge);
  });
}

absl::Status NetlinkDriver::ClaimSpareLink(const std::string& spare_ifname, const PodLink& l) {
  return thread_->Run([&]() -> absl::Status {
    nl_sock* sk = state_->node.sk;
    auto pod_fd = OpenNetns(l.netns_path);
    if (!pod_fd.ok()) return pod_fd.status();
    Fd closer{*pod_fd};
    Link spare;
    int e = rtnl_link_get_kernel(sk, 0, spare_ifname.c_str(), &spare.p);
    if (e < 0) return NlError(StrCat("spare veth ", spare_ifname), e);
    // A link is renamed while down, which a spare still is.
    Link rename{rtnl_link_alloc()};
    rtnl_link_set_name(rename.p, l.host_ifname.c_str());
    e = rtnl_link_change(sk, spare.p, rename.p, 0);
    if (e < 0) {
      DeleteLinkNamed(sk, spare_ifname);
      return NlError(StrCat("renaming ", spare_ifname, " to ", l.host_ifname), e);
    }
    absl::Status s = BringUpPodLink(sk, *pod_fd, thread_->home_fd(), l);
    if (!s.ok()) DeleteLinkNamed(sk, l.host_ifname);
    return s;
  });
}

absl::Status NetlinkDriver::MoveNetns(const std::string& from, const std::string& to) {
  int fd = open(to.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0444);
  if (fd < 0) return absl::UnavailableError(StrCat("netns file ", to, ": ", std::strerror(errno)));
  close(fd);
  if (mount(from.c_str(), to.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    absl::Status failed = absl::InternalError(StrCat("pinning ", from, " at ", to, ": ", std::strerror(errno)));
    unlink(to.c_str());
    return failed;
  }
  return DeleteNetns(from);
}

absl::Status NetlinkDriver::DeleteLink(const std::string& ifname) {
  return thread_->Run([&]() -> absl::Status {
    Link link{rtnl_link_alloc()};
    rtnl_link_set_name(link.p, ifname.c_str());
    int err = rtnl_link_delete(state_->node.sk, link.p);
    if (err < 0 && err != -NLE_NODEV && err != -NLE_OBJ_NOTFOUND) return NlError(StrCat("deleting ", ifname), err);
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<std::string>> NetlinkDriver::BridgePorts(const std::string& bridge) {
  std::vector<std::string> out;
  absl::Status s = thread_->Run([&]() -> absl::Status {
    nl_sock* sk = state_->node.sk;
    Link br;
    if (rtnl_link_get_kernel(sk, 0, bridge.c_str(), &br.p) < 0) return absl::OkStatus();
    nl_cache* cache = nullptr;
    int err = rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache);
    if (err < 0) return NlError("listing links", err);
    int master = rtnl_link_get_ifindex(br.p);
    for (nl_object* o = nl_cache_get_first(cache); o != nullptr; o = nl_cache_get_next(o)) {
      auto* link = reinterpret_cast<rtnl_link*>(o);
      if (rtnl_link_get_master(link) == master) out.push_back(rtnl_link_get_name(link));
    }
    nl_cache_free(cache);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::Status NetlinkDriver::ReplaceRoute(const Route& r) {
  return thread_->Run([&]() -> absl::Status {
    nl_sock* sk = state_->node.sk;
    Owned<rtnl_route, PutRoute> route{rtnl_route_alloc()};
    Addr dst;
    nl_addr_parse(r.destination.ToString().c_str(), AF_INET, &dst.p);
    rtnl_route_set_family(route.p, AF_INET);
    rtnl_route_set_dst(route.p, dst.p);
    rtnl_route_set_protocol(route.p, kRouteProtocol);
    if (r.unreachable) {
      rtnl_route_set_type(route.p, RTN_UNREACHABLE);
    } else {
      rtnl_nexthop* nh = rtnl_route_nh_alloc();
      if (r.via != 0) {
        Addr gw;
        nl_addr_parse(net::FormatIpv4(r.via).c_str(), AF_INET, &gw.p);
        rtnl_route_nh_set_gateway(nh, gw.p);
      }
      if (!r.device.empty()) {
        Link dev;
        int err = rtnl_link_get_kernel(sk, 0, r.device.c_str(), &dev.p);
        if (err < 0) {
          rtnl_route_nh_free(nh);
          return NlError(StrCat("route device ", r.device), err);
        }
        rtnl_route_nh_set_ifindex(nh, rtnl_link_get_ifindex(dev.p));
        rtnl_route_set_scope(route.p, RT_SCOPE_LINK);
      }
      rtnl_route_add_nexthop(route.p, nh);
    }
    int err = rtnl_route_add(sk, route.p, NLM_F_CREATE | NLM_F_REPLACE);
    if (err < 0) return NlError(StrCat("route ", r.destination.ToString()), err);
    return absl::OkStatus();
  });
}

absl::Status NetlinkDriver::DeleteRoute(const net::Ipv4Prefix& destination) {
  return thread_->Run([&]() -> absl::Status {
    Owned<rtnl_route, PutRoute> route{rtnl_route_alloc()};
    Addr dst;
    nl_addr_parse(destination.ToString().c_str(), AF_INET, &dst.p);
    rtnl_route_set_family(route.p, AF_INET);
    rtnl_route_set_dst(route.p, dst.p);
    rtnl_route_set_protocol(route.p, kRouteProtocol);
    rtnl_route_set_table(route.p, RT_TABLE_MAIN);
    // Any scope: libnl would otherwise guess "link" for a route without a gateway and the
    // kernel would find no such route.
    rtnl_route_set_scope(route.p, RT_SCOPE_NOWHERE);
    int err = rtnl_route_delete(state_->node.sk, route.p, 0);
    if (err < 0 && err != -NLE_OBJ_NOTFOUND && err != -NLE_NOADDR) return NlError(StrCat("deleting route ", destination.ToString()), err);
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<Route>> NetlinkDriver::OwnRoutes() {
  std::vector<Route> out;
  absl::Status s = thread_->Run([&]() -> absl::Status {
    nl_cache* cache = nullptr;
    int err = rtnl_route_alloc_cache(state_->node.sk, AF_INET, 0, &cache);
    if (err < 0) return NlError("listing routes", err);
    for (nl_object* o = nl_cache_get_first(cache); o != nullptr; o = nl_cache_get_next(o)) {
      auto* r = reinterpret_cast<rtnl_route*>(o);
      if (rtnl_route_get_protocol(r) != kRouteProtocol) continue;
      nl_addr* dst = rtnl_route_get_dst(r);
      Route route;
      uint32_t net_order = 0;
      if (dst && nl_addr_get_len(dst) == 4) std::memcpy(&net_order, nl_addr_get_binary_addr(dst), 4);
      route.destination = {ntohl(net_order), dst ? static_cast<int>(nl_addr_get_prefixlen(dst)) : 0};
      route.unreachable = rtnl_route_get_type(r) == RTN_UNREACHABLE;
      if (rtnl_route_get_nnexthops(r) > 0) {
        rtnl_nexthop* nh = rtnl_route_nexthop_n(r, 0);
        if (nl_addr* gw = rtnl_route_nh_get_gateway(nh); gw && nl_addr_get_len(gw) == 4) {
          uint32_t g = 0;
          std::memcpy(&g, nl_addr_get_binary_addr(gw), 4);
          route.via = ntohl(g);
        }
        char name[IF_NAMESIZE] = {0};
        if (route.via == 0 && if_indextoname(rtnl_route_nh_get_ifindex(nh), name) != nullptr) route.device = name;
      }
      out.push_back(route);
    }
    nl_cache_free(cache);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::Status NetlinkDriver::ApplyNftables(const std::string& script) {
  return thread_->Run([&]() -> absl::Status {
    int rc = nft_run_cmd_from_buffer(state_->nft, script.c_str());
    std::string error = nft_ctx_get_error_buffer(state_->nft);
    (void)nft_ctx_get_output_buffer(state_->nft);
    if (rc != 0) return absl::InternalError(StrCat("nftables: ", error));
    return absl::OkStatus();
  });
}

absl::Status NetlinkDriver::AddLocalAddress(uint32_t address) {
  return thread_->Run([&]() -> absl::Status {
    Link lo;
    int err = rtnl_link_get_kernel(state_->node.sk, 0, "lo", &lo.p);
    if (err < 0) return NlError("lo", err);
    absl::Status s = SetUp(state_->node.sk, lo.p);
    if (!s.ok()) return s;
    return AddAddress(state_->node.sk, rtnl_link_get_ifindex(lo.p), address, 32);
  });
}

absl::StatusOr<int> NetlinkDriver::NodeSocket(int domain, int type) {
  int fd = -1;
  absl::Status s = thread_->Run([&]() -> absl::Status {
    fd = socket(domain, type | SOCK_CLOEXEC, 0);
    if (fd < 0) return absl::InternalError(StrCat("socket: ", std::strerror(errno)));
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return fd;
}

}  // namespace berth::agent::network
