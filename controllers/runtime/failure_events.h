#pragma once
// File: controllers/runtime/failure_events.h
// Makes a controller's failed reconciles visible where users look: a Warning Event
// (reason ReconcileFailed) on the object, found in `cache`, so `kubectl describe` shows why the
// object does not converge. The EventRecorder aggregates repeats of the same message.

#include "controllers/runtime/controller.h"
#include "controllers/runtime/event_recorder.h"
#include "controllers/runtime/informer.h"

namespace berth::controllers {

// Before `controller.Start()`. `cache` and `events` must outlive the controller's workers.
void ReportFailuresAsEvents(Controller& controller, const Informer& cache, EventRecorder& events);

}  // namespace berth::controllers
