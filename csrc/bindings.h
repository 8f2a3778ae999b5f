/* Every C API the lab binds; bindgen reads this one file. */
#include "lab_alloc.h"
#include "connector/connector.h"
