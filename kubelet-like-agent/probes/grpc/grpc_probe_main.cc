// berth-grpc-probe HOST:PORT SERVICE TIMEOUT_MS
//
// One gRPC health check (grpc.health.v1.Health/Check), as a Kubernetes gRPC probe makes it:
// exit 0 when the service answers SERVING, 1 otherwise, with the kubelet's wording of the
// failure on stdout. A separate program so that the agent itself links no gRPC (it is large,
// and probes are seconds apart): the agent runs it per probe.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "health.grpc.pb.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: berth-grpc-probe HOST:PORT SERVICE TIMEOUT_MS\n");
    return 2;
  }
  const std::string address = argv[1], service = argv[2];
  const auto timeout = std::chrono::milliseconds(std::atol(argv[3]));
  const std::string within = std::to_string(timeout.count() / 1000.0).substr(0, 4) + "s";
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  // gRPC's own clock: the deadline is the library's to enforce.
  const gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(timeout.count(), GPR_TIMESPAN));
  if (!channel->WaitForConnected(deadline)) {
    std::printf("timeout: failed to connect service \"%s\" within %s\n", address.c_str(), within.c_str());
    return 1;
  }
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(deadline);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = stub->Check(&context, request, &response);
  if (!status.ok()) {
    if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      std::printf("timeout: health rpc did not complete within %s\n", within.c_str());
    } else {
      std::printf("error: health rpc probe failed: rpc error: code = %d desc = %s\n", static_cast<int>(status.error_code()),
                  status.error_message().c_str());
    }
    return 1;
  }
  if (response.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
    std::printf("service unhealthy (responded with \"%s\")\n",
                grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status()).c_str());
    return 1;
  }
  return 0;
}
