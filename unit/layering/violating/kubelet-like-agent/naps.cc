// Fixture: time comes from an injected Clock.
#include "core/time/clock.h"
void Nap() { usleep(10); }
