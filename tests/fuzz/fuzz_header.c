/*
 * fuzz_header.c — libFuzzer harness for the revision-header scanner
 * (script.c): the docstring, the four header assignments, and the code it
 * skips (long strings, comments, quotes). Any input must end with a
 * revision or a message naming the file: no crash, no hang.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "revmap.h"
#include "script.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = lm_strndup((const char *)data, size);
	lm_revision r;
	if (lm_script_scan("fuzz.lua", text, &r) == 0)
		lm_revision_dispose(&r);
	lm_error_clear();
	free(text);
	return 0;
}
