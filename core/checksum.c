/*
 * checksum.c — revision-file checksums in their schemes (checksum.h).
 */
#include "checksum.h"

#include <stdio.h>
#include <string.h>

static const char V2_PREFIX[] = "fnv1a64-v2:";

#define FNV_OFFSET 14695981039346656037ULL
#define FNV_PRIME 1099511628211ULL

static int is_hex16(const char *s)
{
	return strlen(s) == 16 && strspn(s, "0123456789abcdef") == 16;
}

int lm_checksum_scheme(const char *recorded)
{
	if (strncmp(recorded, V2_PREFIX, sizeof V2_PREFIX - 1) == 0)
		return LM_CHECKSUM_V2;
	if (is_hex16(recorded))
		return LM_CHECKSUM_V1;
	return LM_CHECKSUM_UNKNOWN;
}

/* Scheme 1: CR immediately before LF is skipped, every other byte counts. */
static unsigned long long hash_v1(const unsigned char *p, size_t len)
{
	unsigned long long h = FNV_OFFSET;
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\r' && i + 1 < len && p[i + 1] == '\n')
			continue;
		h = (h ^ p[i]) * FNV_PRIME;
	}
	return h;
}

/* Scheme 2: the text without a leading UTF-8 BOM, each CRLF, lone CR and
 * LF hashed as one LF. */
static unsigned long long hash_v2(const unsigned char *p, size_t len)
{
	unsigned long long h = FNV_OFFSET;
	size_t i = 0;
	if (len >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF)
		i = 3;
	for (; i < len; i++) {
		unsigned char c = p[i];
		if (c == '\r') {
			c = '\n';
			if (i + 1 < len && p[i + 1] == '\n')
				i++;
		}
		h = (h ^ c) * FNV_PRIME;
	}
	return h;
}

void lm_checksum(const char *data, size_t len, int scheme, char out[LM_CHECKSUM_MAX + 1])
{
	const unsigned char *p = (const unsigned char *)data;
	if (scheme == LM_CHECKSUM_V1)
		snprintf(out, LM_CHECKSUM_MAX + 1, "%016llx", hash_v1(p, len));
	else
		snprintf(out, LM_CHECKSUM_MAX + 1, "%s%016llx", V2_PREFIX, hash_v2(p, len));
}
