#include "controllers/runtime/failure_events.h"

#include <string>

#include "core/strings/strings.h"

namespace berth::controllers {

void ReportFailuresAsEvents(Controller& controller, const Informer& cache, EventRecorder& events) {
  controller.OnReconcileFailure([&cache, &events, name = controller.name()](const Request& request,
                                                                            const absl::Status& status) {
    // Conflicts are the normal optimistic-concurrency retry, not something to tell the user.
    if (status.code() == absl::StatusCode::kAborted) return;
    ObjectPtr object = cache.Get(request.Key());
    if (object == nullptr) return;  // deleted meanwhile: nobody to tell
    events.Record(*object, "Warning", "ReconcileFailed", StrCat(name, ": ", Sv(status.message())));
  });
}

}  // namespace berth::controllers
