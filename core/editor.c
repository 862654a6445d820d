/*
 * editor.c — opening a file in the user's editor, for `edit`.
 */
#define _POSIX_C_SOURCE 200809L
#include "editor.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

/* Opens path in $EDITOR, $VISUAL or the first editor found, as Alembic's
 * open_in_editor does. The editor line may carry arguments ("code -w"). */
int lm_open_in_editor(const char *path)
{
	const char *candidates[] = {getenv("EDITOR"),
	                            getenv("VISUAL"),
	                            "sensible-editor",
	                            "editor",
	                            "nano",
	                            "vim",
	                            "code"};
	for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
		const char *ed = candidates[i];
		if (!ed || !*ed)
			continue;
		if (i >= 2) {
			char *probe = lm_sprintf("command -v %s >/dev/null 2>&1", ed);
			int found = system(probe) == 0;
			free(probe);
			if (!found)
				continue;
		}
		pid_t pid = fork();
		if (pid == 0) {
			execl("/bin/sh", "sh", "-c", "exec $0 \"$1\"", ed, path, (char *)NULL);
			_exit(127);
		}
		int status = 0;
		if (pid < 0 || waitpid(pid, &status, 0) < 0) {
			lm_error_set("could not start editor %s", ed);
			return -1;
		}
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			return 0;
		lm_error_set("Editor %s exited with status %d", ed,
		             WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return -1;
	}
	lm_error_set("No suitable editor found. Please set the 'EDITOR' or 'VISUAL' environment "
	             "variables");
	return -1;
}
