// Fixture for the layering check: core may not know the registry.
#include "apiserver/registry/registry.h"
