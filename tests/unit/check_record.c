/*
 * check_record.c - the record codec: round trips for every dtype and every
 * key, unknown keys passed through byte for byte, and bad streams.
 */
#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/record/params.h"
#include "common/record/record.h"
#include "common/base/util.h"
#include "suites.h"

static struct tensor *
put(struct record *r, const char *name, enum dtype dt, int ndim, const uint32_t *shape)
{
	const char *err = NULL;
	struct tensor *t = rec_tensor_put(r, name, dt, ndim, shape, &err);

	ck_assert_msg(t != NULL, "rec_tensor_put: %s", err);
	return t;
}

static void
fill(struct record *r)
{
	uint32_t s1[3] = { 1, 2, 3 }, s2[2] = { 3, 2 }, s3[1] = { 4 };
	struct tensor *t;

	rec_set_id(r, "P001/hip.png");
	rec_set_patient(r, "P001");
	r->has_label = 1;
	r->label = 2;
	rec_meta_str(r, "source", "a/b.png");
	rec_meta_int(r, "bit_depth", -16);
	rec_meta_float(r, "scale", 0.125);
	rec_meta_bool(r, "flipped", 1);
	t = put(r, "image", DT_U8, 3, s1);
	for (int i = 0; i < 6; i++)
		((uint8_t *)t->data)[i] = (uint8_t)(i * 50);
	t = put(r, "raw", DT_U16, 2, s2);
	for (int i = 0; i < 6; i++)
		((uint16_t *)t->data)[i] = (uint16_t)(i * 13000 + 1);
	t = put(r, "clinical", DT_F32, 1, s3);
	((float *)t->data)[0] = -1.5f;
	((float *)t->data)[1] = 3.25e-8f;
	((float *)t->data)[2] = 0;
	((float *)t->data)[3] = 1e30f;
	double p[3] = { 0.1, 0.2, 0.7 };
	rec_set_probs(r, p, 3);
	r->has_pred = 1;
	r->pred = 2;
	r->has_risk = 1;
	r->risk = 0.7;
}

static FILE *
roundtrip_file(const struct record *r, int copies)
{
	FILE *fp = tmpfile();
	struct rec_writer *w = rec_writer_new(fp, "tmp");

	for (int i = 0; i < copies; i++)
		rec_write(w, r);
	ck_assert_int_eq(rec_writer_count(w), copies);
	ck_assert_int_eq(rec_writer_close(w), 0);
	rewind(fp);
	return fp;
}

static void
assert_same(const struct record *a, const struct record *b)
{
	ck_assert_str_eq(a->id, b->id);
	ck_assert_int_eq(a->has_patient, b->has_patient);
	if (a->has_patient)
		ck_assert_str_eq(a->patient, b->patient);
	ck_assert_int_eq(a->has_label, b->has_label);
	ck_assert_int_eq(a->label, b->label);
	ck_assert_int_eq(a->nmeta, b->nmeta);
	for (int i = 0; i < a->nmeta; i++) {
		const struct metaval *m = rec_meta(b, a->meta[i].key);
		ck_assert_ptr_nonnull(m);
		ck_assert_int_eq(m->type, a->meta[i].type);
		if (m->type == MV_STR)
			ck_assert_str_eq(m->s, a->meta[i].s);
		else if (m->type == MV_FLOAT)
			ck_assert(m->f == a->meta[i].f);
		else
			ck_assert_int_eq(m->i, a->meta[i].i);
	}
	ck_assert_int_eq(a->ntensors, b->ntensors);
	for (int i = 0; i < a->ntensors; i++) {
		const struct tensor *x = &a->tensors[i], *y = rec_tensor(b, x->name);
		ck_assert_ptr_nonnull(y);
		ck_assert_int_eq(x->dtype, y->dtype);
		ck_assert_int_eq(x->ndim, y->ndim);
		ck_assert_mem_eq(x->shape, y->shape, x->ndim * sizeof x->shape[0]);
		ck_assert_uint_eq(x->nbytes, y->nbytes);
		ck_assert_mem_eq(x->data, y->data, x->nbytes);
	}
	ck_assert_int_eq(a->has_probs, b->has_probs);
	ck_assert_int_eq(a->nprobs, b->nprobs);
	for (int i = 0; i < a->nprobs; i++)
		ck_assert(a->probs[i] == b->probs[i]);
	ck_assert_int_eq(a->has_pred, b->has_pred);
	ck_assert_int_eq(a->pred, b->pred);
	ck_assert_int_eq(a->has_risk, b->has_risk);
	ck_assert(a->risk == b->risk);
	ck_assert_uint_eq(a->extralen, b->extralen);
	if (a->extralen)
		ck_assert_mem_eq(a->extra, b->extra, a->extralen);
}

START_TEST(test_roundtrip_all_dtypes)
{
	struct record a, b;
	FILE *fp;
	struct rec_reader *rd;

	rec_init(&a);
	rec_init(&b);
	fill(&a);
	fp = roundtrip_file(&a, 3);
	rd = rec_reader_new(fp, "tmp");
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(rec_read(rd, &b), 1);
		assert_same(&a, &b);
	}
	ck_assert_int_eq(rec_read(rd, &b), 0);
	ck_assert_int_eq(rec_reader_count(rd), 3);
	rec_reader_free(rd);
	fclose(fp);
	rec_free(&a);
	rec_free(&b);
}
END_TEST

START_TEST(test_roundtrip_minimal)
{
	struct record a, b;
	FILE *fp;
	struct rec_reader *rd;

	rec_init(&a);
	rec_init(&b);
	fill(&b);     /* a reused record must forget what it held */
	rec_set_id(&a, "x");
	fp = roundtrip_file(&a, 1);
	rd = rec_reader_new(fp, "tmp");
	ck_assert_int_eq(rec_read(rd, &b), 1);
	assert_same(&a, &b);
	ck_assert_int_eq(b.ntensors, 0);
	rec_reader_free(rd);
	fclose(fp);
	rec_free(&a);
	rec_free(&b);
}
END_TEST

static void
pack_str(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str(pk, strlen(s));
	msgpack_pack_str_body(pk, s, strlen(s));
}

/* unknown keys come back byte for byte, after the known ones */
START_TEST(test_unknown_keys_pass_through)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct record r, r2;
	FILE *in = tmpfile();

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 4);
	pack_str(&pk, "zeta");
	msgpack_pack_array(&pk, 2);
	msgpack_pack_int(&pk, -7);
	msgpack_pack_nil(&pk);
	pack_str(&pk, "id");
	pack_str(&pk, "r1");
	pack_str(&pk, "tensors");
	msgpack_pack_map(&pk, 0);
	pack_str(&pk, "note");
	pack_str(&pk, "kept");
	fwrite(sb.data, 1, sb.size, in);
	rewind(in);

	rec_init(&r);
	rec_init(&r2);
	struct rec_reader *rd = rec_reader_new(in, "in");
	ck_assert_int_eq(rec_read(rd, &r), 1);
	ck_assert_int_eq(r.nextra, 2);
	FILE *out = roundtrip_file(&r, 1);
	struct rec_reader *rd2 = rec_reader_new(out, "out");
	ck_assert_int_eq(rec_read(rd2, &r2), 1);
	assert_same(&r, &r2);

	/* the JSON view of the extras */
	char *json = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&json, &len);
	rec_extra_json(mem, &r2);
	fclose(mem);
	ck_assert_str_eq(json, ",\"zeta\":[-7,null],\"note\":\"kept\"");
	free(json);
	rec_reader_free(rd);
	rec_reader_free(rd2);
	fclose(in);
	fclose(out);
	msgpack_sbuffer_destroy(&sb);
	rec_free(&r);
	rec_free(&r2);
}
END_TEST

START_TEST(test_copy)
{
	struct record a, b;

	rec_init(&a);
	rec_init(&b);
	fill(&a);
	rec_copy(&b, &a);
	assert_same(&a, &b);
	rec_free(&a);
	rec_free(&b);
}
END_TEST

START_TEST(test_tensor_limits)
{
	struct record r;
	const char *err = NULL;
	uint32_t huge[4] = { 65535, 65535, 65535, 65535 };
	uint32_t big[2] = { 1 << 16, 1 << 16 };
	size_t saved = rec_limits.max_tensor_bytes;

	rec_init(&r);
	ck_assert_ptr_null(rec_tensor_put(&r, "x", DT_F32, 4, huge, &err));
	ck_assert_ptr_nonnull(err);
	rec_limits.max_tensor_bytes = 1000;
	ck_assert_ptr_null(rec_tensor_put(&r, "x", DT_U8, 2, big, &err));
	ck_assert_ptr_nonnull(strstr(err, "limit"));
	ck_assert_int_eq(r.ntensors, 0);
	rec_limits.max_tensor_bytes = saved;
	rec_free(&r);
}
END_TEST

START_TEST(test_tensor_drop_keeps_order)
{
	struct record r;
	uint32_t s[1] = { 2 };

	rec_init(&r);
	put(&r, "a", DT_U8, 1, s);
	put(&r, "b", DT_U8, 1, s);
	put(&r, "c", DT_U8, 1, s);
	rec_tensor_drop(&r, "b");
	ck_assert_int_eq(r.ntensors, 2);
	ck_assert_str_eq(r.tensors[0].name, "a");
	ck_assert_str_eq(r.tensors[1].name, "c");
	ck_assert_ptr_null(rec_tensor(&r, "b"));
	put(&r, "d", DT_U8, 1, s);
	ck_assert_str_eq(r.tensors[2].name, "d");
	rec_free(&r);
}
END_TEST

/* ---- bad streams: each dies with 65 ---- */

static void
read_all_bytes(const void *bytes, size_t n)
{
	FILE *fp = tmpfile();
	struct record r;
	struct rec_reader *rd;

	fwrite(bytes, 1, n, fp);
	rewind(fp);
	rec_init(&r);
	rd = rec_reader_new(fp, "bad");
	while (rec_read(rd, &r))
		;
	exit(0);
}

START_TEST(test_empty_stream)
{
	FILE *fp = tmpfile();
	struct record r;
	struct rec_reader *rd = rec_reader_new(fp, "empty");

	rec_init(&r);
	ck_assert_int_eq(rec_read(rd, &r), 0);
	rec_reader_free(rd);
	fclose(fp);
	rec_free(&r);
}
END_TEST

START_TEST(test_truncated_stream)
{
	struct record a;
	FILE *fp;
	char buf[4096];
	size_t n;

	rec_init(&a);
	fill(&a);
	fp = roundtrip_file(&a, 2);
	n = fread(buf, 1, sizeof buf, fp);
	read_all_bytes(buf, n - 3);
}
END_TEST

START_TEST(test_garbage_stream)
{
	read_all_bytes("\xc1\xc1\xc1\xc1", 4);
}
END_TEST

START_TEST(test_not_a_map)
{
	read_all_bytes("\x93\x01\x02\x03", 4);
}
END_TEST

START_TEST(test_no_id)
{
	/* {"tensors": {}} */
	read_all_bytes("\x81\xa7tensors\x80", 10);
}
END_TEST

START_TEST(test_data_length_disagrees)
{
	/* {"id":"x","tensors":{"t":{"dtype":"u8","shape":[2,2],"data":bin(3)}}} */
	static const unsigned char b[] = "\x82\xa2id\xa1x\xa7tensors\x81\xa1t\x83"
	                                 "\xa5" "dtype\xa2u8\xa5shape\x92\x02\x02\xa4" "data\xc4\x03" "abc";
	read_all_bytes(b, sizeof b - 1);
}
END_TEST

START_TEST(test_bad_dtype)
{
	static const unsigned char b[] = "\x82\xa2id\xa1x\xa7tensors\x81\xa1t\x83"
	                                 "\xa5" "dtype\xa3i64\xa5shape\x91\x01\xa4" "data\xc4\x01" "a";
	read_all_bytes(b, sizeof b - 1);
}
END_TEST

START_TEST(test_negative_label)
{
	static const unsigned char b[] = "\x83\xa2id\xa1x\xa5label\xff\xa7tensors\x80";
	read_all_bytes(b, sizeof b - 1);
}
END_TEST

/* records larger than the reader's 64 KiB reads, between small ones: the
 * headers are skimmed across reads and the buffer kept between records */
START_TEST(test_large_records_across_reads)
{
	struct record small, big, r;
	uint32_t shape[3] = { 3, 300, 271 };
	struct tensor *t;
	FILE *fp = tmpfile();
	struct rec_writer *w = rec_writer_new(fp, "tmp");
	struct rec_reader *rd;

	rec_init(&small);
	rec_init(&big);
	rec_init(&r);
	fill(&small);
	rec_set_id(&big, "big");
	t = put(&big, "image", DT_U16, 3, shape);
	for (size_t i = 0; i < t->nbytes; i++)
		((unsigned char *)t->data)[i] = (unsigned char)(i * 7 + i / 251);
	for (int i = 0; i < 3; i++) {
		rec_write(w, &small);
		rec_write(w, &big);
	}
	ck_assert_int_eq(rec_writer_close(w), 0);
	rewind(fp);
	rd = rec_reader_new(fp, "tmp");
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(rec_read(rd, &r), 1);
		assert_same(&small, &r);
		ck_assert_int_eq(rec_read(rd, &r), 1);
		assert_same(&big, &r);
	}
	ck_assert_int_eq(rec_read(rd, &r), 0);
	rec_reader_free(rd);
	fclose(fp);
	rec_free(&small);
	rec_free(&big);
	rec_free(&r);
}
END_TEST

START_TEST(test_empty_tensor_huge_sides)
{
	struct record r;
	const char *err = NULL;
	uint32_t shape[3] = { 0, 100000, 100000 }, ok[3] = { 0, 3, 3 };

	rec_init(&r);
	ck_assert_ptr_null(rec_tensor_put(&r, "x", DT_U8, 3, shape, &err));
	ck_assert_ptr_nonnull(strstr(err, "--max-tensor-bytes"));
	ck_assert_ptr_nonnull(rec_tensor_put(&r, "x", DT_U8, 3, ok, &err));
	ck_assert_uint_eq(r.tensors[0].nbytes, 0);
	rec_free(&r);
}
END_TEST

START_TEST(test_huge_container_header)
{
	/* a map announcing 2^32 - 1 entries, then nothing: truncated, and
	 * nothing is allocated for the entries (the test would run out of
	 * memory otherwise) */
	read_all_bytes("\xdf\xff\xff\xff\xff", 5);
}
END_TEST

START_TEST(test_nested_too_deep)
{
	/* {"id":"x","tensors":{},"deep":[[[[...]]]]} 40 levels */
	unsigned char b[128];
	size_t n = 0;

	memcpy(b, "\x83\xa2id\xa1x\xa7tensors\x80\xa4" "deep", 18);
	n = 18;
	for (int i = 0; i < 40; i++)
		b[n++] = 0x91;
	b[n++] = 0x01;
	read_all_bytes(b, n);
}
END_TEST

START_TEST(test_string_limit)
{
	rec_limits.max_string = 3;
	/* {"id":"abcd","tensors":{}} */
	read_all_bytes("\x82\xa2id\xa4" "abcd\xa7tensors\x80", 18);
}
END_TEST

START_TEST(test_record_limit)
{
	struct record a;
	FILE *fp;
	char buf[4096];
	size_t n;

	rec_init(&a);
	fill(&a);
	fp = roundtrip_file(&a, 1);
	n = fread(buf, 1, sizeof buf, fp);
	rec_limits.max_record_bytes = n - 1;
	read_all_bytes(buf, n);
}
END_TEST

/* a parameter file's fingerprint: its contents, every value and byte of
 * them, and nothing else; the same after a save and load */
START_TEST(test_params_fingerprint)
{
	struct record a, b;
	char f0[32], path[] = "/tmp/osteo-params-XXXXXX";
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	close(fd);
	rec_init(&a);
	rec_init(&b);
	fill(&a);
	rec_meta_str(&a, "kind", "osteo test parameters");
	snprintf(f0, sizeof f0, "%s", params_fingerprint(&a));
	ck_assert_uint_eq(strlen(f0), 16);
	ck_assert_str_eq(params_fingerprint(&a), f0);           /* its own key is left out */
	params_save(path, &a);
	params_load(path, "osteo test parameters", &b);
	ck_assert_str_eq(params_str(path, &b, "fingerprint"), f0);
	ck_assert_str_eq(params_fingerprint(&b), f0);
	rec_meta_float(&b, "scale", 0.126);                     /* a value changed */
	ck_assert_str_ne(params_fingerprint(&b), f0);
	rec_clear(&b);
	params_load(path, "osteo test parameters", &b);
	((unsigned char *)b.tensors[b.ntensors - 1].data)[0] ^= 1;    /* one bit of a tensor */
	ck_assert_str_ne(params_fingerprint(&b), f0);
	rec_clear(&b);
	params_load(path, "osteo test parameters", &b);
	rec_set_id(&b, "another");
	ck_assert_str_ne(params_fingerprint(&b), f0);
	unlink(path);
	rec_free(&a);
	rec_free(&b);
}
END_TEST

static char kind_path[] = "/tmp/osteo-params-XXXXXX";

static void
kind_cleanup(void)
{
	unlink(kind_path);
}

START_TEST(test_params_wrong_kind)
{
	struct record a;
	const char *path = kind_path;
	int fd = mkstemp(kind_path);

	close(fd);
	atexit(kind_cleanup);
	rec_init(&a);
	fill(&a);
	rec_meta_str(&a, "kind", "osteo statistics");
	params_save(path, &a);
	rec_clear(&a);
	/* the exit test's child dies in params_load; kind_cleanup runs at its exit */
	params_load(path, "osteo encoding", &a);
}
END_TEST

Suite *
record_suite(void)
{
	Suite *s = suite_create("record");
	TCase *tc = tcase_create("codec");

	tcase_add_test(tc, test_roundtrip_all_dtypes);
	tcase_add_test(tc, test_roundtrip_minimal);
	tcase_add_test(tc, test_unknown_keys_pass_through);
	tcase_add_test(tc, test_copy);
	tcase_add_test(tc, test_tensor_limits);
	tcase_add_test(tc, test_tensor_drop_keeps_order);
	tcase_add_test(tc, test_empty_stream);
	tcase_add_exit_test(tc, test_truncated_stream, EX_DATAERR);
	tcase_add_exit_test(tc, test_garbage_stream, EX_DATAERR);
	tcase_add_exit_test(tc, test_not_a_map, EX_DATAERR);
	tcase_add_exit_test(tc, test_no_id, EX_DATAERR);
	tcase_add_exit_test(tc, test_data_length_disagrees, EX_DATAERR);
	tcase_add_exit_test(tc, test_bad_dtype, EX_DATAERR);
	tcase_add_exit_test(tc, test_negative_label, EX_DATAERR);
	tcase_add_test(tc, test_large_records_across_reads);
	tcase_add_test(tc, test_empty_tensor_huge_sides);
	tcase_add_exit_test(tc, test_huge_container_header, EX_DATAERR);
	tcase_add_exit_test(tc, test_nested_too_deep, EX_DATAERR);
	tcase_add_exit_test(tc, test_string_limit, EX_DATAERR);
	tcase_add_exit_test(tc, test_record_limit, EX_DATAERR);
	tcase_add_test(tc, test_params_fingerprint);
	tcase_add_exit_test(tc, test_params_wrong_kind, EX_DATAERR);
	suite_add_tcase(s, tc);
	return s;
}
