#pragma once
// File: kubelet-like-agent/streaming/stream_routes.h
// The agent's streaming endpoints, at the kubelet's paths (the apiserver relays the client's
// upgraded connection here): /exec/{namespace}/{pod}/{container}, /attach/... (query command,
// stdin, stdout, stderr, tty as kubectl sends them) and /portForward/{namespace}/{pod}
// (WebSocket channels with ?ports=, SPDY/3.1 tunnelled in WebSocket, or a plain SPDY/3.1
// upgrade). Errors before the upgrade are Kubernetes Status objects, which kubectl prints.

#include <memory>

#include "core/http/http.h"
#include "kubelet-like-agent/runtime/runtime.h"
#include "kubelet-like-agent/streaming/sessions.h"

namespace berth::agent::streaming {

// True when `request` is one of the streaming paths (then it has been answered).
bool ServeStreamRequest(const http::Request& request, const std::shared_ptr<http::Responder>& responder,
                        runtime::Runtime& runtime, StreamSessions& sessions);

}  // namespace berth::agent::streaming
