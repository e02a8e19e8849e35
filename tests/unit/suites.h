/* suites.h - the Check suites of common/, run together by check_main.c */
#ifndef OSTEO_SUITES_H
#define OSTEO_SUITES_H

#include <check.h>

Suite *record_suite(void);
Suite *image_suite(void);
Suite *misc_suite(void);
Suite *imgops_suite(void);
Suite *nn_suite(void);
Suite *net_suite(void);
Suite *dnn_suite(void);
Suite *torch_suite(void);
Suite *metrics_suite(void);
Suite *xgb_suite(void);

#endif
