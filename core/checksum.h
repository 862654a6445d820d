/*
 * checksum.h — the checksum of a revision file, as the history table
 * records it (luamig.audit), and the schemes such a value can be in.
 *
 * A recorded value names its scheme, so that the way a file is read can
 * change without every revision applied before looking edited:
 *
 *   "fnv1a64-v2:<16 hex digits>"   scheme 2, what luamig writes: FNV-1a
 *       (64 bit) of the file's text with a UTF-8 byte-order mark at its
 *       start left out and every line ending (CRLF, a lone CR, LF) read as
 *       one LF. A checkout with Windows line endings, or an editor that adds
 *       a BOM, is not an edit.
 *   "<16 hex digits>"              scheme 1, what luamig wrote before: FNV-1a
 *       (64 bit) of the file with CRLF read as LF. Still read, and compared
 *       with the file by scheme 1.
 *
 * Either fits the history table's checksum column (VARCHAR(32)). Change
 * detection, not a seal: the table that holds the value is as writable as
 * the files.
 */
#ifndef LM_CHECKSUM_H
#define LM_CHECKSUM_H

#include <stddef.h>

enum {
	LM_CHECKSUM_UNKNOWN = 0, /* a value in no scheme this luamig knows */
	LM_CHECKSUM_V1 = 1,
	LM_CHECKSUM_V2 = 2,
	LM_CHECKSUM_CURRENT = LM_CHECKSUM_V2,
};

/* The longest value, without the NUL. */
#define LM_CHECKSUM_MAX 27

/* The scheme a recorded value is in: LM_CHECKSUM_V2 for the "fnv1a64-v2:"
 * prefix, LM_CHECKSUM_V1 for exactly 16 lower-case hex digits,
 * LM_CHECKSUM_UNKNOWN otherwise. */
int lm_checksum_scheme(const char *recorded);

/* Writes the checksum of the len bytes at data, in scheme (V1 or V2), to
 * out as a NUL-terminated string. */
void lm_checksum(const char *data, size_t len, int scheme, char out[LM_CHECKSUM_MAX + 1]);

#endif
