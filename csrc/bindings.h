/* The lab's own C API (the connector); bindgen reads this one file. */
#include "connector/connector.h"
