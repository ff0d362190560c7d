#pragma once
// File: kubelet-like-agent/network/service_env.h
// The environment variables the kubelet gives every container for the Services of its namespace
// (and the `kubernetes` Service of `default`): <NAME>_SERVICE_HOST, <NAME>_SERVICE_PORT,
// <NAME>_SERVICE_PORT_<PORT NAME>, and the Docker-link style <NAME>_PORT* variables. With
// enableServiceLinks: false only the `kubernetes` Service's are set. Headless and ExternalName
// Services have no address and get none. The container's own env overrides them.

#include <string>
#include <vector>

#include "core/json/value.h"

namespace berth::agent::network {

std::vector<std::string> ServiceEnv(const std::vector<const json::Value*>& services, const std::string& pod_namespace,
                                    bool service_links);

}  // namespace berth::agent::network
