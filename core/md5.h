/*
 * md5.h — MD5 (RFC 1321), for one use only: SQLAlchemy shortens a name a
 * naming convention made (or op.f() gave) that is longer than the
 * dialect's limit to its head, "_" and the last four hex digits of the
 * MD5 of the whole name (PostgreSQL: 63 characters). luamig must shorten
 * it to the same name, or a database Alembic built would not have the
 * index a later revision drops. Not a seal: nothing here is security.
 */
#ifndef LM_MD5_H
#define LM_MD5_H

#include <stddef.h>

/* Writes the MD5 of the len bytes at data as 32 lowercase hex digits and
 * a NUL into out. */
void lm_md5_hex(const void *data, size_t len, char out[33]);

#endif
