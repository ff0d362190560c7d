#pragma once
// File: apiserver/server/protobuf/k8s_protobuf.h
// Decodes `application/vnd.kubernetes.protobuf` request bodies — what kubectl's generators
// (`kubectl create namespace|configmap|secret|serviceaccount|deployment|job|cronjob`) send — into
// the JSON objects the rest of the server works with. The envelope is Kubernetes' ("k8s\0" +
// runtime.Unknown{typeMeta, raw}); the messages are described by field tables mirroring
// k8s.io/api's generated.proto for the fields those kinds carry. A field Berth does not know is
// an error naming it, never silently dropped; zero values of non-pointer Go fields are omitted,
// as their JSON form would omit them.

#include <string_view>

#include "absl/status/statusor.h"
#include "core/json/value.h"

namespace berth::apiserver::server {

absl::StatusOr<json::Value> DecodeKubernetesProtobuf(std::string_view body);

}  // namespace berth::apiserver::server
