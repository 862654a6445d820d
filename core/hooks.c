/*
 * hooks.c — post_write_hooks: formatters and linters run on new revisions.
 */
#define _POSIX_C_SOURCE 200809L
#include "hooks.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define TOKEN "REVISION_SCRIPT_FILENAME"

void lm_shell_split(const char *line, lm_strv *out)
{
	const char *p = line;
	for (;;) {
		while (*p && isspace((unsigned char)*p))
			p++;
		if (!*p)
			return;
		lm_buf word = {0};
		int any = 0;
		while (*p && !isspace((unsigned char)*p)) {
			any = 1;
			if (*p == '\'') {
				for (p++; *p && *p != '\''; p++)
					lm_buf_putc(&word, *p);
				if (*p)
					p++;
			} else if (*p == '"') {
				for (p++; *p && *p != '"'; p++) {
					if (*p == '\\' &&
					    (p[1] == '"' || p[1] == '\\' || p[1] == '$'))
						p++;
					lm_buf_putc(&word, *p);
				}
				if (*p)
					p++;
			} else if (*p == '\\' && p[1]) {
				lm_buf_putc(&word, p[1]);
				p += 2;
			} else {
				lm_buf_putc(&word, *p++);
			}
		}
		if (any)
			lm_strv_push_own(out, lm_buf_detach(&word));
		else
			lm_buf_dispose(&word);
	}
}

/* Replaces every occurrence of TOKEN in s by path. */
static char *replace_token(const char *s, const char *path)
{
	lm_buf b = {0};
	size_t n = strlen(TOKEN);
	while (*s) {
		if (strncmp(s, TOKEN, n) == 0) {
			lm_buf_puts(&b, path);
			s += n;
		} else {
			lm_buf_putc(&b, *s++);
		}
	}
	return lm_buf_detach(&b);
}

static int run_one(lm_config *cfg, const char *name, const char *path, int quiet)
{
	char key[256];
	snprintf(key, sizeof key, "%s.type", name);
	const char *type = lm_config_get(cfg, "post_write_hooks", key);
	if (!type) {
		lm_error_set("Key %s.type is required for post write hook '%s'", name, name);
		return -1;
	}
	const char *exe = NULL;
	if (strcmp(type, "exec") == 0) {
		snprintf(key, sizeof key, "%s.executable", name);
		exe = lm_config_get(cfg, "post_write_hooks", key);
		if (!exe) {
			lm_error_set("Key %s.executable is required for post write hook '%s'", name,
			             name);
			return -1;
		}
	} else if (strcmp(type, "console_scripts") == 0) {
		/* Python's entry points become a program on PATH here. */
		snprintf(key, sizeof key, "%s.entrypoint", name);
		exe = lm_config_get(cfg, "post_write_hooks", key);
		if (!exe) {
			lm_error_set("Key %s.entrypoint is required for post write hook '%s'", name,
			             name);
			return -1;
		}
	} else {
		lm_error_set("No formatter with name '%s' registered", type);
		return -1;
	}
	snprintf(key, sizeof key, "%s.options", name);
	const char *opts = lm_config_get(cfg, "post_write_hooks", key);
	/* As Alembic: without the token, the file name comes first. */
	char *line = opts && strstr(opts, TOKEN) ? lm_strdup(opts)
	                                         : lm_sprintf("%s %s", TOKEN, opts ? opts : "");
	lm_strv argv = {0};
	lm_strv_push(&argv, exe);
	lm_strv words = {0};
	lm_shell_split(line, &words);
	free(line);
	for (size_t i = 0; i < words.n; i++)
		lm_strv_push_own(&argv, replace_token(words.v[i], path));
	lm_strv_dispose(&words);
	lm_strv_push_own(&argv, NULL);
	argv.n--;
	snprintf(key, sizeof key, "%s.cwd", name);
	const char *cwd = lm_config_get(cfg, "post_write_hooks", key);
	if (!quiet) {
		printf("Running post write hook '%s' ...\n", name);
		fflush(stdout);
	}
	int rc = -1;
	pid_t pid = fork();
	if (pid == 0) {
		if (cwd && chdir(cwd) != 0)
			_exit(126);
		execvp(argv.v[0], argv.v);
		_exit(127);
	}
	int status = 0;
	if (pid < 0 || waitpid(pid, &status, 0) < 0) {
		lm_error_set("post write hook '%s': %s", name, strerror(errno));
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
		lm_error_set("post write hook '%s': could not run '%s'", name, exe);
	} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		lm_error_set("post write hook '%s' (%s) exited with status %d", name, exe,
		             WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	} else {
		if (!quiet)
			printf("  done\n");
		rc = 0;
	}
	lm_strv_dispose(&argv);
	return rc;
}

int lm_run_post_write_hooks(lm_config *cfg, const char *path, int quiet)
{
	const char *hooks = lm_config_get(cfg, "post_write_hooks", "hooks");
	if (!hooks)
		return 0;
	lm_strv names = {0};
	char *copy = lm_strdup(hooks);
	for (char *save = NULL, *t = strtok_r(copy, ", \n\t", &save); t;
	     t = strtok_r(NULL, ", \n\t", &save))
		lm_strv_push(&names, t);
	free(copy);
	int rc = 0;
	for (size_t i = 0; i < names.n && rc == 0; i++)
		rc = run_one(cfg, names.v[i], path, quiet);
	lm_strv_dispose(&names);
	return rc;
}
