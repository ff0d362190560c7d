#pragma once
// File: apiserver/server/reviews.h
// The create-only kinds that ask the authorizer or the authenticator a question and store
// nothing: SelfSubjectAccessReview (`kubectl auth can-i`), SelfSubjectRulesReview (`can-i
// --list`), SubjectAccessReview, LocalSubjectAccessReview and SelfSubjectReview (`kubectl auth
// whoami`). Answers are 201 with the request echoed and `status` filled, as upstream.

#include <memory>

#include "apiserver/endpoints/exchange.h"
#include "apiserver/registry/resource_type.h"
#include "apiserver/server/security.h"

namespace berth::apiserver::server {

void ServeReview(const Security& security, const std::shared_ptr<endpoints::Exchange>& ex,
                 const registry::ResourceType& type);

}  // namespace berth::apiserver::server
