"""A Lua C module that env.lua requires runs on luamig's own Lua: the binary
links Lua in, and keeps its API visible to modules (as lua5.4 does). A module
that calls into Lua works from env.lua and from a revision."""
import os
import subprocess
import unittest

from luamigtest import Project, main

MODULE = r"""
#include <lauxlib.h>
#include <lua.h>
static int twice(lua_State *L) {
	lua_Integer n = luaL_checkinteger(L, 1);
	lua_newtable(L);
	lua_pushinteger(L, n * 2);
	lua_setfield(L, -2, "value");
	return 1;
}
int luaopen_twice(lua_State *L) {
	lua_newtable(L);
	lua_pushcfunction(L, twice);
	lua_setfield(L, -2, "twice");
	return 1;
}
"""


def lua_include():
    out = subprocess.run(["pkg-config", "--cflags", "lua5.4"], capture_output=True, text=True)
    return out.stdout.split() if out.returncode == 0 else ["-I/usr/include/lua5.4"]


class CModule(unittest.TestCase):
    def test_env_lua_requires_a_c_module(self):
        p = Project(self, "sqlite")
        src = p.write("cmod/twice.c", MODULE)
        so = p.path("cmod", "twice.so")
        cc = os.environ.get("CC", "cc")
        subprocess.run([cc, "-shared", "-fPIC", *lua_include(), src, "-o", so], check=True)
        env_lua = p.read("migrations/env.lua")
        p.write("migrations/env.lua",
                'package.cpath = %r .. ";" .. package.cpath\n' % p.path("cmod", "?.so")
                + 'assert(require("twice").twice(4).value == 8)\n' + env_lua)
        p.revision_file("aaaa", down=None,
                        up='  local n = require("twice").twice(21).value\n'
                           '  op.execute("CREATE TABLE t (n INTEGER)")\n'
                           '  op.execute("INSERT INTO t VALUES (" .. n .. ")")')
        p.ok("upgrade", "head")
        self.assertEqual(p.sql("SELECT n FROM t"), [(42,)])


if __name__ == "__main__":
    main()
