// Reclaim objects: visible revocation of lent frames and CPU slots
// (kernel/reclaim.c).
#pragma once
#include "kernel/cap.h"

// The frame and Slots types' cap_deleted hooks call this for every such
// cap going (cap_lock held): a Reclaim grant, or a cap lent through one,
// is noted.
void reclaim_cap_deleted(const struct slot *s);
