/*
 * Copyright (c) 2026 The lamina authors
 *
 * Permission to use, copy, modify, and distribute this software for any
 * purpose with or without fee is hereby granted, provided that the above
 * copyright notice and this permission notice appear in all copies.
 *
 * THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES.
 */

/*
 * MessagePack to JSON, as the CLI and the quarantine write it: every type,
 * floats in their shortest exact form, timestamps as RFC 3339 text,
 * binaries as base64, non-string keys, and malformed or too deep input
 * refused with a cause.
 */

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <msgpack.h>

#include "msg.h"
#include "msgjson.h"

static msgpack_sbuffer	sb;
static msgpack_packer	pk;

static void
setup(void)
{
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
}

static void
teardown(void)
{
	msgpack_sbuffer_destroy(&sb);
}

/* The JSON text of what is packed in sb must be want. */
static void
expect_json(const char *want)
{
	struct json_object	*o;
	char			*cause = NULL;

	o = msgjson_from_msg((const uint8_t *)sb.data, sb.size, &cause);
	ck_assert_msg(cause == NULL, "cause: %s", cause);
	ck_assert_str_eq(json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE), want);
	json_object_put(o);
}

static void
expect_cause(const uint8_t *buf, size_t len, const char *want)
{
	struct json_object	*o;
	char			*cause = NULL;

	o = msgjson_from_msg(buf, len, &cause);
	ck_assert_ptr_null(o);
	ck_assert_ptr_nonnull(cause);
	ck_assert_str_eq(cause, want);
	free(cause);
}

START_TEST(test_scalars_and_containers)
{
	msgpack_pack_map(&pk, 8);
	msg_pack_str(&pk, "s");
	msg_pack_str(&pk, "a/b \"q\" \xc3\xa9");
	msg_pack_str(&pk, "i");
	msgpack_pack_int64(&pk, -42);
	msg_pack_str(&pk, "u");
	msgpack_pack_uint64(&pk, UINT64_MAX);
	msg_pack_str(&pk, "t");
	msgpack_pack_true(&pk);
	msg_pack_str(&pk, "n");
	msgpack_pack_nil(&pk);
	msg_pack_str(&pk, "a");
	msgpack_pack_array(&pk, 2);
	msgpack_pack_int(&pk, 1);
	msgpack_pack_array(&pk, 0);
	msg_pack_str(&pk, "b");
	msgpack_pack_bin(&pk, 4);
	msgpack_pack_bin_body(&pk, "\x00\xff\x10\x20", 4);
	msgpack_pack_int(&pk, 7);		/* a key that is not a string */
	msg_pack_str(&pk, "seven");
	expect_json("{\"s\":\"a/b \\\"q\\\" \xc3\xa9\",\"i\":-42,"
	    "\"u\":18446744073709551615,\"t\":true,\"n\":null,\"a\":[1,[]],"
	    "\"b\":\"AP8QIA==\",\"7\":\"seven\"}");
}
END_TEST

START_TEST(test_shortest_doubles)
{
	msgpack_pack_array(&pk, 7);
	msgpack_pack_double(&pk, 0.1);
	msgpack_pack_double(&pk, 1700000000.25);
	msgpack_pack_double(&pk, 3.0);
	msgpack_pack_double(&pk, -2.5e-300);
	msgpack_pack_double(&pk, 1.0 / 3.0);
	msgpack_pack_float(&pk, 1.5f);
	msgpack_pack_double(&pk, 1e300 * 1e300);	/* infinity */
	expect_json("[0.1,1700000000.25,3.0,-2.5e-300,0.3333333333333333,"
	    "1.5,null]");
}
END_TEST

START_TEST(test_timestamps)
{
	/* EventTime (ext 0): 1700000000 s, 123456789 ns. */
	static const uint8_t et[] = { 0x65, 0x53, 0xf1, 0x00, 0x07, 0x5b, 0xcd,
	    0x15 };
	/* msgpack timestamp 32: 0 s. */
	static const uint8_t ts32[] = { 0, 0, 0, 0 };
	/* An unknown extension. */
	static const uint8_t other[] = { 1, 2, 3 };

	msgpack_pack_array(&pk, 3);
	msgpack_pack_ext(&pk, 8, 0);
	msgpack_pack_ext_body(&pk, et, 8);
	msgpack_pack_ext(&pk, 4, -1);
	msgpack_pack_ext_body(&pk, ts32, 4);
	msgpack_pack_ext(&pk, 3, 42);
	msgpack_pack_ext_body(&pk, other, 3);
	expect_json("[\"2023-11-14T22:13:20.123456789Z\","
	    "\"1970-01-01T00:00:00.000000000Z\","
	    "{\"_ext\":42,\"data\":\"AQID\"}]");
}
END_TEST

START_TEST(test_time_str)
{
	char	*s;

	s = msgjson_time_str(-1);
	ck_assert_str_eq(s, "1969-12-31T23:59:59.999999999Z");
	free(s);
	s = msgjson_time_str(1700000000LL * 1000000000 + 5);
	ck_assert_str_eq(s, "2023-11-14T22:13:20.000000005Z");
	free(s);
}
END_TEST

START_TEST(test_malformed)
{
	static const uint8_t	trunc[] = { 0x92, 0x01 };	/* [1, ... */
	static const uint8_t	trunc2[] = { 0x93, 0x01, 0x02, 0xa3 };
	static const uint8_t	trunckey[] = { 0x81, 0xa5, 'a', 0x01 };
	static const uint8_t	badstr[] = { 0xa5, 'a', 'b' };
	uint8_t			deep[40];
	size_t			i;

	expect_cause(trunc, sizeof(trunc), "malformed msgpack: array count "
	    "exceeds the data");
	expect_cause(trunc2, sizeof(trunc2), "malformed msgpack: truncated "
	    "value");
	expect_cause(trunckey, sizeof(trunckey), "malformed msgpack: "
	    "truncated value");
	expect_cause(badstr, sizeof(badstr), "malformed msgpack: truncated "
	    "value");
	for (i = 0; i < sizeof(deep); i++)
		deep[i] = 0x91;			/* [[[[... */
	deep[sizeof(deep) - 1] = 0x01;
	expect_cause(deep, sizeof(deep), "nesting deeper than 32");
}
END_TEST

static Suite *
msgjson_suite(void)
{
	Suite	*s = suite_create("msgjson");
	TCase	*tc = tcase_create("msgjson");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_scalars_and_containers);
	tcase_add_test(tc, test_shortest_doubles);
	tcase_add_test(tc, test_timestamps);
	tcase_add_test(tc, test_time_str);
	tcase_add_test(tc, test_malformed);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner	*sr = srunner_create(msgjson_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed ? 1 : 0);
}
