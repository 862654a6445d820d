/*
 * library_client.c — every function of libluamig's C API, for
 * test_library.py (built against the installed prefix with pkg-config).
 *
 *     library_client CONFIG
 *
 * Prints one line per call: what it returned, in a form the test compares
 * whole. No log function is set, so anything else on stdout or stderr came
 * from the library.
 */
#include <luamig.h>
#include <stdio.h>
#include <string.h>

static void print_list(const char *label, int rc, luamig_list *l, luamig_error *err)
{
	printf("%s:", label);
	if (rc != 0) {
		printf(" error %s\n", luamig_error_message(err));
		return;
	}
	for (size_t i = 0; i < l->count; i++) {
		const luamig_entry *e = &l->items[i];
		printf(" [");
		if (e->direction)
			printf("%s ", e->direction);
		printf("%s", e->revision ? e->revision : "-");
		if (e->is_head)
			printf("*");
		if (e->message)
			printf(" '%s'", e->message);
		if (e->path)
			printf(" %s", strrchr(e->path, '/') ? strrchr(e->path, '/') + 1 : e->path);
		printf("]");
	}
	printf("\n");
}

/* Runs one list command and prints it; the list and the error freed. */
#define CALL(label, expr)                                                                          \
	do {                                                                                       \
		luamig_list *l = NULL;                                                             \
		luamig_error *err = NULL;                                                          \
		int rc = (expr);                                                                   \
		print_list(label, rc, l, err);                                                     \
		luamig_list_free(l);                                                               \
		luamig_error_free(err);                                                            \
	} while (0)

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	printf("version: %s\n", luamig_version());

	/* an error with no slot to put it in: NULL, no crash */
	printf("open NULL err: %s\n", luamig_open("no/such/luamig.ini", NULL) ? "handle" : "NULL");
	luamig_error *err = NULL;
	luamig *bad = luamig_open_section(argv[1], "nosection", &err);
	printf("open section: %s %s\n", bad ? "handle" : "NULL", luamig_error_message(err));
	luamig_error_free(err);
	err = NULL;

	luamig *h = luamig_open(argv[1], &err);
	if (!h) {
		printf("open: %s\n", luamig_error_message(err));
		luamig_error_free(err);
		return 1;
	}
	CALL("heads", luamig_heads(h, &l, &err));
	CALL("history", luamig_history(h, &l, &err));
	CALL("current", luamig_current(h, &l, &err));
	CALL("upgrade", luamig_upgrade(h, "aaa1", &l, &err));
	CALL("current", luamig_current(h, &l, &err));
	CALL("upgrade", luamig_upgrade(h, NULL, &l, &err));
	CALL("upgrade again", luamig_upgrade(h, "head", &l, &err));
	CALL("downgrade", luamig_downgrade(h, "base", &l, &err));
	CALL("stamp", luamig_stamp(h, "bbb2", &l, &err));
	CALL("current", luamig_current(h, &l, &err));
	CALL("downgrade none", luamig_downgrade(h, NULL, &l, &err));
	CALL("upgrade unknown", luamig_upgrade(h, "zzz9", &l, &err));
	CALL("check", luamig_check(h, &l, &err));
	/* results not wanted: NULL out pointers */
	printf("stamp, no list: %d\n", luamig_stamp(h, "aaa1", NULL, NULL));
	CALL("current", luamig_current(h, &l, &err));
	CALL("revision", luamig_revision(h, "third", 0, &l, &err));
	CALL("heads", luamig_heads(h, &l, &err));

	char *json = NULL;
	err = NULL;
	if (luamig_inspect(h, NULL, &json, &err) == 0)
		printf("inspect: %s\n", json);
	else
		printf("inspect: error %s\n", luamig_error_message(err));
	luamig_free(json);
	luamig_error_free(err);
	err = NULL;
	json = NULL;
	if (luamig_inspect(h, "sqlite:///missing.db", &json, &err) == 0)
		printf("inspect missing: %s\n", json);
	else
		printf("inspect missing: error %s\n", luamig_error_message(err));
	luamig_free(json);
	luamig_error_free(err);

	luamig_close(h);
	luamig_close(NULL);
	luamig_list_free(NULL);
	luamig_error_free(NULL);
	luamig_free(NULL);
	return 0;
}
