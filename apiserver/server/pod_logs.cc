#include "apiserver/server/pod_logs.h"

#include "core/client/connection.h"
#include "core/client/transport.h"
#include "core/pki/private_files.h"
#include "core/strings/strings.h"

namespace berth::apiserver::server {
namespace {

std::string QueryEscape(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == ':') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<std::pair<std::string, int>> AgentEndpoint(const json::Value& node) {
  std::string ip;
  if (const json::Value* addrs = node.Get({"status", "addresses"}); addrs && addrs->is_array()) {
    for (const json::Value& a : addrs->as_array()) {
      if (a.GetString({"type"}) == "InternalIP" && ip.empty()) ip = a.GetString({"address"});
    }
  }
  const json::Value* port = node.Get({"status", "daemonEndpoints", "kubeletEndpoint", "Port"});
  if (ip.empty() || port == nullptr || !port->is_int() || port->as_int() <= 0 || port->as_int() > 65535) {
    return absl::UnavailableError(StrCat("node ", node.GetString({"metadata", "name"}), " publishes no agent endpoint"));
  }
  return std::make_pair(ip, static_cast<int>(port->as_int()));
}

absl::StatusOr<LogTarget> ResolveLogTarget(const json::Value& pod, const json::Value& node, const http::Request& request,
                                           const http::RelayTls& agent_tls) {
  std::string name = pod.GetString({"metadata", "name"});
  if (pod.GetString({"spec", "nodeName"}).empty()) {
    return absl::InvalidArgumentError(StrCat("pod ", name, " does not have a host assigned"));
  }
  std::vector<std::string> names;
  for (const char* field : {"initContainers", "containers"}) {
    if (const json::Value* cs = pod.Get({"spec", field}); cs && cs->is_array()) {
      for (const json::Value& c : cs->as_array()) names.push_back(c.GetString({"name"}));
    }
  }
  std::string container = request.Query("container");
  if (container.empty()) {
    const json::Value* main = pod.Get({"spec", "containers"});
    if (main && main->is_array() && main->size() == 1) {
      container = main->as_array()[0].GetString({"name"});
    } else {
      return absl::InvalidArgumentError(StrCat("a container name must be specified for pod ", name, ", choose one of: [",
                                               Join(names, " "), "]"));
    }
  }
  if (std::find(names.begin(), names.end(), container) == names.end()) {
    return absl::InvalidArgumentError(StrCat("container ", container, " is not valid for pod ", name));
  }
  auto agent = AgentEndpoint(node);
  if (!agent.ok()) return agent.status();
  LogTarget t;
  const bool tls = !agent_tls.cert_file.empty();
  t.base_url = StrCat(tls ? "https://" : "http://", agent->first, ":", agent->second);
  t.tls = agent_tls;
  t.path = StrCat("/containerLogs/", QueryEscape(pod.GetString({"metadata", "namespace"})), "/", QueryEscape(name), "/",
                  QueryEscape(container));
  const char* sep = "?";
  for (const char* key : {"follow", "tailLines", "sinceSeconds", "sinceTime", "timestamps", "previous", "limitBytes"}) {
    if (request.HasQuery(key)) {
      StrAppend(&t.path, sep, key, "=", QueryEscape(request.Query(key)));
      sep = "&";
    }
  }
  std::string follow = request.Query("follow");
  t.follow = follow == "true" || follow == "1";
  return t;
}

absl::Status FetchLog(const LogTarget& target, const std::function<bool(std::string_view)>& write,
                      const std::atomic<bool>& cancel) {
  client::Connection connection;
  connection.server = target.base_url;
  if (!target.tls.cert_file.empty()) {
    // The agent's certificate is its own (self-signed, as a kubelet's): not verified, as
    // kube-apiserver without --kubelet-certificate-authority; ours is what the agent checks.
    connection.insecure_skip_tls_verify = true;
    auto cert = pki::ReadWholeFile(target.tls.cert_file);
    auto key = pki::ReadWholeFile(target.tls.key_file);
    if (!cert.ok() || !key.ok()) return absl::InternalError("cannot read the apiserver's kubelet client certificate");
    connection.client_cert_pem = *std::move(cert);
    connection.client_key_pem = *std::move(key);
  }
  auto transport = client::NewCpprestTransport(connection);
  if (!target.follow) {
    auto r = transport->Send("GET", target.path, "", "");
    if (!r.ok()) return absl::UnavailableError(StrCat("the node's agent at ", target.base_url, " is unreachable: ", r.status().message()));
    if (r->status != 200) {
      std::string body(Strip(r->body));
      return r->status == 404 ? absl::NotFoundError(body) : absl::InvalidArgumentError(body);
    }
    write(r->body);
    return absl::OkStatus();
  }
  auto status = transport->Stream(target.path, [&](const std::string& line) {
        std::string with_newline;
        with_newline.reserve(line.size() + 1);
        with_newline.append(line).push_back('\n');
        return write(with_newline);
      }, cancel);
  if (!status.ok()) return absl::UnavailableError(StrCat("the node's agent at ", target.base_url, " is unreachable: ", status.status().message()));
  if (*status == 404) return absl::NotFoundError("the container has not started on its node");
  if (*status != 200) return absl::InvalidArgumentError(StrCat("the node's agent answered ", *status));
  return absl::OkStatus();
}

}  // namespace berth::apiserver::server
