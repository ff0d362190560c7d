// Fixture: a library including a header of a library it does not link.
#include "core/b/b.h"
