/*
 * config.h — luamig.ini, read as Python's configparser reads alembic.ini.
 *
 * Sections of "key = value" (or "key: value") lines, '#' and ';' comment
 * lines, indented continuation lines, keys folded to lower case, values
 * taken from [DEFAULT] when a section lacks them, and "%(name)s"
 * interpolation from the same section, [DEFAULT] and "here" (the folder of
 * the file); "%%" is a literal percent sign.
 */
#ifndef LM_CONFIG_H
#define LM_CONFIG_H

#include "util.h"

typedef struct lm_config lm_config;

/* Reads and parses a file; NULL with the error slot set on failure. As
 * configparser's strict mode, a section or a key written twice is an error
 * ("While reading from 'luamig.ini' [line  5]: option 'url' in section
 * 'alembic' already exists"). */
lm_config *lm_config_load(const char *path);
/* Parses text as if read from path (path gives %(here)s). */
lm_config *lm_config_parse(const char *text, const char *path);
void lm_config_free(lm_config *c);

const char *lm_config_path(const lm_config *c); /* absolute */
const char *lm_config_here(const lm_config *c); /* folder of the file */
int lm_config_has_section(const lm_config *c, const char *section);
/* The interpolated value, or NULL when absent. The string lives until the
 * config is freed or lm_config_set is next called. A value that cannot be
 * interpolated (an unknown %(name)s, a lone %, more than 10 levels) also
 * gives NULL, with configparser's message, prefixed by file:line, in the
 * error slot, and makes lm_config_failed true. */
const char *lm_config_get(lm_config *c, const char *section, const char *key);
/* Interpolates every key of section (and [DEFAULT]): 0, or -1 with the
 * first failure's message in the error slot. */
int lm_config_check_section(lm_config *c, const char *section);
/* Whether some lm_config_get has failed to interpolate. */
int lm_config_failed(const lm_config *c);
/* The value as written, without interpolation. */
const char *lm_config_get_raw(const lm_config *c, const char *section, const char *key);
void lm_config_set(lm_config *c, const char *section, const char *key, const char *value);
/* Names in file order. */
void lm_config_sections(const lm_config *c, lm_strv *out);
void lm_config_keys(const lm_config *c, const char *section, lm_strv *out);

#endif
