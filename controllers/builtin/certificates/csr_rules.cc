#include "controllers/builtin/certificates/csr_rules.h"

#include <set>

#include "absl/strings/escaping.h"
#include "core/strings/strings.h"

namespace berth::controllers::builtin {

bool HasCondition(const json::Value& csr, const std::string& type) {
  const json::Value* conds = csr.Get({"status", "conditions"});
  if (conds == nullptr || !conds->is_array()) return false;
  for (const json::Value& c : conds->as_array()) {
    if (c.GetString({"type"}) == type && c.GetString({"status"}, "True") == "True") return true;
  }
  return false;
}

absl::StatusOr<std::string> RequestPem(const json::Value& csr) {
  std::string encoded = csr.GetString({"spec", "request"}), pem;
  if (!absl::Base64Unescape(Sv(std::string_view(encoded)), &pem)) return absl::InvalidArgumentError("spec.request is not base64");
  return pem;
}

std::string NodeClientProblem(const json::Value& csr, const pki::RequestInfo& info) {
  if (info.common_name.rfind("system:node:", 0) != 0 || info.common_name.size() == 12) {
    return StrCat("subject common name \"", info.common_name, "\" does not begin with \"system:node:\"");
  }
  if (info.organizations != std::vector<std::string>{"system:nodes"}) return "subject organization is not system:nodes";
  static const std::set<std::string> kAllowed = {"digital signature", "key encipherment", "client auth"};
  const json::Value* usages = csr.Get({"spec", "usages"});
  bool client_auth = false;
  for (const json::Value& u : usages && usages->is_array() ? usages->as_array() : json::Array{}) {
    std::string usage = u.is_string() ? u.as_string() : "";
    if (!kAllowed.count(usage)) return StrCat("usage \"", usage, "\" is not allowed for a node client certificate");
    client_auth = client_auth || usage == "client auth";
  }
  if (!client_auth) return "usages must include \"client auth\"";
  if (info.key_type != "EC" && info.key_type != "RSA") return StrCat("key type ", info.key_type, " is not allowed");
  return "";
}

}  // namespace berth::controllers::builtin
