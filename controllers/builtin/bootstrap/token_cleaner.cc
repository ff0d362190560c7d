#include "controllers/builtin/bootstrap/token_cleaner.h"

#include "absl/strings/escaping.h"
#include "core/log/log.h"
#include "core/strings/strings.h"

namespace berth::controllers::builtin {

TokenCleaner::TokenCleaner(client::ApiClient& api, Informer& secrets, const Clock& clock)
    : api_(api), secrets_(secrets), clock_(clock), controller_("tokencleaner", *this, clock, 1) {
  auto changed = [this](const ObjectPtr& s) {
    if (s->GetString({"type"}) == "bootstrap.kubernetes.io/token") {
      controller_.Enqueue(s->GetString({"metadata", "namespace"}) + "/" + s->GetString({"metadata", "name"}));
    }
  };
  secrets_.AddHandlers({changed, [changed](const ObjectPtr&, const ObjectPtr& s) { changed(s); }, nullptr});
}

absl::StatusOr<Result> TokenCleaner::Reconcile(const Request& request, std::stop_token) {
  ObjectPtr secret = secrets_.Get(request.Key());
  if (secret == nullptr || secret->GetString({"type"}) != "bootstrap.kubernetes.io/token" ||
      secret->Get({"metadata", "deletionTimestamp"}) != nullptr) {
    return Result{};
  }
  std::string encoded = secret->GetString({"data", "expiration"}), expiration;
  if (encoded.empty()) return Result{};  // never expires
  absl::Base64Unescape(Sv(std::string_view(encoded)), &expiration);
  // Unreadable counts as expired, as upstream's cleaner and authenticator both treat it.
  absl::Time when = ParseRfc3339(expiration, absl::InfinitePast());
  absl::Time now = clock_.Now();
  if (when > now) return Result{when - now + absl::Seconds(1)};
  BERTH_LOG(Info, "tokencleaner", "Deleting expired bootstrap token", "secret", request.Key());
  absl::Status s = api_.Delete(client::resources::kSecrets, request.ns, request.name);
  if (!s.ok() && s.code() != absl::StatusCode::kNotFound) return s;
  return Result{};
}

}  // namespace berth::controllers::builtin
