/*
 * fusion.c - late fusion (fusion.h): a multinomial logistic regression
 * fitted by Newton's method, in double.
 */
#include "fusion.h"
#include "common/base/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* a probability of 0 taken as 1e-12, so that its log is finite */
#define P_FLOOR 1e-12

/* the inputs of one record: log p, the clinical values, 1 */
static void
inputs(const double *p, const float *clin, int k, int nclin, double *x)
{
	for (int c = 0; c < k; c++)
		x[c] = log(p[c] > P_FLOOR ? p[c] : P_FLOOR);
	for (int j = 0; j < nclin; j++)
		x[k + j] = clin[j];
	x[k + nclin] = 1;
}

/* the softmax of x W into q (k) */
static void
answer(const double *w, const double *x, int d, int k, double *q)
{
	double mx = -INFINITY, sum = 0;

	for (int c = 0; c < k; c++) {
		q[c] = 0;
		for (int i = 0; i < d; i++)
			q[c] += x[i] * w[(size_t)i * k + c];
		mx = fmax(mx, q[c]);
	}
	for (int c = 0; c < k; c++)
		sum += (q[c] = exp(q[c] - mx));
	for (int c = 0; c < k; c++)
		q[c] /= sum;
}

/* the objective at w; g and h (the gradient and Hessian) when not NULL.
 * Parameter (i, c) is at i * k + c. */
static double
objective(const double *w, const double *X, const int32_t *y, size_t n, int d, int k, double l2, double *g,
          double *h)
{
	size_t P = (size_t)d * k;
	double q[256], loss = 0;

	if (g)
		memset(g, 0, P * sizeof *g);
	if (h)
		memset(h, 0, P * P * sizeof *h);
	for (size_t r = 0; r < n; r++) {
		const double *x = X + r * d;
		answer(w, x, d, k, q);
		loss -= log(q[y[r]] > 1e-300 ? q[y[r]] : 1e-300);
		if (g)
			for (int i = 0; i < d; i++)
				for (int c = 0; c < k; c++)
					g[(size_t)i * k + c] += x[i] * (q[c] - (c == y[r]));
		if (h)
			for (int i = 0; i < d; i++)
				for (int c = 0; c < k; c++)
					for (int j = 0; j < d; j++)
						for (int e = 0; e < k; e++)
							h[((size_t)i * k + c) * P + (size_t)j * k + e] +=
								x[i] * x[j] * q[c] * ((c == e) - q[e]);
	}
	loss /= (double)n;
	for (size_t a = 0; g && a < P; a++)
		g[a] /= (double)n;
	for (size_t a = 0; h && a < P * P; a++)
		h[a] /= (double)n;
	/* the penalty on the weights; a whisper on the biases, whose sum over
	 * the classes the likelihood leaves free */
	for (size_t a = 0; a < P; a++) {
		double pen = a / k == (size_t)d - 1 ? 1e-9 : l2;
		loss += pen * w[a] * w[a];
		if (g)
			g[a] += 2 * pen * w[a];
		if (h)
			h[a * P + a] += 2 * pen;
	}
	return loss;
}

/* solve H s = g in place (g becomes s) by Cholesky; -1 when H is not
 * positive definite */
static int
solve(double *H, double *g, size_t P)
{
	for (size_t j = 0; j < P; j++) {
		double s = H[j * P + j];
		for (size_t t = 0; t < j; t++)
			s -= H[j * P + t] * H[j * P + t];
		if (!(s > 0))
			return -1;
		H[j * P + j] = sqrt(s);
		for (size_t i = j + 1; i < P; i++) {
			double v = H[i * P + j];
			for (size_t t = 0; t < j; t++)
				v -= H[i * P + t] * H[j * P + t];
			H[i * P + j] = v / H[j * P + j];
		}
	}
	for (size_t i = 0; i < P; i++) {
		for (size_t t = 0; t < i; t++)
			g[i] -= H[i * P + t] * g[t];
		g[i] /= H[i * P + i];
	}
	for (size_t i = P; i-- > 0;) {
		for (size_t t = i + 1; t < P; t++)
			g[i] -= H[t * P + i] * g[t];
		g[i] /= H[i * P + i];
	}
	return 0;
}

int
fusion_fit(struct fusion *f, int k, int nclin, const double *p, const float *clin, const int32_t *y, size_t n,
           double l2)
{
	int d = k + nclin + 1, ok = -1;
	size_t P = (size_t)d * k;
	double *X = emalloc(n * d * sizeof *X), *w = ecalloc(P, sizeof *w), *g = emalloc(P * sizeof *g);
	double *H = emalloc(P * P * sizeof *H), *t = emalloc(P * sizeof *t);

	if (k < 2 || k > 256)
		die(EX_SOFTWARE, "fusion_fit: %d classes", k);
	for (size_t r = 0; r < n; r++)
		inputs(p + r * k, clin + r * (size_t)nclin, k, nclin, X + r * d);
	/* start from the network's own answer: log p passed through */
	for (int c = 0; c < k; c++)
		w[(size_t)c * k + c] = 1;
	for (int it = 0; it < 100; it++) {
		double f0 = objective(w, X, y, n, d, k, l2, g, H), step = 1, dec = 0, gn = 0;
		memcpy(t, g, P * sizeof *t);
		if (solve(H, g, P) < 0)
			break;
		/* the Newton decrement g' H^-1 g: half of it is how far the
		 * objective is above its minimum, near the minimum */
		for (size_t a = 0; a < P; a++) {
			dec += t[a] * g[a];
			gn = fmax(gn, fabs(t[a]));
		}
		if (dec / 2 < 1e-14) {
			ok = 0;
			break;
		}
		/* backtracking along the Newton direction */
		for (;;) {
			for (size_t a = 0; a < P; a++)
				t[a] = w[a] - step * g[a];
			if (objective(t, X, y, n, d, k, l2, NULL, NULL) <= f0)
				break;
			step /= 2;
			if (step < 1e-10) {
				/* no step lowers it: at the minimum to rounding, if the
				 * gradient says so */
				ok = gn < 1e-7 ? 0 : -1;
				goto done;
			}
		}
		memcpy(w, t, P * sizeof *w);
	}
done:
	/* as the model file keeps them, so training and inference agree */
	for (size_t a = 0; a < P; a++)
		w[a] = (float)w[a];
	free(X);
	free(g);
	free(H);
	free(t);
	f->k = k;
	f->nclin = nclin;
	f->w = w;
	return ok;
}

void
fusion_apply(const struct fusion *f, double *p, const float *clin)
{
	int d = f->k + f->nclin + 1;
	double x[d];

	if (!f->k)
		return;
	inputs(p, clin, f->k, f->nclin, x);
	answer(f->w, x, d, f->k, p);
}

void
fusion_free(struct fusion *f)
{
	free(f->w);
	memset(f, 0, sizeof *f);
}
