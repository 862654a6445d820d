"""Revision files compiled once (core/chunkcache.h): the bytecode of a revision
is kept only for a file an earlier run read as it is (a first run writes
nothing), reused only while the file is unchanged, only when the entry is
whole, and only from a cache file this user owns and no one else may write; an
edit with the file's size and mtime put back still runs the new text;
LUAMIG_NO_CACHE turns the cache off."""
import glob
import os
import shutil
import struct
import subprocess
import time
import unittest

from luamigtest import LUAMIG, Project, main, run, temp_dir, word_hash

# core/chunkcache.c's header: magic[16], release[24], then eleven 64-bit fields: size, ino,
# mtime_s, mtime_ns, ctime_s, ctime_ns, written_at, name_len, code_len, runtime, seal
HEADER = struct.Struct("=16s24s11Q")
SEAL_AT = 16 + 24 + 10 * 8
STAT_FIELDS = ("size", "ino", "mtime_s", "mtime_ns", "ctime_s", "ctime_ns")


def reseal(entry):
    zeroed = entry[:SEAL_AT] + b"\0" * 8 + entry[SEAL_AT + 8:]
    return zeroed[:SEAL_AT] + struct.pack("=Q", word_hash(zeroed)) + zeroed[SEAL_AT + 8:]


class ChunkCache(unittest.TestCase):
    def setUp(self):
        self.cache = temp_dir(self, "cache")
        self.env = {"LUAMIG_CACHE_DIR": self.cache}
        self.p = Project(self, "sqlite")
        self.a = self.p.revision_file("aaaa", up='  op.create_table("ta", sa.Column("id", sa.Integer))',
                                      downgrade='  op.drop_table("ta")', name="aaaa.lua")
        self.b = self.p.revision_file("bbbb", down="aaaa",
                                      up='  op.create_table("tb", sa.Column("id", sa.Integer))',
                                      downgrade='  op.drop_table("tb")', name="bbbb.lua")
        self.seen()

    def seen(self):
        """Lets the files age past the racy-timestamp rule and lists them, so that the
        next run finds their headers in the header cache: files an earlier run saw,
        whose compiled code the chunk cache keeps."""
        time.sleep(2.1)
        self.p.ok("heads", env=self.env)

    def upgrade(self, env=None):
        self.p.ok("upgrade", "head", env=env or self.env)

    def entries(self):
        return sorted(glob.glob(os.path.join(self.cache, "chunks", "*.luac")))

    def entry_of(self, path):
        """The cache file holding the revision file at path, and its bytes."""
        for f in self.entries():
            with open(f, "rb") as fh:
                data = fh.read()
            name_len = HEADER.unpack_from(data)[9]
            if data[HEADER.size:HEADER.size + name_len].decode().endswith(os.path.basename(path)):
                return f, data
        self.fail("no cache entry for %s" % path)

    def forge_b_from_a(self, written_after=10, off=None, runtime_off=0):
        """An entry for bbbb.lua that holds aaaa.lua's code, sealed and believable
        in every other way: which table the upgrade makes tells whether it was used.
        written_after: seconds from the file's ctime to the entry's writing; off:
        {stat field: how far the recorded value is from the file's}; runtime_off: the
        same for the Lua runtime's tag."""
        off = off or {}
        _, a = self.entry_of(self.a)
        fb, b = self.entry_of(self.b)
        ha, hb = HEADER.unpack_from(a), HEADER.unpack_from(b)
        name_b = b[HEADER.size:HEADER.size + hb[9]]
        code_a = a[HEADER.size + ha[9]:]
        st = os.stat(self.b)
        real = {"size": st.st_size, "ino": st.st_ino, "mtime_s": st.st_mtime_ns // 10**9,
                "mtime_ns": st.st_mtime_ns % 10**9, "ctime_s": st.st_ctime_ns // 10**9,
                "ctime_ns": st.st_ctime_ns % 10**9}
        fields = [real[f] + off.get(f, 0) for f in STAT_FIELDS]
        header = HEADER.pack(ha[0], ha[1], *fields, st.st_ctime_ns // 10**9 + written_after,
                             len(name_b), len(code_a), ha[11] + runtime_off, 0)
        with open(fb, "wb") as fh:
            fh.write(reseal(header + name_b + code_a))
        os.chmod(fb, 0o600)
        return fb

    def fresh_db(self):
        self.p.ok("downgrade", "base", env=self.env)
        self.assertEqual(self.p.tables(), ["luamig_version"])

    def test_a_run_on_files_no_run_saw_writes_no_entry(self):
        p = Project(self, "sqlite")
        p.revision_file("cccc", up='  op.create_table("tc", sa.Column("id", sa.Integer))',
                        name="cccc.lua")
        cache = temp_dir(self, "cache2")
        p.ok("upgrade", "head", env={"LUAMIG_CACHE_DIR": cache})
        self.assertEqual(glob.glob(os.path.join(cache, "chunks", "*")), [])
        self.assertEqual(p.tables(), ["luamig_version", "tc"])

    def test_an_entry_per_revision_outside_the_project(self):
        self.upgrade()
        self.assertEqual(len(self.entries()), 2)
        self.assertEqual(self.p.tables(), ["luamig_version", "ta", "tb"])
        self.assertEqual(oct(os.stat(self.entries()[0]).st_mode & 0o777), "0o600")

    def test_a_believable_entry_is_what_runs(self):
        # the cache is used: bbbb runs the code its entry holds, not its text
        self.upgrade()
        self.fresh_db()
        self.forge_b_from_a()
        self.p.ok("upgrade", "aaaa", env=self.env)
        r = self.p.run("upgrade", "head", env=self.env)
        # aaaa's code again: "ta" exists already
        self.assertEqual(r.rc, 1, repr(r))
        self.assertIn("table ta already exists", r.err)

    def test_an_entry_others_may_write_is_not_loaded(self):
        self.upgrade()
        self.fresh_db()
        fb = self.forge_b_from_a()
        os.chmod(fb, 0o620)
        self.upgrade()
        self.assertEqual(self.p.tables(), ["luamig_version", "ta", "tb"])

    @unittest.skipUnless(os.geteuid() == 0, "needs root to give a file to another user")
    def test_an_entry_of_another_user_is_not_loaded(self):
        self.upgrade()
        self.fresh_db()
        fb = self.forge_b_from_a()
        os.chown(fb, 65534, 65534)
        self.upgrade()
        self.assertEqual(self.p.tables(), ["luamig_version", "ta", "tb"])

    def test_a_damaged_entry_is_compiled_again(self):
        self.upgrade()
        self.fresh_db()
        fb = self.forge_b_from_a()
        with open(fb, "rb") as fh:
            data = fh.read()
        # the table's name in the code changed, the seal left as it was: bytecode that
        # still loads, and would make table "tz"
        at = data.rindex(b"\x83ta")
        with open(fb, "wb") as fh:
            fh.write(data[:at] + b"\x83tz" + data[at + 3:])
        self.upgrade()
        self.assertEqual(self.p.tables(), ["luamig_version", "ta", "tb"])
        # and the entry is whole again
        self.fresh_db()
        self.upgrade()
        self.assertEqual(self.p.tables(), ["luamig_version", "ta", "tb"])

    def test_truncated_and_foreign_entries_are_compiled_again(self):
        self.upgrade()
        self.fresh_db()
        fb, data = self.entry_of(self.b)
        for bad in (b"", data[:HEADER.size - 1], data[:-1], b"x" * len(data),
                    data.replace(b"luamig-chunk-2", b"luamig-chunk-9", 1)):
            with open(fb, "wb") as fh:
                fh.write(bad)
            self.upgrade()
            self.assertEqual(self.p.tables(), ["luamig_version", "ta", "tb"])
            self.fresh_db()

    def assert_forged_entry_not_loaded(self, msg=None, **forge):
        """An upgrade from a fresh database with bbbb.lua's entry forged (forge_b_from_a's
        arguments) runs bbbb.lua's own code: the entry was not believed."""
        self.fresh_db()
        self.forge_b_from_a(**forge)
        self.upgrade()
        self.assertEqual(self.p.tables(), ["luamig_version", "ta", "tb"], msg)

    def test_an_entry_written_in_the_second_of_a_change_is_not_loaded(self):
        # the same stat, but the file changed in the second the entry was written:
        # a second change in that second could have kept the stat
        self.upgrade()
        self.assert_forged_entry_not_loaded(written_after=1)

    def test_an_entry_differing_in_any_stat_field_is_not_loaded(self):
        self.upgrade()
        for field in STAT_FIELDS:
            self.assert_forged_entry_not_loaded(field, off={field: 1})

    def test_an_entry_of_another_lua_runtime_is_not_loaded(self):
        self.upgrade()
        self.assert_forged_entry_not_loaded(runtime_off=1)

    def test_a_linked_or_special_entry_is_not_loaded_nor_waited_on(self):
        self.upgrade()
        self.fresh_db()
        fb = self.forge_b_from_a()
        # a symbolic link to a believable entry
        target = fb + ".target"
        os.rename(fb, target)
        os.symlink(target, fb)
        self.upgrade()
        self.assertEqual(self.p.tables(), ["luamig_version", "ta", "tb"])
        self.fresh_db()
        # a second name for it (a hard link)
        self.forge_b_from_a()
        os.link(fb, fb + ".second")
        self.upgrade()
        self.assertEqual(self.p.tables(), ["luamig_version", "ta", "tb"])
        self.fresh_db()
        # a FIFO where the entry goes: read without waiting for a writer
        os.unlink(fb)
        os.mkfifo(fb)
        r = run(["upgrade", "head"], cwd=self.p.dir, env=self.env, timeout=60)
        self.assertEqual(r.rc, 0, repr(r))
        self.assertEqual(self.p.tables(), ["luamig_version", "ta", "tb"])

    @unittest.skipUnless(os.geteuid() == 0 and shutil.which("unshare"),
                         "needs root and unshare to run luamig as process 1")
    def test_a_temporary_file_left_by_a_killed_run_does_not_stop_the_entry(self):
        # a run killed between writing and renaming leaves <entry>.<pid>.tmp; in a
        # container the next luamig has the same process id (1)
        self.upgrade()
        self.fresh_db()
        fb, _ = self.entry_of(self.b)
        os.unlink(fb)
        with open(fb + ".1.tmp", "wb") as f:
            f.write(b"cut short")
        env = dict(os.environ, **self.env)
        env.pop("LUAMIG_CONFIG", None)
        r = subprocess.run(["unshare", "-pf", LUAMIG, "upgrade", "head"], cwd=self.p.dir,
                           env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.exists(fb))
        self.assertFalse(os.path.exists(fb + ".1.tmp"))
        # a temporary name that is a link to another file: that file is left whole
        self.fresh_db()
        os.unlink(fb)
        victim = os.path.join(self.cache, "victim")
        with open(victim, "wb") as f:
            f.write(b"keep me")
        os.link(victim, fb + ".1.tmp")
        r = subprocess.run(["unshare", "-pf", LUAMIG, "upgrade", "head"], cwd=self.p.dir,
                           env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(victim, "rb") as f:
            self.assertEqual(f.read(), b"keep me")
        self.assertTrue(os.path.exists(fb))

    def test_an_entry_of_another_ctime_is_not_loaded(self):
        self.upgrade()
        self.fresh_db()
        self.forge_b_from_a(off={"ctime_s": -5})
        self.upgrade()
        self.assertEqual(self.p.tables(), ["luamig_version", "ta", "tb"])

    def test_an_edit_that_keeps_size_and_mtime_runs_the_new_text(self):
        self.upgrade()
        self.fresh_db()
        time.sleep(2.1)
        st = os.stat(self.b)
        with open(self.b) as fh:
            text = fh.read()
        with open(self.b, "w") as fh:
            fh.write(text.replace('"tb"', '"tc"'))
        os.utime(self.b, ns=(st.st_atime_ns, st.st_mtime_ns))
        self.assertEqual(os.stat(self.b).st_size, st.st_size)
        self.upgrade()
        self.assertEqual(self.p.tables(), ["luamig_version", "ta", "tc"])

    def test_errors_name_the_file_as_seen_from_where_luamig_runs(self):
        c = self.p.revision_file("cccc", down="bbbb", up='  error("boom")', name="cccc.lua")
        self.seen()
        r = self.p.fails("upgrade", "head", env=self.env)
        self.assertIn("migrations/versions/cccc.lua:11: boom", r.err)
        parent = os.path.dirname(self.p.dir)
        r = run(["-c", self.p.path("luamig.ini"), "upgrade", "head"], cwd=parent, env=self.env)
        self.assertEqual(r.rc, 1, repr(r))
        shown = os.path.relpath(c, parent)
        self.assertIn(shown + ":11: boom", r.err)
        self.assertNotIn(" migrations/versions/cccc.lua", r.err)

    def test_a_syntax_error_is_reported_and_not_cached(self):
        with open(self.b, "a") as fh:
            fh.write("\nfunction broken(\n")
        self.seen()                 # the broken file seen: its entry would be written
        r = self.p.fails("upgrade", "head", env=self.env)
        self.assertRegex(r.err, r"bbbb\.lua:\d+: .*expected")
        self.assertEqual(self.p.tables(), [])
        self.assertEqual(len(self.entries()), 1)   # aaaa's only

    def test_no_cache_turns_it_off(self):
        self.upgrade()
        self.fresh_db()
        self.forge_b_from_a()
        self.upgrade(env=dict(self.env, LUAMIG_NO_CACHE="1"))
        self.assertEqual(self.p.tables(), ["luamig_version", "ta", "tb"])
        # and writes nothing
        off = dict(self.env, LUAMIG_NO_CACHE="1")
        for f in self.entries():
            os.unlink(f)
        self.p.ok("downgrade", "base", env=off)
        self.upgrade(env=off)
        self.assertEqual(self.entries(), [])


class ModuleCache(unittest.TestCase):
    """A module env.lua requires from package.path (models.lua) is found and loaded as
    Lua's own searcher would, in text mode, and compiled once while it is unchanged."""

    def setUp(self):
        self.cache = temp_dir(self, "cache")
        self.env = {"LUAMIG_CACHE_DIR": self.cache}
        self.p = Project(self, "sqlite")
        env_lua = self.p.path("migrations/env.lua")
        with open(env_lua) as fh:
            text = fh.read()
        with open(env_lua, "w") as fh:
            fh.write('package.path = config.get_main_option("here") .. "/?.lua;" .. package.path\n'
                     'local ok, m = pcall(require, os.getenv("MODULE") or "mymod")\n'
                     'io.stdout:write("MODULE ", ok and m.value or m, "\\n")\n' + text)
        self.mod = self.p.path("mymod.lua")
        self.write('return { value = "one" }\n')

    def write(self, text, name="mymod.lua", mode="w"):
        with open(self.p.path(name), mode) as fh:
            fh.write(text)

    def shown(self, module=None):
        env = dict(self.env, MODULE=module) if module else self.env
        # env.lua prints before it connects (the database need not exist)
        out = self.p.run("current", env=env).out
        return out[out.index("MODULE ") + 7:].rstrip("\n")

    def entries(self):
        return glob.glob(os.path.join(self.cache, "chunks", "*.luac"))

    def test_a_module_is_compiled_once_and_an_edit_is_seen(self):
        time.sleep(2.1)   # older than the entry by more than a second
        self.assertEqual(self.shown(), "one")
        [entry] = self.entries()
        with open(entry, "rb") as fh:
            self.assertIn(("@" + self.mod).encode(), fh.read())
        ino = os.stat(entry).st_ino
        self.assertEqual(self.shown(), "one")
        # loaded, not compiled and written again (a write is a new file, renamed in)
        self.assertEqual(os.stat(entry).st_ino, ino)
        # the same size and mtime, another text: the ctime tells
        st = os.stat(self.mod)
        self.write('return { value = "two" }\n')
        os.utime(self.mod, ns=(st.st_atime_ns, st.st_mtime_ns))
        self.assertEqual(self.shown(), "two")
        r = self.p.run("current", env=dict(self.env, LUAMIG_NO_CACHE="1"))
        self.assertIn("MODULE two", r.out)

    def test_a_relative_path_is_the_file_of_the_folder_luamig_runs_in(self):
        # "./?.lua": two projects' ./mymod.lua are two entries, each kept
        other = Project(self, "sqlite")
        for p, value in ((self.p, "one"), (other, "two")):
            with open(p.path("migrations/env.lua")) as fh:
                text = fh.read()
            with open(p.path("migrations/env.lua"), "w") as fh:
                fh.write('package.path = "./?.lua;" .. package.path\n'
                         'io.stdout:write("MODULE ", require("mymod").value, "\\n")\n' + text)
            with open(p.path("mymod.lua"), "w") as fh:
                fh.write('return { value = "%s" }\n' % value)
        time.sleep(2.1)
        for p, value in ((self.p, "one"), (other, "two"), (self.p, "one"), (other, "two")):
            self.assertIn("MODULE %s\n" % value, p.run("current", env=self.env).out)
        self.assertEqual(len(self.entries()), 2)
        inos = sorted(os.stat(e).st_ino for e in self.entries())
        for p in (self.p, other):
            p.run("current", env=self.env)
        self.assertEqual(sorted(os.stat(e).st_ino for e in self.entries()), inos)

    def test_modules_load_as_with_lua_searcher(self):
        # a first "#" line is skipped, a byte-order mark too
        self.write('#!/usr/bin/env lua\nreturn { value = "hash" }\n', name="hashmod.lua")
        self.assertEqual(self.shown("hashmod"), "hash")
        self.write(b'\xef\xbb\xbfreturn { value = "bom" }\n', name="bommod.lua", mode="wb")
        self.assertEqual(self.shown("bommod"), "bom")
        # a syntax error: Lua's message, naming the module and the file (the chunk
        # name in the error itself as Lua shortens a long one: ".../tail")
        self.write("return { value = \n", name="badmod.lua")
        got = self.shown("badmod")
        head = "error loading module 'badmod' from file '%s':\n\t" % self.p.path("badmod.lua")
        self.assertTrue(got.startswith(head), got)
        self.assertTrue(got.endswith("badmod.lua:2: unexpected symbol near <eof>"), got)
        self.assertTrue(self.p.path("badmod.lua").endswith(got[len(head):].split(":2:")[0]
                                                          .lstrip(".")), got)
        # bytecode is never loaded: Lua does not check it as it checks text
        self.write(b"\x1bLua\x54\x00junk", name="binmod.lua", mode="wb")
        self.assertEqual(self.shown("binmod"),
                         "error loading module 'binmod' from file '%s':\n\tattempt to load a "
                         "binary chunk (mode is 't')" % self.p.path("binmod.lua"))
        # not found: each searcher's line, as Lua lists them (no blank line between)
        lines = self.shown("nosuchmod").split("\n")
        self.assertEqual(lines[:4], ["module 'nosuchmod' not found:",
                                     "\tno field package.preload['nosuchmod']",
                                     "\tno embedded module 'nosuchmod'",
                                     "\tno file '%s'" % self.p.path("nosuchmod.lua")])
        self.assertNotIn("", lines)
        self.assertEqual(self.entries(), [])   # files changed in this second: none cached


if __name__ == "__main__":
    main()
