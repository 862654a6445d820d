/*
 * upgrade.c — upgrades a database through libluamig and prints where it is.
 *
 *     cc -o upgrade upgrade.c $(pkg-config --cflags --libs luamig)
 *     ./upgrade path/to/luamig.ini [REVISION]
 *
 * Prints one line per step run ("upgrade aaa1: create account") and one per
 * version row ("current aaa1 (head)"); on failure, the message on stderr
 * and exit status 1.
 */
#include <luamig.h>
#include <stdio.h>

/* luamig's log lines (what `luamig upgrade` would print on stderr). */
static void log_line(void *userdata, const char *stream, const char *text, size_t len)
{
	(void)userdata;
	(void)stream;
	fwrite(text, 1, len, stderr);
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s CONFIG [REVISION]\n", argv[0]);
		return 2;
	}
	luamig_error *err = NULL;
	luamig_list *steps = NULL, *current = NULL;
	int status = 1;
	luamig *h = luamig_open(argv[1], &err);
	if (!h)
		goto done;
	luamig_set_log(h, log_line, NULL);
	if (luamig_upgrade(h, argc == 3 ? argv[2] : "head", &steps, &err) != 0)
		goto done;
	for (size_t i = 0; i < steps->count; i++)
		printf("%s %s: %s\n", steps->items[i].direction, steps->items[i].revision,
		       steps->items[i].message ? steps->items[i].message : "");
	if (luamig_current(h, &current, &err) != 0)
		goto done;
	for (size_t i = 0; i < current->count; i++)
		printf("current %s%s\n", current->items[i].revision,
		       current->items[i].is_head ? " (head)" : "");
	status = 0;
done:
	if (err)
		fprintf(stderr, "error: %s\n", luamig_error_message(err));
	luamig_error_free(err);
	luamig_list_free(steps);
	luamig_list_free(current);
	luamig_close(h);
	return status;
}
