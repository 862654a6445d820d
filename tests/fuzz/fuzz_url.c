/*
 * fuzz_url.c — libFuzzer harness for database URLs and password redaction:
 * the registry's URL parser (every driver's schemes) and lm_redact on any
 * text. Besides ending without a crash, a password the parser found must
 * not survive in the redacted URL or in a parse error.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = lm_strndup((const char *)data, size);
	char *r = lm_redact(text);
	free(r);
	lm_url u;
	memset(&u, 0, sizeof u);
	if (lm_url_parse(text, &u) == 0)
		lm_url_dispose(&u);
	/* a URL with a known password: it must be gone from what is shown */
	char *url = lm_sprintf("postgresql://user:Zq9%sXw7@127.0.0.1:1/db", text);
	if (!strchr(text, '@') && !strchr(text, '\n')) {
		memset(&u, 0, sizeof u);
		const char *shown = NULL;
		if (lm_url_parse(url, &u) == 0)
			shown = u.redacted;
		else
			shown = lm_error_get();
		if (shown && strstr(shown, "Zq9") && strstr(shown, "Xw7"))
			abort(); /* the password leaked */
		if (shown == u.redacted)
			lm_url_dispose(&u);
	}
	free(url);
	lm_error_clear();
	free(text);
	return 0;
}
