// Fixture for the layering check: controllers reach state only through the API.
#include "apiserver/storage/store.h"
#include "controllers/runtime/informer.h"
