#include "apiserver/endpoints/endpoints.h"

// pods/{name}/log: the pod and its node are read here; the agent serves the bytes.

#include <atomic>

#include "apiserver/server/pod_logs.h"
#include "core/json/codec.h"
#include "core/strings/strings.h"

namespace berth::apiserver::endpoints {

void ServeLog(const Endpoints& c, const std::shared_ptr<Exchange>& ex, const registry::ResourceType& type) {
  const server::RequestInfo& info = ex->ctx.info;
  auto pod_text = c.registry.Get(type, info.ns, info.name);
  if (!pod_text.ok()) return ex->Fail(pod_text.status());
  auto pod = json::ParseStored(*pod_text);
  if (!pod.ok()) return ex->Fail(pod.status());
  const registry::ResourceType* nodes = c.registry.catalog().Find("", "v1", "nodes");
  std::string node_name = pod->GetString({"spec", "nodeName"});
  json::Value node;
  if (!node_name.empty() && nodes != nullptr) {
    auto node_text = c.registry.Get(*nodes, "", node_name);
    if (!node_text.ok()) return ex->Fail(node_text.status());
    auto parsed = json::ParseStored(*node_text);
    if (!parsed.ok()) return ex->Fail(parsed.status());
    node = *std::move(parsed);
  }
  auto target = server::ResolveLogTarget(*pod, node, ex->ctx.request, c.agent_tls);
  if (!target.ok()) return ex->Fail(target.status());
  if (!target->follow) {
    std::string body;
    std::atomic<bool> cancel{false};
    absl::Status s = server::FetchLog(*target, [&](std::string_view text) {
      body.append(text);
      return true;
    }, cancel);
    if (!s.ok()) return ex->Fail(s);
    return ex->Reply(200, std::move(body), "text/plain");
  }
  auto stream = ex->Stream("text/plain");
  std::atomic<bool> cancel{false};
  absl::Status s = server::FetchLog(*target, [&](std::string_view text) { return stream->Write(text); }, cancel);
  if (!s.ok()) stream->Write(StrCat("error: ", s.message(), "\n"));
  stream->Close();
}

}  // namespace berth::apiserver::endpoints
