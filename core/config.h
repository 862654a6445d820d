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

/* Reads and parses a file; NULL with the error slot set on failure. */
lm_config *lm_config_load(const char *path);
/* Parses text as if read from path (path gives %(here)s). */
lm_config *lm_config_parse(const char *text, const char *path);
void lm_config_free(lm_config *c);

const char *lm_config_path(const lm_config *c); /* absolute */
const char *lm_config_here(const lm_config *c); /* folder of the file */
int lm_config_has_section(const lm_config *c, const char *section);
/* The interpolated value, or NULL when absent. The string lives until the
 * config is freed or lm_config_set is next called. */
const char *lm_config_get(lm_config *c, const char *section, const char *key);
/* The value as written, without interpolation. */
const char *lm_config_get_raw(const lm_config *c, const char *section, const char *key);
void lm_config_set(lm_config *c, const char *section, const char *key, const char *value);
/* Names in file order. */
void lm_config_sections(const lm_config *c, lm_strv *out);
void lm_config_keys(const lm_config *c, const char *section, lm_strv *out);

#endif
