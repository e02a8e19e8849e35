/*
 * check_main.c - runs the unit tests of common/ (Check).  Tests that expect
 * a program to die run in a forked child (Check's default), so their exit
 * status can be asserted.
 */
#include <stdlib.h>

#include "suites.h"

int
main(void)
{
	SRunner *sr = srunner_create(record_suite());
	int failed;

	srunner_add_suite(sr, image_suite());
	srunner_add_suite(sr, misc_suite());
	srunner_add_suite(sr, imgops_suite());
	srunner_add_suite(sr, nn_suite());
	srunner_add_suite(sr, net_suite());
	srunner_add_suite(sr, dnn_suite());
	srunner_add_suite(sr, torch_suite());
	srunner_add_suite(sr, metrics_suite());
	srunner_add_suite(sr, xgb_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
