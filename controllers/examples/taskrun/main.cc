// berth-example-taskrun-controller (--kubeconfig FILE | --server URL) --crd FILE
// Installs the TaskRun CustomResourceDefinition if it is missing, then reconciles TaskRuns.

#include <signal.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "controllers/examples/taskrun/taskrun_controller.h"
#include "core/client/system_trust.h"
#include "core/json/codec.h"
#include "core/log/log.h"

int main(int argc, char** argv) {
  berth::client::DeferSystemTrustLoading();  // first: it sets an environment variable
  std::string server;
  std::string kubeconfig;
  std::string crd_file;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--server") server = argv[i + 1];
    if (flag == "--kubeconfig") kubeconfig = argv[i + 1];
    if (flag == "--crd") crd_file = argv[i + 1];
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  using namespace berth;
  auto connection = client::ConnectionFromFlags(kubeconfig, server);
  if (!connection.ok()) {
    std::fprintf(stderr, "%s\n", std::string(connection.status().message()).c_str());
    return 2;
  }
  auto api = client::ApiClient::Connect(*connection);
  const client::Resource crds{"apiextensions.k8s.io", "v1", "customresourcedefinitions", false, "CustomResourceDefinition"};
  if (!crd_file.empty()) {
    std::ifstream in(crd_file);
    std::stringstream text;
    text << in.rdbuf();
    auto crd = json::Parse(text.str());
    if (!crd.ok()) {
      std::fprintf(stderr, "cannot read %s: %s\n", crd_file.c_str(), crd.status().ToString().c_str());
      return 2;
    }
    auto r = api->Create(crds, "", *crd);
    if (!r.ok() && r.status().code() != absl::StatusCode::kAlreadyExists) {
      std::fprintf(stderr, "cannot install the CRD: %s\n", r.status().ToString().c_str());
      return 1;
    }
  }
  controllers::Informer taskruns(*api, examples::kTaskRuns);
  client::ListOptions owned;
  owned.label_selector = examples::kTaskRunLabel;  // only the pods we made
  controllers::Informer pods(*api, client::resources::kPods, "", owned);
  examples::TaskRunController controller(*api, taskruns, pods);
  taskruns.Start();
  pods.Start();
  taskruns.WaitForSync(absl::Seconds(30));
  pods.WaitForSync(absl::Seconds(30));
  controller.controller().Start();
  std::printf("taskrun controller running against %s\n", server.c_str());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  controller.controller().Stop();
  taskruns.Stop();
  pods.Stop();
  return 0;
}
