#include "controllers/runtime/controller.h"

#include <stdexcept>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "testing/fake_clock.h"

namespace berth::controllers {
namespace {

// Throws for one poisoned key (as std::stoll did on "x%"), reconciles the others.
class PoisonedReconciler final : public Reconciler {
 public:
  absl::StatusOr<Result> Reconcile(const Request& request, std::stop_token) override {
    if (request.name == "poison") throw std::invalid_argument("stoll");
    if (request.name == "unknown") throw 42;
    reconciled.push_back(request.Key());
    return Result{};
  }
  std::vector<std::string> reconciled;
};

TEST(ControllerTest, AThrowingReconcileCostsThatKeyABackoffNotTheProcess) {
  berth::testing::FakeClock clock;
  PoisonedReconciler reconciler;
  RateLimits limits;
  limits.base_delay = absl::Milliseconds(10);
  Controller controller("test", reconciler, clock, 1, limits);
  std::vector<std::string> failures;
  controller.OnReconcileFailure([&](const Request& r, const absl::Status& s) {
    failures.push_back(r.Key() + ": " + std::string(s.message()));
  });
  controller.Enqueue("ns/poison");
  controller.Enqueue("ns/unknown");
  controller.Enqueue("ns/good");
  while (controller.ProcessOneForTest()) {
  }
  EXPECT_EQ(reconciler.reconciled, std::vector<std::string>{"ns/good"});
  EXPECT_EQ(controller.errors(), 2u);
  ASSERT_EQ(failures.size(), 2u);
  EXPECT_NE(failures[0].find("threw: stoll"), std::string::npos) << failures[0];
  EXPECT_NE(failures[1].find("non-standard exception"), std::string::npos) << failures[1];
  // The poisoned keys come back after their back-off, and fail again without harm.
  clock.Advance(absl::Milliseconds(10));
  EXPECT_TRUE(controller.ProcessOneForTest());
  EXPECT_TRUE(controller.ProcessOneForTest());
  EXPECT_EQ(controller.errors(), 4u);
  controller.Enqueue("ns/good2");
  EXPECT_TRUE(controller.ProcessOneForTest());
  EXPECT_EQ(reconciler.reconciled.back(), "ns/good2");
}

}  // namespace
}  // namespace berth::controllers
