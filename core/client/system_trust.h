#pragma once
// File: core/client/system_trust.h
// Keeps the system's CA bundle out of connections that do not use it.
//
// cpprestsdk builds a new SSL context for every new connection and loads OpenSSL's default CA
// file into it before our own callback runs. With OpenSSL 3 that decode of the ~140 roots in
// Debian's bundle costs ~30 ms of CPU, and a burst of API calls opens a connection per request
// in flight: the agent spent a fifth of its CPU during a burst of pod starts on it. Connections
// to the apiserver then replace that store with the cluster CA, so the work was wasted.
//
// DeferSystemTrustLoading() points OpenSSL's default file at an empty one (the SSL_CERT_FILE
// variable, which OpenSSL reads for each new store) and remembers the real one;
// AddSystemTrust() loads the real one into the contexts that do verify against the system
// roots (image registries). The hashed directory (SSL_CERT_DIR) is untouched: it loads a root
// only when a chain needs it.

struct ssl_ctx_st;  // OpenSSL's SSL_CTX

namespace berth::client {

// Call at the start of main(), before any thread starts (it sets an environment variable).
void DeferSystemTrustLoading();
// Adds the system roots to `ctx`'s store (what OpenSSL's defaults would have loaded).
void AddSystemTrust(ssl_ctx_st* ctx);

}  // namespace berth::client
