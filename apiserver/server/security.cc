#include "apiserver/server/security.h"

#include <fstream>

#include "apiserver/auth/rbac/bootstrap_policy.h"
#include "apiserver/server/rbac_escalation.h"
#include "apiserver/server/service_account_tokens.h"
#include "core/api/errors.h"
#include "core/jwt/jwt.h"
#include "core/json/codec.h"
#include "core/log/log.h"
#include "core/status/macros.h"
#include "core/strings/strings.h"

namespace berth::apiserver::server {
namespace {

constexpr char kRbacGroup[] = "rbac.authorization.k8s.io";
constexpr char kAutoupdate[] = "rbac.authorization.kubernetes.io/autoupdate";

// Kubernetes' bootstrap-policy reconciliation: a missing default is created; one that exists
// gets its rules, aggregation and subjects back unless its autoupdate annotation is "false".
absl::Status ReconcileDefault(registry::Registry& registry, const registry::ResourceType& type, json::Value want) {
  const std::string name = want.GetString({"metadata", "name"});
  auto stored = registry.Get(type, "", name);
  if (!stored.ok()) {
    if (stored.status().code() != absl::StatusCode::kNotFound) return stored.status();
    auto made = registry.Create(type, "", std::move(want), {});
    if (!made.ok() && made.status().code() != absl::StatusCode::kAlreadyExists) return made.status();
    return absl::OkStatus();
  }
  BERTH_ASSIGN_OR_RETURN(json::Value current, json::ParseStored(*stored));
  if (current.GetString({"metadata", "annotations", kAutoupdate}) == "false") return absl::OkStatus();
  json::Value next = current;
  bool changed = false;
  for (const char* field : {"rules", "aggregationRule", "roleRef", "subjects"}) {
    const json::Value* w = want.Find(field);
    const json::Value* c = current.Find(field);
    if (w == nullptr) continue;
    if (c == nullptr || !(*c == *w)) {
      next.Set(field, *w);
      changed = true;
    }
  }
  if (const json::Value* labels = want.Get({"metadata", "labels"})) {
    for (const auto& [k, v] : labels->as_object()) {
      const json::Value* have = current.Get({"metadata", "labels", k});
      if (have == nullptr || !(*have == v)) {
        next.Ensure({"metadata", "labels"}).Set(k, v);
        changed = true;
      }
    }
  }
  if (!changed) return absl::OkStatus();
  auto updated = registry.Update(type, "", name, std::move(next), registry::Subresource::kNone, {});
  if (!updated.ok() && updated.status().code() != absl::StatusCode::kAborted) return updated.status();
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const auth::serviceaccount::TokenAuthority>> StartTokenAuthority(
    const SecurityOptions& options, const registry::Registry& registry, const Clock& clock) {
  auto read = [](const std::string& flag, const std::string& path) -> absl::StatusOr<std::string> {
    std::ifstream in(path, std::ios::binary);
    if (!in) return absl::InvalidArgumentError(StrCat(flag, ": cannot read ", path));
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  BERTH_ASSIGN_OR_RETURN(std::string signing_pem, read("--service-account-signing-key-file", options.service_account_signing_key_file));
  auto signer = jwt::Rs256Signer::FromPrivateKeyPem(signing_pem);
  if (!signer.ok()) {
    return absl::InvalidArgumentError(StrCat("--service-account-signing-key-file ", options.service_account_signing_key_file,
                                             ": ", signer.status().message()));
  }
  std::vector<jwt::Rs256Verifier> verifiers;
  verifiers.push_back(*jwt::Rs256Verifier::FromPem(signer->public_key_pem()));
  for (const std::string& file : options.service_account_key_files) {
    BERTH_ASSIGN_OR_RETURN(std::string pem, read("--service-account-key-file", file));
    auto verifier = jwt::Rs256Verifier::FromPem(pem);
    if (!verifier.ok()) {
      return absl::InvalidArgumentError(StrCat("--service-account-key-file ", file, ": ", verifier.status().message()));
    }
    verifiers.push_back(*std::move(verifier));
  }
  if (options.service_account_max_token_expiration < absl::Hours(1)) {
    return absl::InvalidArgumentError("--service-account-max-token-expiration: may not be less than 1h");
  }
  auth::serviceaccount::TokenAuthorityOptions authority;
  authority.issuer = options.service_account_issuer;
  authority.api_audiences = options.api_audiences;
  return std::make_shared<const auth::serviceaccount::TokenAuthority>(*std::move(signer), std::move(verifiers), authority,
                                                                      clock, RegistryObjectLookup(registry));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Security>> Security::Start(const SecurityOptions& options, registry::Registry& registry,
                                                        const Clock& clock) {
  auto security = std::make_unique<Security>();
  std::shared_ptr<const auth::authn::TokenFile> tokens;
  if (!options.token_auth_file.empty()) {
    BERTH_ASSIGN_OR_RETURN(auth::authn::TokenFile file, auth::authn::TokenFile::Load(options.token_auth_file));
    tokens = std::make_shared<const auth::authn::TokenFile>(std::move(file));
  }
  if (!options.service_account_signing_key_file.empty()) {
    BERTH_ASSIGN_OR_RETURN(security->service_account_tokens_, StartTokenAuthority(options, registry, clock));
  } else if (!options.service_account_key_files.empty()) {
    return absl::InvalidArgumentError("--service-account-key-file needs --service-account-signing-key-file");
  }
  security->max_token_expiration_ = options.service_account_max_token_expiration;
  // Bootstrap tokens (k3s and kubeadm turn them on; so does Berth): Secrets in kube-system.
  std::shared_ptr<const auth::authn::BootstrapTokens> bootstrap;
  if (const registry::ResourceType* secrets = registry.catalog().Find("", "v1", "secrets")) {
    const registry::Registry* reg = &registry;
    bootstrap = std::make_shared<const auth::authn::BootstrapTokens>(
        [reg, secrets](const std::string& name) -> std::optional<json::Value> {
          auto stored = reg->Get(*secrets, "kube-system", name);
          if (!stored.ok()) return std::nullopt;
          auto object = json::ParseStored(*stored);
          if (!object.ok()) return std::nullopt;
          return *std::move(object);
        },
        clock);
  }
  security->authenticator_ =
      std::make_unique<auth::authn::Authenticator>(tokens, security->service_account_tokens_, std::move(bootstrap));
  std::vector<std::string> modes;
  for (std::string_view m : Split(options.authorization_mode, ',')) modes.emplace_back(Strip(m));
  if (modes == std::vector<std::string>{"AlwaysAllow"}) return security;
  bool node_mode = false, rbac_mode = false;
  for (const std::string& m : modes) {
    bool& seen = m == "Node" ? node_mode : rbac_mode;
    if ((m != "Node" && m != "RBAC") || seen) {
      return absl::InvalidArgumentError(StrCat("--authorization-mode: \"", options.authorization_mode,
                                               "\" is not AlwaysAllow or a list of Node and RBAC, each once"));
    }
    seen = true;
  }
  const registry::Catalog& catalog = registry.catalog();
  if (node_mode) BERTH_RETURN_IF_ERROR(security->StartNodeAuthorizer(registry));
  if (!rbac_mode) return security;
  auto rbac = std::make_shared<auth::rbac::RbacAuthorizer>();
  std::vector<const registry::ResourceType*> kinds;
  for (const char* plural : {"clusterroles", "roles", "clusterrolebindings", "rolebindings"}) {
    const registry::ResourceType* t = catalog.Find(kRbacGroup, "v1", plural);
    if (t == nullptr) return absl::InternalError(StrCat("the catalog has no ", plural));
    kinds.push_back(t);
  }
  registry.AddCommitObserver([rbac, kinds](const registry::ResourceType& type, const json::Value& object, bool removed) {
    for (const registry::ResourceType* k : kinds) {
      if (&type == k) rbac->Observe(type.kind, object, removed);
    }
  });
  for (json::Value& role : auth::rbac::BootstrapClusterRoles()) {
    BERTH_RETURN_IF_ERROR(ReconcileDefault(registry, *kinds[0], std::move(role)));
  }
  for (json::Value& binding : auth::rbac::BootstrapClusterRoleBindings()) {
    BERTH_RETURN_IF_ERROR(ReconcileDefault(registry, *kinds[2], std::move(binding)));
  }
  // What is stored now (the observer sees every later change; observing twice is harmless).
  for (const registry::ResourceType* k : kinds) {
    BERTH_ASSIGN_OR_RETURN(registry::ListPage page, registry.List(*k, "", {}));
    for (const std::string& item : page.items) {
      if (auto obj = json::ParseStored(item); obj.ok()) rbac->Observe(k->kind, *obj, false);
    }
  }
  security->rbac_ = rbac;
  security->chain_.push_back(rbac);
  registry.AddAdmissionPlugin(std::make_shared<RbacEscalation>(*security, rbac));
  return security;
}

// The Node authorizer's graph follows pods and claims from the commit observer on, after
// loading what is stored; NodeRestriction shares it.
absl::Status Security::StartNodeAuthorizer(registry::Registry& registry) {
  auto graph = std::make_shared<auth::node::NodeGraph>();
  const registry::Catalog& catalog = registry.catalog();
  const registry::ResourceType* pods = catalog.Find("", "v1", "pods");
  // Claims link pods to volumes once Berth serves them; until then the graph holds pods only.
  const registry::ResourceType* claims = catalog.Find("", "v1", "persistentvolumeclaims");
  if (pods == nullptr) return absl::InternalError("the catalog has no pods");
  registry.AddCommitObserver([graph, pods, claims](const registry::ResourceType& type, const json::Value& object, bool removed) {
    if (&type == pods || &type == claims) graph->Observe(type.kind, object, removed);
  });
  for (const registry::ResourceType* k : {claims, pods}) {
    if (k == nullptr) continue;
    BERTH_ASSIGN_OR_RETURN(registry::ListPage page, registry.List(*k, "", {}));
    for (const std::string& item : page.items) {
      if (auto obj = json::ParseStored(item); obj.ok()) graph->Observe(k->kind, *obj, false);
    }
  }
  std::vector<auth::rbac::PolicyRule> rules;
  for (const json::Value& rule : auth::rbac::NodeRules()) rules.push_back(auth::rbac::ParsePolicyRule(rule));
  chain_.push_back(std::make_shared<auth::node::NodeAuthorizer>(graph, std::move(rules)));
  node_restriction_ = std::make_shared<NodeRestriction>(graph);
  registry.AddAdmissionPlugin(node_restriction_);
  return absl::OkStatus();
}

absl::Status Security::Authenticate(endpoints::RequestContext& ctx) const {
  auto user = authenticator_->Authenticate(ctx.request);
  if (!user.ok()) return user.status();
  ctx.user = *std::move(user);
  if (enforcing() && ctx.user.name == auth::kAnonymousUser && !auth::authn::Authenticator::AnonymousAllowed(ctx.request)) {
    return absl::UnauthenticatedError("Unauthorized");
  }
  return Impersonate(ctx);
}

// Kubernetes' impersonation filter: Impersonate-User (with Impersonate-Group,
// Impersonate-Uid, Impersonate-Extra-*) acts as someone else when the requester may
// `impersonate` each of them; the request then carries the impersonated user alone.
absl::Status Security::Impersonate(endpoints::RequestContext& ctx) const {
  const std::map<std::string, std::string>& headers = ctx.request.headers;
  // Nearly every request impersonates no one: one ordered lookup tells (header names are
  // lower-case), before anything is split or copied.
  if (auto first = headers.lower_bound("impersonate-"); first == headers.end() || first->first.rfind("impersonate-", 0) != 0) {
    return absl::OkStatus();
  }
  std::string as_user = ctx.request.Header("impersonate-user");
  std::vector<std::string> as_groups;
  for (std::string_view g : Split(ctx.request.Header("impersonate-group"), ',')) {
    if (!Strip(g).empty()) as_groups.emplace_back(Strip(g));
  }
  std::string as_uid = ctx.request.Header("impersonate-uid");
  std::map<std::string, std::vector<std::string>> as_extra;
  constexpr std::string_view kExtra = "impersonate-extra-";
  for (const auto& [name, value] : headers) {
    if (name.rfind(kExtra, 0) != 0) continue;
    std::string key = http::PercentDecode(name.substr(kExtra.size()), false);
    for (std::string_view v : Split(value, ',')) {
      if (!Strip(v).empty()) as_extra[key].emplace_back(Strip(v));
    }
  }
  if (as_user.empty()) {
    if (!as_groups.empty() || !as_uid.empty() || !as_extra.empty()) {
      return api::BadRequest("requested impersonation of groups, uid or extra without impersonating a user");
    }
    return absl::OkStatus();
  }
  auto check = [&](const std::string& group, const std::string& resource, const std::string& ns,
                   const std::string& name) -> absl::Status {
    auth::Attributes a = auth::ResourceAttributes(ctx.user, "impersonate", group, resource, ns, name);
    // userextras/<key> is a resource with a subresource in RBAC's terms.
    if (auto slash = resource.find('/'); slash != std::string::npos) {
      a.resource = resource.substr(0, slash);
      a.subresource = resource.substr(slash + 1);
    }
    auth::Decision d = Decide(a);
    if (d.allowed()) return absl::OkStatus();
    return api::AccessForbidden(auth::ForbiddenMessage(a, d.reason), api::Target{a.api_group, a.resource, a.name, ""});
  };
  auth::UserInfo as;
  as.name = as_user;
  constexpr std::string_view kSaPrefix = "system:serviceaccount:";
  if (as_user.rfind(kSaPrefix, 0) == 0 && as_user.find(':', kSaPrefix.size()) != std::string::npos) {
    std::string rest = as_user.substr(kSaPrefix.size());
    std::string ns = rest.substr(0, rest.find(':'));
    BERTH_RETURN_IF_ERROR(check("", "serviceaccounts", ns, rest.substr(rest.find(':') + 1)));
    if (as_groups.empty()) as_groups = {"system:serviceaccounts", StrCat("system:serviceaccounts:", ns)};
  } else {
    BERTH_RETURN_IF_ERROR(check("", "users", "", as_user));
  }
  for (const std::string& g : as_groups) BERTH_RETURN_IF_ERROR(check("", "groups", "", g));
  if (!as_uid.empty()) BERTH_RETURN_IF_ERROR(check("authentication.k8s.io", "uids", "", as_uid));
  for (const auto& [key, values] : as_extra) {
    for (const std::string& v : values) BERTH_RETURN_IF_ERROR(check("authentication.k8s.io", "userextras/" + key, "", v));
  }
  as.groups = as_groups;
  as.uid = as_uid;
  as.extra = as_extra;
  if (as.name != auth::kAnonymousUser && !as.InGroup(auth::kAuthenticatedGroup)) as.groups.push_back(auth::kAuthenticatedGroup);
  ctx.user = std::move(as);
  return absl::OkStatus();
}

auth::Attributes Security::AttributesOf(const endpoints::RequestContext& ctx) {
  auth::Attributes a;
  a.user = ctx.user;
  a.verb = ctx.verb;
  a.resource_request = ctx.info.is_resource;
  if (a.resource_request) {
    a.ns = ctx.info.ns;
    a.api_group = ctx.info.group;
    a.api_version = ctx.info.version;
    a.resource = ctx.info.plural;
    a.subresource = ctx.info.subresource;
    a.name = ctx.info.name;
    // A list or watch of one object by name may use resourceNames rules, as upstream allows.
    if ((a.verb == "list" || a.verb == "watch") && a.name.empty()) {
      std::string fs = ctx.request.Query("fieldSelector");
      constexpr std::string_view kByName = "metadata.name=";
      if (fs.rfind(kByName, 0) == 0 && fs.find(',') == std::string::npos) a.name = fs.substr(kByName.size());
    }
  } else {
    a.path = ctx.request.path;
  }
  return a;
}

// Kubernetes' union authorizer: the first allow or deny decides; a request nobody allows is
// denied with the reasons of those that had none to give, joined as upstream joins them.
auth::Decision Security::Decide(const auth::Attributes& a) const {
  if (chain_.empty() || a.user.InGroup(auth::kMastersGroup)) return {auth::Decision::kAllow, ""};
  std::string reasons;
  for (const auto& authorizer : chain_) {
    auth::Decision d = authorizer->Authorize(a);
    if (d.kind != auth::Decision::kNoOpinion) return d;
    if (!d.reason.empty()) reasons += (reasons.empty() ? "" : ", ") + d.reason;
  }
  return {auth::Decision::kNoOpinion, reasons};
}

absl::Status Security::Authorize(endpoints::RequestContext& ctx) const {
  if (chain_.empty()) return absl::OkStatus();
  auth::Attributes a = AttributesOf(ctx);
  auth::Decision d = Decide(a);
  if (d.allowed()) {
    return node_restriction_ == nullptr ? absl::OkStatus() : node_restriction_->CheckRequest(a);
  }
  std::string message = auth::ForbiddenMessage(a, d.reason);
  if (!a.resource_request) return api::AccessForbidden(message, {});
  return api::AccessForbidden(message, api::Target{a.api_group, a.resource, a.name, ""});
}

auth::rbac::RulesForUser Security::RulesFor(const auth::UserInfo& user, const std::string& ns, bool& incomplete) const {
  incomplete = rbac_ == nullptr;
  if (rbac_ == nullptr) return {};
  auth::rbac::RulesForUser rules = rbac_->RulesFor(user, ns);
  if (user.InGroup(auth::kMastersGroup)) {
    // system:masters passes every check: say so as upstream's superuser does.
    auth::rbac::PolicyRule all{{"*"}, {"*"}, {"*"}, {}, {}};
    auth::rbac::PolicyRule urls{{"*"}, {}, {}, {}, {"*"}};
    rules.rules.insert(rules.rules.begin(), {all, urls});
  }
  return rules;
}

}  // namespace berth::apiserver::server
