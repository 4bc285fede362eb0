// Reclaim objects: visible revocation of lent frames (kernel/reclaim.c).
#pragma once
#include "kernel/cap.h"

// The frame type's cap_deleted hook calls this for every frame cap going
// (cap_lock held): a Reclaim grant, or a cap lent through one, is noted.
void reclaim_frame_deleted(const struct slot *s);
