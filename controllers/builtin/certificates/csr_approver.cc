#include "controllers/builtin/certificates/csr_approver.h"

#include "controllers/builtin/certificates/csr_rules.h"
#include "core/log/log.h"

namespace berth::controllers::builtin {
namespace {

const client::Resource kSubjectAccessReviews{"authorization.k8s.io", "v1", "subjectaccessreviews", false,
                                             "SubjectAccessReview"};

}  // namespace

CsrApprover::CsrApprover(client::ApiClient& api, Informer& csrs, const Clock& clock)
    : api_(api), csrs_(csrs), clock_(clock), controller_("csrapproving", *this, clock, 1) {
  auto changed = [this](const ObjectPtr& o) { controller_.Enqueue(o->GetString({"metadata", "name"})); };
  csrs_.AddHandlers({changed, [changed](const ObjectPtr&, const ObjectPtr& o) { changed(o); }, nullptr});
}

absl::StatusOr<bool> CsrApprover::Allowed(const json::Value& csr, const std::string& subresource) {
  json::Value review = json::Value::MakeObject();
  review.Set("apiVersion", "authorization.k8s.io/v1");
  review.Set("kind", "SubjectAccessReview");
  json::Value& spec = review.Ensure({"spec"});
  spec.Set("user", csr.GetString({"spec", "username"}));
  if (const json::Value* uid = csr.Get({"spec", "uid"})) spec.Set("uid", *uid);
  if (const json::Value* groups = csr.Get({"spec", "groups"})) spec.Set("groups", *groups);
  if (const json::Value* extra = csr.Get({"spec", "extra"})) spec.Set("extra", *extra);
  json::Value& attrs = spec.Ensure({"resourceAttributes"});
  attrs.Set("group", "certificates.k8s.io");
  attrs.Set("resource", "certificatesigningrequests");
  attrs.Set("verb", "create");
  attrs.Set("subresource", subresource);
  auto answer = api_.Create(kSubjectAccessReviews, "", review);
  if (!answer.ok()) return answer.status();
  const json::Value* allowed = answer->Get({"status", "allowed"});
  return allowed && allowed->is_bool() && allowed->as_bool();
}

absl::StatusOr<Result> CsrApprover::Reconcile(const Request& request, std::stop_token) {
  ObjectPtr csr = csrs_.Get(request.Key());
  if (csr == nullptr || csr->GetString({"spec", "signerName"}) != kKubeletClientSigner ||
      HasCondition(*csr, "Approved") || HasCondition(*csr, "Denied") || HasCondition(*csr, "Failed")) {
    return Result{};
  }
  auto pem = RequestPem(*csr);
  if (!pem.ok()) return Result{};
  auto info = pki::InspectCertificateRequest(*pem);
  if (!info.ok() || !NodeClientProblem(*csr, *info).empty()) return Result{};  // not ours to approve
  const bool self = csr->GetString({"spec", "username"}) == info->common_name;
  auto allowed = Allowed(*csr, self ? "selfnodeclient" : "nodeclient");
  if (!allowed.ok()) return allowed.status();
  if (!*allowed) return Result{};
  json::Value next = *csr;
  json::Value cond = json::Value::MakeObject();
  cond.Set("type", "Approved");
  cond.Set("status", "True");
  cond.Set("reason", "AutoApproved");
  cond.Set("message", self ? "Auto approving self kubelet client certificate after SubjectAccessReview."
                           : "Auto approving kubelet client certificate after SubjectAccessReview.");
  std::string now = FormatRfc3339(clock_.Now());
  cond.Set("lastUpdateTime", now);
  cond.Set("lastTransitionTime", now);
  json::Value& conds = next.Ensure({"status", "conditions"});
  if (!conds.is_array()) conds = json::Value::MakeArray();
  conds.as_array().push_back(std::move(cond));
  absl::Status s = api_.UpdateSubresource(client::resources::kCertificateSigningRequests, next, "approval").status();
  if (!s.ok()) return s;
  BERTH_LOG(Info, "csrapproving", "Approved a node client certificate", "csr", request.Key(), "subject", info->common_name);
  return Result{};
}

}  // namespace berth::controllers::builtin
