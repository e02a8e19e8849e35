/*
 * check_torch.c - the network against PyTorch: fixed weights and inputs
 * (tests/fixtures/torch/small.txt, made by make-fixtures.py beside it with
 * Debian's python3-torch, in double precision); the forward output, the
 * class-weighted loss, every gradient, the batch norm running statistics
 * and one Adam step agree to 1e-4, relative to each tensor's norm.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/net.h"
#include "suites.h"

#define FIXTURE "fixtures/torch/small.txt"
#define TOL 1e-4

struct fix {
	char name[64];
	int n;
	double *v;
};

static struct fix fx[64];
static int nfx;

static void
load(void)
{
	FILE *fp = fopen(FIXTURE, "r");

	ck_assert_msg(fp != NULL, "cannot open %s (run the tests from tests/)", FIXTURE);
	nfx = 0;
	while (nfx < 64 && fscanf(fp, "%63s %d", fx[nfx].name, &fx[nfx].n) == 2) {
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

/* name, offset of that parameter, count */
struct slot {
	const char *name;
	size_t off;
	int n;
};

START_TEST(test_against_pytorch)
{
	const char *err;
	struct net *n;
	float x[4 * 48], clin[8], w[3];
	int32_t labels[4];
	float lab[4];

	load();
	n = net_new("conv:3,pool,conv:2:3:2,dense:5", 1, 8, 6, 2, 3, &err);
	ck_assert_msg(n != NULL, "%s", err ? err : "");
	net_init(n, 1);
	struct layer *l1 = &n->l[0], *l3 = &n->l[2], *l4 = &n->l[3], *l5 = &n->l[4];
	struct slot s[] = {
		{ "L1.w", l1->w, 27 }, { "L1.gamma", l1->gamma, 3 }, { "L1.beta", l1->beta, 3 },
		{ "L3.w", l3->w, 54 }, { "L3.gamma", l3->gamma, 2 }, { "L3.beta", l3->beta, 2 },
		{ "L4.w", l4->w, 50 }, { "L4.b", l4->b, 5 }, { "L5.w", l5->w, 15 }, { "L5.b", l5->b, 3 },
	};
	size_t total = 0;
	for (size_t i = 0; i < sizeof s / sizeof *s; i++) {
		set(n->params + s[i].off, s[i].name, s[i].n);
		total += s[i].n;
	}
	ck_assert_uint_eq(total, n->nparams);
	set(x, "x", 4 * 48);
	set(clin, "clin", 8);
	set(w, "weights", 3);
	set(lab, "labels", 4);
	for (int i = 0; i < 4; i++)
		labels[i] = (int32_t)lab[i];

	net_forward(n, x, clin, 4, 1, NULL);
	float loss = net_loss(n, labels, w, 4);
	same(n->probs, "probs", 12);
	same(&loss, "loss", 1);
	net_zero_grads(n);
	net_backward(n, x, labels, w, 4);
	for (size_t i = 0; i < sizeof s / sizeof *s; i++) {
		char g[64];
		snprintf(g, sizeof g, "grad.%s", s[i].name);
		same(n->grads + s[i].off, g, s[i].n);
	}
	same(n->stats + l1->rmean, "L1.mean", 3);
	same(n->stats + l1->rvar, "L1.var", 3);
	same(n->stats + l3->rmean, "L3.mean", 2);
	same(n->stats + l3->rvar, "L3.var", 2);
	net_adam(n, 1e-2f, 0.9f, 0.999f, 1e-8f, 0, 1);
	for (size_t i = 0; i < sizeof s / sizeof *s; i++) {
		char a[64];
		snprintf(a, sizeof a, "adam.%s", s[i].name);
		same(n->params + s[i].off, a, s[i].n);
	}
	net_free(n);
}
END_TEST

Suite *
torch_suite(void)
{
	Suite *s = suite_create("pytorch");
	TCase *tc = tcase_create("fixtures");

	tcase_add_test(tc, test_against_pytorch);
	suite_add_tcase(s, tc);
	return s;
}
