// The tutorial's solutions of lessons 3, 4, 5 and 7 (docs/tutorial/), run
// as the tutorial runs them (tutorial.h): each checks what its lesson
// teaches and exits 0 only if all of it held. tools/shell-test checks
// their output through the shell too.
#include "tutorial.h"

UTEST(tutorial_3_untyped) { return tutorial_expect_exit("tut_untyped", 0, 0); }
UTEST(tutorial_4_frames) { return tutorial_expect_exit("tut_frames", 0, 0); }
UTEST_FAULTS(tutorial_5_threads) { return tutorial_expect_exit("tut_threads", 0, 0); }
UTEST_FAULTS(tutorial_7_lrpc) { return tutorial_expect_exit("tut_lrpc", 0, 0); }
