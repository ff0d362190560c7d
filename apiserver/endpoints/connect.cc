#include "apiserver/endpoints/endpoints.h"

// pods/{name}/exec, attach and portforward. The apiserver checks what it can see (the pod, its
// node, the container and its state) and answers errors as a Status kubectl prints; then, as
// kube-apiserver relays to the kubelet, it hands the client's upgraded connection to the agent
// of the pod's node, which speaks WebSocket channels or SPDY with the client end to end.

#include "apiserver/server/pod_logs.h"
#include "core/api/errors.h"
#include "core/json/codec.h"
#include "core/strings/strings.h"

namespace berth::apiserver::endpoints {
namespace {

const json::Value* FindContainer(const json::Value& pod, const std::string& name) {
  const json::Value* cs = pod.Get({"spec", "containers"});
  if (cs == nullptr || !cs->is_array()) return nullptr;
  for (const json::Value& c : cs->as_array()) {
    if (c.GetString({"name"}) == name) return &c;
  }
  return nullptr;
}

// "" when the container runs; otherwise why not, as the status says.
std::string NotRunning(const json::Value& pod, const std::string& name) {
  const json::Value* statuses = pod.Get({"status", "containerStatuses"});
  if (statuses != nullptr && statuses->is_array()) {
    for (const json::Value& s : statuses->as_array()) {
      if (s.GetString({"name"}) != name) continue;
      if (s.Get({"state", "running"}) != nullptr) return "";
      if (const json::Value* w = s.Get({"state", "waiting"})) return StrCat("waiting: ", w->GetString({"reason"}));
      if (const json::Value* t = s.Get({"state", "terminated"})) return StrCat("terminated: ", t->GetString({"reason"}));
    }
  }
  return "not started yet";
}

}  // namespace

void ServeConnect(const Endpoints& c, const ExchangePtr& ex, const registry::ResourceType& type) {
  const server::RequestInfo& info = ex->ctx.info;
  const http::Request& request = ex->ctx.request;
  const std::string& sub = info.subresource;
  if (!request.websocket && request.upgrade.empty()) {
    return ex->Fail(api::BadRequest("Upgrade request required"));
  }
  auto pod_text = c.registry.Get(type, info.ns, info.name);
  if (!pod_text.ok()) return ex->Fail(pod_text.status());
  auto pod = json::ParseStored(*pod_text);
  if (!pod.ok()) return ex->Fail(pod.status());
  std::string node_name = pod->GetString({"spec", "nodeName"});
  if (node_name.empty()) return ex->Fail(api::BadRequest(StrCat("pod ", info.name, " does not have a host assigned")));
  std::string phase = pod->GetString({"status", "phase"});
  if (phase == "Succeeded" || phase == "Failed") {
    return ex->Fail(api::BadRequest(StrCat("cannot exec into or attach to a container in a completed pod; current phase is ", phase)));
  }
  std::string agent_path;
  std::string query;
  if (size_t q = request.target.find('?'); q != std::string::npos) query = request.target.substr(q + 1);
  if (sub == "portforward") {
    agent_path = StrCat("/portForward/", info.ns, "/", info.name);
  } else {
    std::string container = request.Query("container");
    const json::Value* containers = pod->Get({"spec", "containers"});
    if (container.empty()) {
      if (containers != nullptr && containers->is_array() && containers->size() == 1) {
        container = containers->as_array()[0].GetString({"name"});
        StrAppend(&query, query.empty() ? "" : "&", "container=", container);
      } else {
        std::vector<std::string> names;
        if (containers != nullptr && containers->is_array()) {
          for (const json::Value& ct : containers->as_array()) names.push_back(ct.GetString({"name"}));
        }
        return ex->Fail(api::BadRequest(StrCat("a container name must be specified for pod ", info.name,
                                               ", choose one of: [", Join(names, " "), "]")));
      }
    }
    const json::Value* spec = FindContainer(*pod, container);
    if (spec == nullptr) {
      return ex->Fail(api::BadRequest(StrCat("container ", container, " is not valid for pod ", info.name)));
    }
    if (std::string why = NotRunning(*pod, container); !why.empty()) {
      return ex->Fail(api::BadRequest(StrCat("container ", container, " in pod ", info.name, " is not running (", why, ")")));
    }
    if (sub == "attach") {
      std::string stdin_flag = request.Query("stdin");
      const json::Value* declared = spec->Find("stdin");
      bool declared_stdin = declared != nullptr && declared->is_bool() && declared->as_bool();
      if ((stdin_flag == "true" || stdin_flag == "1") && !declared_stdin) {
        return ex->Fail(api::BadRequest(StrCat("stdin is not enabled for container ", container,
                                               " (attach -i needs stdin: true in the container spec)")));
      }
    }
    agent_path = StrCat("/", sub, "/", info.ns, "/", info.name, "/", container);
  }
  const registry::ResourceType* nodes = c.registry.catalog().Find("", "v1", "nodes");
  if (nodes == nullptr) return ex->Fail(absl::InternalError("no nodes resource"));
  auto node_text = c.registry.Get(*nodes, "", node_name);
  if (!node_text.ok()) return ex->Fail(node_text.status());
  auto node = json::ParseStored(*node_text);
  if (!node.ok()) return ex->Fail(node.status());
  auto agent = server::AgentEndpoint(*node);
  if (!agent.ok()) return ex->Fail(agent.status());
  std::string head = StrCat(request.method, " ", agent_path, query.empty() ? "" : "?", query, " HTTP/1.1\r\n",
                            "Host: ", agent->first, ":", agent->second, "\r\n");
  for (const auto& [name, value] : request.headers) {
    // The client's credentials are for the apiserver, not the node.
    if (name == "host" || name == "authorization" || name == "proxy-authorization" || name == "content-length") continue;
    StrAppend(&head, name, ": ", value, "\r\n");
  }
  head += "\r\n";
  ex->Relay(agent->first, agent->second, std::move(head), c.agent_tls.cert_file.empty() ? nullptr : &c.agent_tls);
}

}  // namespace berth::apiserver::endpoints
