// The tutorial's solutions of lessons 8, 9 and 10 (docs/tutorial/): address
// spaces and SpaceJMP, a user-level pager, a small DSM. Each exits 0 only
// when everything it demonstrates held; tools/shell-test checks their
// output through the shell too.
#include "tutorial.h"

UTEST_FAULTS(tutorial_8_spacejmp) { return tutorial_expect_exit("tut_spacejmp", 0, 0); }
UTEST_FAULTS(tutorial_9_pager) { return tutorial_expect_exit("tut_pager", 0, 0); }
UTEST(tutorial_10_dsm) { return tutorial_expect_exit("tut_dsm", 0, 0); }
