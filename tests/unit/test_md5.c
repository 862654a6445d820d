/*
 * test_md5.c — MD5 (md5.h): RFC 1321's test suite, lengths around the
 * padding's edges (55, 56, 63, 64 bytes), and the name SQLAlchemy shortens
 * with it.
 */
#include <string.h>

#include "check.h"
#include "md5.h"

static const char *md5(const char *s, size_t len)
{
	static char out[33];
	lm_md5_hex(s, len, out);
	return out;
}

#define MD5(s) md5(s, sizeof s - 1)

static void test_rfc1321_suite(void)
{
	CHECK_STR(MD5(""), "d41d8cd98f00b204e9800998ecf8427e");
	CHECK_STR(MD5("a"), "0cc175b9c0f1b6a831c399e269772661");
	CHECK_STR(MD5("abc"), "900150983cd24fb0d6963f7d28e17f72");
	CHECK_STR(MD5("message digest"), "f96b697d7cb7938d525a2f31aaf161d0");
	CHECK_STR(MD5("abcdefghijklmnopqrstuvwxyz"), "c3fcd3d76192e4007dfb496cca67e13b");
	CHECK_STR(MD5("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
	          "d174ab98d277d9f5a5611c2c9f419d9f");
	CHECK_STR(MD5("1234567890123456789012345678901234567890"
	              "1234567890123456789012345678901234567890"),
	          "57edf4a22be3c955ac49da2e2107b67a");
}

static void test_padding_edges(void)
{
	char buf[130];
	memset(buf, 'a', sizeof buf);
	/* values from coreutils' md5sum on runs of 'a' */
	CHECK_STR(md5(buf, 55), "ef1772b6dff9a122358552954ad0df65");
	CHECK_STR(md5(buf, 56), "3b0c8ac703f828b04c6c197006d17218");
	CHECK_STR(md5(buf, 63), "b06521f39153d618550606be297466d5");
	CHECK_STR(md5(buf, 64), "014842d480b571495a4a0363793f7367");
	CHECK_STR(md5(buf, 65), "c743a45e0d2e6a95cb859adae0248435");
	CHECK_STR(md5(buf, 128), "e510683b3f5ffe4093d021808bc6ff70");
}

static void test_sqlalchemy_shortened_name(void)
{
	/* SQLAlchemy 1.4 names ix_%(column_0_label)s of a 40-character table and column
	 * ix_<55 characters>_f9ac on PostgreSQL */
	const char *name = "ix_tttttttttttttttttttttttttttttttttttttttt_"
	                   "cccccccccccccccccccccccccccccccccccccccc";
	const char *hex = md5(name, strlen(name));
	CHECK_STR(hex + 28, "f9ac");
}

int main(void)
{
	RUN(test_rfc1321_suite);
	RUN(test_padding_edges);
	RUN(test_sqlalchemy_shortened_name);
	return CHECK_DONE();
}
