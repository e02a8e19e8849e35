/*
 * check_torch.c - the network against PyTorch: fixed weights and inputs
 * (tests/fixtures/torch/small.txt and branch.txt, made by make-fixtures.py
 * beside them with Debian's python3-torch, in double precision); the
 * forward output, the class-weighted loss, every gradient, the batch norm
 * running statistics and one Adam step agree to 1e-4, relative to each
 * tensor's norm.  The fixtures name tensors as the model file does, so the
 * test walks the network's parameter table.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/spec/net.h"
#include "engine/ref/ref.h"
#include "suites.h"

#define TOL 1e-4

struct fix {
	char name[64];
	int n;
	double *v;
};

static struct fix fx[128];
static int nfx;

static void
load(const char *path)
{
	FILE *fp = fopen(path, "r");

	ck_assert_msg(fp != NULL, "cannot open %s (run the tests from tests/)", path);
	for (int i = 0; i < nfx; i++)
		free(fx[i].v);
	nfx = 0;
	while (nfx < 128 && fscanf(fp, "%63s %d", fx[nfx].name, &fx[nfx].n) == 2) {
		fx[nfx].v = malloc(fx[nfx].n * sizeof(double));
		for (int i = 0; i < fx[nfx].n; i++)
			ck_assert_int_eq(fscanf(fp, "%lf", &fx[nfx].v[i]), 1);
		nfx++;
	}
	fclose(fp);
}

static const struct fix *
get(const char *name)
{
	for (int i = 0; i < nfx; i++)
		if (!strcmp(fx[i].name, name))
			return &fx[i];
	ck_abort_msg("fixture has no %s", name);
	return NULL;
}

static void
set(float *dst, const char *name, int n)
{
	const struct fix *f = get(name);

	ck_assert_int_eq(f->n, n);
	for (int i = 0; i < n; i++)
		dst[i] = (float)f->v[i];
}

static void
same(const float *got, const char *name, int n)
{
	const struct fix *f = get(name);
	double d2 = 0, r2 = 0;

	ck_assert_int_eq(f->n, n);
	for (int i = 0; i < n; i++) {
		d2 += (got[i] - f->v[i]) * (got[i] - f->v[i]);
		r2 += f->v[i] * f->v[i];
	}
	ck_assert_msg(sqrt(d2) <= TOL * sqrt(r2) + 1e-7, "%s differs from PyTorch: relative error %g", name,
	              sqrt(d2 / (r2 > 0 ? r2 : 1)));
}

/* one training step of spec (input 1x8x6, 2 clinical features, 3 classes)
 * against the fixture at path */
static void
against(const char *path, const char *spec)
{
	const char *err;
	struct net *n;
	float x[4 * 48], clin[8], w[3];
	int32_t labels[4];
	float lab[4];
	size_t total = 0;

	load(path);
	n = net_new(spec, 1, 8, 6, 2, 3, &err);
	ck_assert_msg(n != NULL, "%s", err ? err : "");
	net_init(n, 1);
	for (int i = 0; i < n->ntensors; i++) {
		const struct ptensor *t = &n->pt[i];
		if (t->kind != P_MEAN && t->kind != P_VAR) {
			set(n->params + t->off, t->name, (int)t->count);
			total += t->count;
		}
	}
	ck_assert_uint_eq(total, n->nparams);
	set(x, "x", 4 * 48);
	set(clin, "clin", 8);
	set(w, "weights", 3);
	set(lab, "labels", 4);
	for (int i = 0; i < 4; i++)
		labels[i] = (int32_t)lab[i];

	ref_forward(n, x, clin, 4, 1, NULL);
	float loss = ref_loss(n, labels, w, 4);
	same(n->probs, "probs", 12);
	same(&loss, "loss", 1);
	net_zero_grads(n);
	ref_backward(n, x, labels, w, 4);
	for (int i = 0; i < n->ntensors; i++) {
		const struct ptensor *t = &n->pt[i];
		char g[64];
		if (t->kind == P_MEAN || t->kind == P_VAR) {
			same(n->stats + t->off, t->name, (int)t->count);
			continue;
		}
		snprintf(g, sizeof g, "grad.%s", t->name);
		same(n->grads + t->off, g, (int)t->count);
	}
	ref_adam(n, 1e-2f, 0.9f, 0.999f, 1e-8f, 0, 1);
	for (int i = 0; i < n->ntensors; i++) {
		const struct ptensor *t = &n->pt[i];
		char a[64];
		if (t->kind == P_MEAN || t->kind == P_VAR)
			continue;
		snprintf(a, sizeof a, "adam.%s", t->name);
		same(n->params + t->off, a, (int)t->count);
	}
	net_free(n);
}

START_TEST(test_against_pytorch)
{
	against("fixtures/torch/small.txt", "conv:3,pool,conv:2:3:2,dense:5");
}
END_TEST

/* global average pooling and a two-layer clinical branch */
START_TEST(test_branch_against_pytorch)
{
	against("fixtures/torch/branch.txt", "conv:3,pool,conv:4,gap,clin:3,clin:2,dense:5");
}
END_TEST

Suite *
torch_suite(void)
{
	Suite *s = suite_create("pytorch");
	TCase *tc = tcase_create("fixtures");

	tcase_add_test(tc, test_against_pytorch);
	tcase_add_test(tc, test_branch_against_pytorch);
	suite_add_tcase(s, tc);
	return s;
}
