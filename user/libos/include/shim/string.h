// <string.h> for lwIP: libmanifold's freestanding routines (lib/string.h).
#pragma once
#include "lib/string.h"
