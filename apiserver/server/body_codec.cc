#include "apiserver/server/body_codec.h"

#include <cctype>

#include "apiserver/server/protobuf/k8s_protobuf.h"
#include "core/api/errors.h"
#include "core/json/codec.h"
#include "core/json/utf8.h"
#include "core/strings/strings.h"
#include "core/yaml/yaml_codec.h"

namespace berth::apiserver::server {
namespace {

absl::StatusOr<json::Value> ParseJson(const std::string& body) {
  auto v = json::Parse(body);
  if (!v.ok()) return api::BadRequest(StrCat("the request body is not valid JSON: ", Sv(v.status().message())));
  return v;
}

absl::StatusOr<json::Value> ParseYaml(const std::string& body) {
  auto v = yaml::ParseSingle(body);
  if (!v.ok()) return api::BadRequest(StrCat("the request body is not valid YAML: ", Sv(v.status().message())));
  return v;
}

}  // namespace

std::string MediaType(const std::string& content_type) {
  std::string t = content_type.substr(0, content_type.find(';'));
  std::string out;
  for (char c : t) {
    if (!std::isspace(static_cast<unsigned char>(c))) out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

absl::StatusOr<json::Value> DecodeObject(const http::Request& request) {
  std::string media = MediaType(request.Header("content-type"));
  if (Strip(request.body).empty()) return api::BadRequest("the request body is empty");
  if (media.empty() || media == "application/json" || media == "*/*") return ParseJson(request.body);
  if (media == "application/yaml" || media == "application/x-yaml" || media == "text/yaml") {
    return ParseYaml(request.body);
  }
  if (media == "application/vnd.kubernetes.protobuf") {
    auto v = DecodeKubernetesProtobuf(request.body);
    if (!v.ok()) return api::BadRequest(Sv(v.status().message()));
    // Protobuf strings are raw bytes on the wire; JSON and YAML check encoding as they parse.
    if (auto path = json::FindInvalidUtf8(*v)) {
      return api::BadRequest(StrCat("the protobuf body has a string that is not valid UTF-8 at ",
                                    path->empty() ? "the object" : *path));
    }
    return v;
  }
  return api::UnsupportedMediaType(StrCat(
      "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (got \"",
      media, "\")"));
}

absl::StatusOr<DecodedPatch> DecodePatch(const http::Request& request, const registry::ResourceType& type) {
  std::string media = MediaType(request.Header("content-type"));
  if (Strip(request.body).empty()) return api::BadRequest("the patch body is empty");
  DecodedPatch out;
  if (media == "application/merge-patch+json") {
    out.type = registry::PatchType::kMerge;
  } else if (media == "application/json-patch+json") {
    out.type = registry::PatchType::kJson;
  } else if (media == "application/strategic-merge-patch+json" && !type.custom) {
    out.type = registry::PatchType::kStrategic;
  } else if (media == "application/apply-patch+yaml") {
    out.type = registry::PatchType::kApply;
    auto v = ParseYaml(request.body);
    if (!v.ok()) return v.status();
    out.patch = *std::move(v);
    return out;
  } else {
    // Custom resources have no strategic merge patch (no patchMergeKey metadata), as in Kubernetes.
    return api::UnsupportedMediaType(StrCat(
        "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, "
        "application/merge-patch+json, application/apply-patch+yaml", type.custom ? "" : ", application/strategic-merge-patch+json",
        " (got \"", media, "\")"));
  }
  auto v = ParseJson(request.body);
  if (!v.ok()) return v.status();
  out.patch = *std::move(v);
  return out;
}

}  // namespace berth::apiserver::server
