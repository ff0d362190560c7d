// File: apiserver/auth/forbidden_message.cc
// The text of kube-apiserver's responsewriters.forbiddenMessage and its Forbidden wrapper, word
// for word: clients and people match on it.

#include "absl/strings/str_cat.h"
#include "apiserver/auth/authorizer.h"

namespace berth::apiserver::auth {

std::string ForbiddenMessage(const Attributes& a, const std::string& reason) {
  std::string user = absl::StrCat("User \"", a.user.name, "\"");
  std::string msg;
  std::string prefix;
  if (!a.resource_request) {
    msg = absl::StrCat(user, " cannot ", a.verb, " path \"", a.path, "\"");
    prefix = "forbidden: ";
  } else {
    std::string resource = a.resource;
    if (!a.subresource.empty()) resource = absl::StrCat(resource, "/", a.subresource);
    if (!a.ns.empty()) {
      msg = absl::StrCat(user, " cannot ", a.verb, " resource \"", resource, "\" in API group \"", a.api_group,
                         "\" in the namespace \"", a.ns, "\"");
    } else {
      msg = absl::StrCat(user, " cannot ", a.verb, " resource \"", resource, "\" in API group \"", a.api_group,
                         "\" at the cluster scope");
    }
    // Kubernetes' NewForbidden: `<resource>[.<group>] ["<name>" ]is forbidden: ` (no subresource).
    std::string qualified = a.api_group.empty() ? a.resource : absl::StrCat(a.resource, ".", a.api_group);
    prefix = a.name.empty() ? absl::StrCat(qualified, " is forbidden: ")
                            : absl::StrCat(qualified, " \"", a.name, "\" is forbidden: ");
  }
  if (!reason.empty()) absl::StrAppend(&msg, ": ", reason);
  return prefix + msg;
}

}  // namespace berth::apiserver::auth
