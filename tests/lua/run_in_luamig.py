"""Runs a tests/lua case file inside the luamig binary, for the cases that need
the C engine (luamig.core: real connections, the reflection):

    run_in_luamig.py LUAMIG tests/lua/test_x.lua

A throwaway project whose env.lua puts tests/lua on package.path and runs the
file; `luamig upgrade head` loads env.lua (a command that may create the
file's own SQLite databases: `current` only reads, and refuses a missing
file), and the file's T.run() ends the process with its status. The file's temporary databases go into the project folder
(TMPDIR)."""
import os
import subprocess
import sys
import tempfile


def lua_string(s):
    return "[==[" + s + "]==]"


def main():
    luamig, test = sys.argv[1], os.path.abspath(sys.argv[2])
    with tempfile.TemporaryDirectory(prefix="luamig_lua_") as d:
        os.makedirs(os.path.join(d, "migrations", "versions"))
        with open(os.path.join(d, "luamig.ini"), "w") as f:
            f.write("[luamig]\nscript_location = migrations\nurl = sqlite://\n")
        with open(os.path.join(d, "migrations", "env.lua"), "w") as f:
            f.write("package.path = %s .. package.path\n"
                    "dofile(%s)\n"
                    'error("%s did not call T.run()", 0)\n'
                    % (lua_string(os.path.dirname(test) + "/?.lua;"), lua_string(test),
                       os.path.basename(test)))
        env = dict(os.environ, TMPDIR=d, LUAMIG_NO_CACHE="1")
        sys.exit(subprocess.call([luamig, "upgrade", "head"], cwd=d, env=env))


if __name__ == "__main__":
    main()
