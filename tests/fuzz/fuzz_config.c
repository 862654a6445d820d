/*
 * fuzz_config.c — libFuzzer harness for luamig.ini: the parser
 * (sections, keys, continuation lines, duplicates) and configparser's
 * interpolation of every value, in its own section and in another.
 * Any input must end with a config or a message: no crash, no hang, no
 * sanitizer report.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = lm_strndup((const char *)data, size);
	lm_config *c = lm_config_parse(text, "fuzz.ini");
	if (c) {
		lm_strv secs = {0};
		lm_config_sections(c, &secs);
		for (size_t i = 0; i < secs.n; i++) {
			lm_strv keys = {0};
			lm_config_keys(c, secs.v[i], &keys);
			for (size_t j = 0; j < keys.n; j++) {
				lm_config_get(c, secs.v[i], keys.v[j]);
				lm_config_get_raw(c, secs.v[i], keys.v[j]);
			}
			lm_config_check_section(c, secs.v[i]);
			lm_strv_dispose(&keys);
		}
		/* a value set by a program, then everything read again */
		lm_config_set(c, "alembic", "url", "sqlite:///%(here)s/x.db");
		lm_config_check_section(c, "alembic");
		lm_strv_dispose(&secs);
		lm_config_free(c);
	}
	lm_error_clear();
	free(text);
	return 0;
}
