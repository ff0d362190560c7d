#pragma once
// File: apiserver/auth/user_info.h
// The requester (core/api/user_info.h) under the names the auth code uses.

#include "core/api/user_info.h"

namespace berth::apiserver::auth {

using api::kAnonymousUser;
using api::kAuthenticatedGroup;
using api::kMastersGroup;
using api::kUnauthenticatedGroup;
using api::UserInfo;

}  // namespace berth::apiserver::auth
