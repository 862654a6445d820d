/*
 * pq.c — libpq on demand (see pq.h for why).
 */
#define LM_PQ_IMPLEMENTATION
#include "pq.h"

#include <dlfcn.h>

#include "util.h"

lm_pq_api lm_pq;

int lm_pq_load(void)
{
	static int loaded;
	if (loaded)
		return 0;
	void *lib = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		lm_error_set("PostgreSQL support needs libpq (Debian package libpq5): %s",
		             dlerror());
		return -1;
	}
	/* dlsym returns void *; the union converts it to a function pointer
	 * without the cast ISO C leaves undefined. */
#define LM_PQ_LOAD(name)                                                                           \
	{                                                                                          \
		union {                                                                            \
			void *p;                                                                   \
			__typeof__(&name) f;                                                       \
		} u;                                                                               \
		u.p = dlsym(lib, #name);                                                           \
		if (!u.p) {                                                                        \
			lm_error_set("libpq.so.5 lacks %s: %s", #name, dlerror());                 \
			return -1;                                                                 \
		}                                                                                  \
		lm_pq.name = u.f;                                                                  \
	}
	LM_PQ_FUNCTIONS(LM_PQ_LOAD)
#undef LM_PQ_LOAD
	loaded = 1;
	return 0;
}
