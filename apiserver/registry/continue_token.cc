#include "apiserver/registry/continue_token.h"

#include "absl/strings/escaping.h"
#include "core/api/errors.h"
#include "core/json/codec.h"
#include "core/strings/strings.h"

namespace berth::apiserver::registry {

std::string EncodeContinue(const ContinueToken& token) {
  json::Value v = json::Value::MakeObject();
  v.Set("v", "meta.k8s.io/v1");
  v.Set("rv", static_cast<int64_t>(token.revision));
  v.Set("start", token.start);
  return absl::WebSafeBase64Escape(json::Serialize(v));
}

absl::StatusOr<ContinueToken> DecodeContinue(std::string_view text) {
  std::string raw;
  if (!absl::WebSafeBase64Unescape(Sv(text), &raw)) {
    return api::BadRequest("invalid continue token: not base64");
  }
  auto v = json::Parse(raw);
  if (!v.ok() || v->GetString({"v"}) != "meta.k8s.io/v1") {
    return api::BadRequest("invalid continue token");
  }
  const json::Value* rv = v->Find("rv");
  if (rv == nullptr || !rv->is_int() || rv->as_int() <= 0) return api::BadRequest("invalid continue token: bad revision");
  return ContinueToken{static_cast<uint64_t>(rv->as_int()), v->GetString({"start"})};
}

}  // namespace berth::apiserver::registry
