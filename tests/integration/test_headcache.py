"""The revision-header cache never hides a change: a file edited in the same
second, edited with its size and mtime put back, added or removed is read
again; a damaged cache is ignored, a damaged line too even when it keeps its
shape; LUAMIG_NO_CACHE turns it off."""
import glob
import os
import time
import unittest

from luamigtest import Project, main, run, temp_dir, word_hash


def seal(line):
    """The last field of a cache line: the seal of the bytes before it, so that a test can
    write a line the cache believes."""
    return "%016x" % word_hash(line.encode())


def edit_line(f, rid, change, reseal):
    """Rewrites the cache line of revision rid: change(fields) edits its fields
    (the seal is the last one); reseal makes the seal match again."""
    # bytes as they are: a header may hold a CR or a form feed, which text
    # mode or splitlines() would take for line ends
    with open(f, newline="") as fh:
        lines = fh.read().split("\n")
    for i in range(1, len(lines)):
        fields = lines[i].split("\t")
        if len(fields) > 7 and fields[7] == rid:
            change(fields)
            if reseal:
                fields[-1] = seal("\t".join(fields[:-1]))
            lines[i] = "\t".join(fields)
    with open(f, "w", newline="") as fh:
        fh.write("\n".join(lines))


def rev(p, rid, down):
    return p.revision_file(rid, down=down, up='  op.execute("SELECT 1")',
                           name="%s.lua" % rid)


class HeadCache(unittest.TestCase):
    def setUp(self):
        self.cache = temp_dir(self, "cache")
        self.env = {"LUAMIG_CACHE_DIR": self.cache}
        self.p = Project(self, "sqlite")
        rev(self.p, "aaaa", None)
        rev(self.p, "bbbb", "aaaa")
        rev(self.p, "cccc", "bbbb")

    def heads(self):
        return self.p.ok("heads", env=self.env).out

    def trusted_cache(self):
        """Writes the cache and lets its entries age past the racy-timestamp
        rule, so that they are believed; returns the cache file."""
        self.heads()
        time.sleep(2.1)
        self.heads()
        [f] = glob.glob(os.path.join(self.cache, "*.idx"))
        return f

    def test_cache_is_written_outside_the_project(self):
        self.assertEqual(self.heads(), "cccc (head)\n")
        files = glob.glob(os.path.join(self.cache, "*.idx"))
        self.assertEqual(len(files), 1)
        self.assertIn("\tcccc\tbbbb\t", open(files[0]).read())
        self.assertEqual([f for f in os.listdir(self.p.path("migrations/versions"))
                          if not f.endswith(".lua")], [])

    def test_edit_in_the_same_second_is_seen(self):
        self.assertEqual(self.heads(), "cccc (head)\n")
        # same length, same second: only the racy rule can catch it
        path = self.p.path("migrations/versions/cccc.lua")
        text = open(path).read()
        open(path, "w").write(text.replace('down_revision = "bbbb"', 'down_revision = "aaaa"'))
        self.assertEqual(self.heads(), "bbbb (head)\ncccc (head)\n")

    def test_edit_with_size_and_mtime_put_back_is_seen(self):
        self.heads()
        time.sleep(2.1)   # the cache entry is now trusted...
        self.heads()
        path = self.p.path("migrations/versions/cccc.lua")
        st = os.stat(path)
        text = open(path).read()
        open(path, "w").write(text.replace('down_revision = "bbbb"', 'down_revision = "aaaa"'))
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
        self.assertEqual(os.stat(path).st_size, st.st_size)
        # ...but the ctime moved
        self.assertEqual(self.heads(), "bbbb (head)\ncccc (head)\n")

    def test_added_and_removed_files(self):
        self.heads()
        rev(self.p, "dddd", "cccc")
        self.assertEqual(self.heads(), "dddd (head)\n")
        os.remove(self.p.path("migrations/versions/dddd.lua"))
        self.assertEqual(self.heads(), "cccc (head)\n")

    def test_damaged_cache_is_ignored(self):
        self.heads()
        for f in glob.glob(os.path.join(self.cache, "*.idx")):
            with open(f, "w") as fh:
                fh.write("luamig-headcache garbage\n\x00\tbroken\n")
        self.assertEqual(self.heads(), "cccc (head)\n")
        for f in glob.glob(os.path.join(self.cache, "*.idx")):
            text = open(f).read()
            lines = text.splitlines()
            open(f, "w").write("\n".join([lines[0]] + [l[:20] for l in lines[1:]]) + "\n")
        self.assertEqual(self.heads(), "cccc (head)\n")

    def test_a_fifo_in_place_of_the_cache_is_not_waited_on(self):
        f = self.trusted_cache()
        os.unlink(f)
        os.mkfifo(f)
        r = run(["heads"], cwd=self.p.dir, env=self.env, timeout=60)
        self.assertEqual(r.rc, 0, repr(r))
        self.assertEqual(r.out, "cccc (head)\n")

    def test_a_stat_field_that_is_not_a_number_reads_the_file_again(self):
        f = self.trusted_cache()
        good = open(f).read()

        def lie(size):
            # cccc's entry now says it revises aaaa, with this size field, sealed
            open(f, "w").write(good)

            def change(fields):
                fields[1] = size
                fields[8] = "aaaa"
            edit_line(f, "cccc", change, reseal=True)

        # the right size: the entry is trusted, which shows the lie is read
        size = str(os.stat(self.p.path("migrations/versions/cccc.lua")).st_size)
        lie(size)
        self.assertEqual(self.heads(), "bbbb (head)\ncccc (head)\n")
        for bad in (size + "x", "-", "", "99999999999999999999999", "+" + size, " " + size):
            lie(bad)
            self.assertEqual(self.heads(), "cccc (head)\n", repr(bad))

    def test_a_damaged_line_that_keeps_its_shape_is_not_believed(self):
        f = self.trusted_cache()
        good = open(f).read()
        want = self.p.ok("history", env=self.env).out
        self.assertIn("bbbb -> cccc (head)", want)

        def down_is_aaaa(fields):
            fields[8] = "aaaa"

        def docstring_changed(fields):
            fields[12] = "not what the file says"   # what history shows

        for change in (down_is_aaaa, docstring_changed):
            open(f, "w").write(good)
            edit_line(f, "cccc", change, reseal=False)
            self.assertEqual(self.p.ok("history", env=self.env).out, want, change.__name__)
            self.assertEqual(self.heads(), "cccc (head)\n", change.__name__)
        # the same edits with the seal made to match are believed: the seal is
        # what told them apart
        open(f, "w").write(good)
        edit_line(f, "cccc", down_is_aaaa, reseal=True)
        self.assertEqual(self.heads(), "bbbb (head)\ncccc (head)\n")

    def test_a_cache_dated_after_the_run_began_is_not_believed(self):
        # a clock set back since the cache was written: its times prove nothing
        f = self.trusted_cache()

        def down_is_aaaa(fields):
            fields[8] = "aaaa"
        edit_line(f, "cccc", down_is_aaaa, reseal=True)
        good = open(f, newline="").read()
        self.assertEqual(self.heads(), "bbbb (head)\ncccc (head)\n")   # believed
        first, rest = good.split("\n", 1)
        with open(f, "w", newline="") as fh:
            fh.write("%s %d\n%s" % (first.rsplit(" ", 1)[0], int(time.time()) + 100, rest))
        self.assertEqual(self.heads(), "cccc (head)\n")

    def test_lines_are_found_in_any_order(self):
        # a run writes the lines in the order it asked for them, and the next
        # one tries the line after the last it found first; lines in another
        # order are still found, by the index: cccc's resealed lie shows
        f = self.trusted_cache()

        def down_is_aaaa(fields):
            fields[8] = "aaaa"
        edit_line(f, "cccc", down_is_aaaa, reseal=True)
        with open(f, newline="") as fh:
            lines = fh.read().split("\n")
        # the first line, the versions folder's line (it starts with a tab), the files'
        self.assertTrue(lines[1].startswith("\t"), lines[1])
        head, lines = lines[:2], [None] + lines[2:]
        self.assertEqual([ln.split("\t")[7] for ln in lines[1:-1]], ["aaaa", "bbbb", "cccc"])
        # [2, 1, 3]: no line follows the one found before it, so cccc is found
        # by the index alone
        for order in ([2, 1, 3], [3, 2, 1], [1, 3, 2]):
            with open(f, "w", newline="") as fh:
                fh.write("\n".join(head + [lines[i] for i in order]) + "\n")
            self.assertEqual(self.heads(), "bbbb (head)\ncccc (head)\n", order)

    def test_every_header_field_reads_back_from_the_cache(self):
        # lists of two, escapes in the message, a file name with a tab
        self.p.revision_file("dddd", down=["bbbb", "cccc"], branch_labels=["x", "y"],
                             depends_on=["aaaa", "bbbb"],
                             message="back\\slash\ttab and \\N", name="dd\tdd.lua")
        off = dict(self.env, LUAMIG_NO_CACHE="1")
        want = [self.p.ok(*cmd, env=off).out
                for cmd in (("history", "--verbose"), ("heads", "--verbose"))]
        self.assertIn("back\\slash\ttab and \\N", want[0])
        self.assertIn("Branch names: x, y", want[0])
        f = self.trusted_cache()
        with open(f) as fh:
            self.assertIn("dd\\tdd.lua", fh.read())
        got = [self.p.ok(*cmd, env=self.env).out
               for cmd in (("history", "--verbose"), ("heads", "--verbose"))]
        self.assertEqual(got, want)

        # ...from the cache indeed, escapes and all: a resealed lie in that
        # line's message is what history shows

        def lie(fields):
            fields[12] = "from\\tthe cache"   # the docstring: what history shows
        edit_line(f, "dddd", lie, reseal=True)
        self.assertIn("from\tthe cache", self.p.ok("history", env=self.env).out)

    # -- the versions folder's listing --------------------------------------

    def cache_file(self):
        [f] = glob.glob(os.path.join(self.cache, "*.idx"))
        return f

    def folder_line(self, f):
        with open(f, newline="") as fh:
            lines = fh.read().split("\n")
        found = [ln for ln in lines if ln.startswith("\t")]
        return lines, found[0] if found else None

    def forge_folder(self, names=None, listed_after=None, stat_off=0, reseal=True):
        """Puts in the cache a line for the versions folder as it is now, listed now
        (believable once the folder's last change is two seconds old: this waits for
        that), or listed_after seconds after its last change, with these names (by
        default its revision files); stat_off is added to its mtime's nanoseconds."""
        f = self.cache_file()
        versions = self.p.path("migrations/versions")
        st = os.stat(versions)
        if listed_after is None:
            time.sleep(max(0, st.st_ctime_ns / 1e9 + 2.1 - time.time()))
            listed_after = int(time.time()) - st.st_ctime_ns // 10**9
        if names is None:
            names = sorted(n for n in os.listdir(versions) if n.endswith(".lua"))
        fields = ["", versions, str(st.st_ctime_ns // 10**9 + listed_after), str(st.st_ino),
                  str(st.st_mtime_ns // 10**9), str(st.st_mtime_ns % 10**9 + stat_off),
                  str(st.st_ctime_ns // 10**9), str(st.st_ctime_ns % 10**9), "\x1f".join(names)]
        fields.append(seal("\t".join(fields)) if reseal else "0" * 16)
        lines, old = self.folder_line(f)
        lines = [ln for ln in lines if ln != old]
        lines.insert(1, "\t".join(fields))
        with open(f, "w", newline="") as fh:
            fh.write("\n".join(lines))

    def test_a_folder_listing_is_recorded_as_it_was_read(self):
        f = self.trusted_cache()
        versions = self.p.path("migrations/versions")
        _, line = self.folder_line(f)
        st = os.stat(versions)
        fields = line.split("\t")
        self.assertEqual(fields[:2] + fields[3:9],
                         ["", versions, str(st.st_ino), str(st.st_mtime_ns // 10**9),
                          str(st.st_mtime_ns % 10**9), str(st.st_ctime_ns // 10**9),
                          str(st.st_ctime_ns % 10**9), "aaaa.lua\x1fbbbb.lua\x1fcccc.lua"])
        # listed after the folder's last change by more than a second, and not in the future
        self.assertGreater(int(fields[2]), st.st_ctime_ns // 10**9 + 1)
        self.assertLessEqual(int(fields[2]), time.time())
        self.assertEqual(fields[9], seal("\t".join(fields[:9])))
        # a folder changed in the second before it is listed is not recorded
        rev(self.p, "dddd", "cccc")
        self.assertEqual(self.heads(), "dddd (head)\n")
        self.assertIsNone(self.folder_line(f)[1])

    def test_an_unchanged_folder_is_listed_from_the_cache(self):
        self.heads()
        # a believable line that leaves cccc out: only a listing taken from the
        # cache misses it
        self.forge_folder(["aaaa.lua", "bbbb.lua"])
        self.assertEqual(self.heads(), "bbbb (head)\n")
        # the same line without its seal, with another stat, listed in the second
        # of the folder's last change, or dated after this run began (a clock set
        # back since), is not believed
        future = int(time.time()) + 100 - os.stat(self.p.path("migrations/versions")).st_ctime
        for kw in ({"reseal": False}, {"stat_off": 1}, {"listed_after": 1},
                   {"listed_after": int(future)}):
            self.forge_folder(["aaaa.lua", "bbbb.lua"], **kw)
            self.assertEqual(self.heads(), "cccc (head)\n", kw)
        # names a listing would never give have the folder read: another
        # folder's file (by a relative path, or an absolute one as long as the
        # versions folder's), a file that is not *.lua, an empty name, a name
        # twice or out of order
        versions = self.p.path("migrations/versions")
        twin = os.path.join(os.path.dirname(versions), "v" * len("versions"))
        os.mkdir(twin)
        for d in (os.path.dirname(versions), twin):
            rev(self.p, "dddd", "cccc")
            os.rename(os.path.join(versions, "dddd.lua"), os.path.join(d, "dddd.lua"))
        with open(os.path.join(versions, "notes.txt"), "w") as fh:
            fh.write("not a revision\n")
        for names in (["aaaa.lua", "bbbb.lua", "../dddd.lua"],
                      ["aaaa.lua", "bbbb.lua", os.path.join(twin, "dddd.lua")],
                      ["aaaa.lua", "bbbb.lua", "notes.txt"], ["aaaa.lua", "bbbb.lua", ""],
                      ["aaaa.lua", "bbbb.lua", ".#cccc.lua"], ["bbbb.lua", "aaaa.lua"],
                      ["aaaa.lua", "aaaa.lua", "bbbb.lua"]):
            self.forge_folder(names)
            self.assertEqual(self.heads(), "cccc (head)\n", names)
        # a cached name whose file is gone has the folder read again
        self.forge_folder(["aaaa.lua", "bbbb.lua", "cccc.lua", "gone.lua"])
        self.assertEqual(self.heads(), "cccc (head)\n")

    def test_files_added_removed_or_renamed_in_a_listed_folder_are_seen(self):
        # each change right after a run whose listing the next run would believe
        # if the folder had not changed: only the folder's stat shows it
        versions = self.p.path("migrations/versions")
        self.assertEqual(self.heads(), "cccc (head)\n")
        self.forge_folder()
        rev(self.p, "dddd", "cccc")
        self.assertEqual(self.heads(), "dddd (head)\n")
        self.forge_folder()
        os.rename(os.path.join(versions, "dddd.lua"), os.path.join(versions, "eeee.lua"))
        self.assertEqual(self.p.ok("history", env=self.env).out.splitlines()[0],
                         "cccc -> dddd (head), rev dddd")
        self.forge_folder()
        os.remove(os.path.join(versions, "eeee.lua"))
        self.assertEqual(self.heads(), "cccc (head)\n")
        self.forge_folder()
        # a file swapped for another of the same name: the file's own stat shows it
        os.rename(os.path.join(versions, "cccc.lua"), os.path.join(versions, "x"))
        rev(self.p, "ffff", "aaaa")
        os.rename(os.path.join(versions, "ffff.lua"), os.path.join(versions, "cccc.lua"))
        os.remove(os.path.join(versions, "x"))
        self.assertEqual(self.heads(), "bbbb (head)\nffff (head)\n")

    def test_a_cache_file_of_another_making_is_not_read(self):
        # group-writable, or with a second name: not this user's luamig's own
        f = self.trusted_cache()
        good = open(f, newline="").read()

        def down_is_aaaa(fields):
            fields[8] = "aaaa"
        edit_line(f, "cccc", down_is_aaaa, reseal=True)
        os.chmod(f, 0o600)
        self.assertEqual(self.heads(), "bbbb (head)\ncccc (head)\n")   # believed
        os.chmod(f, 0o620)
        self.assertEqual(self.heads(), "cccc (head)\n")
        with open(f, "w", newline="") as fh:   # the run above rewrote it: lie again
            fh.write(good)
        edit_line(f, "cccc", down_is_aaaa, reseal=True)
        os.chmod(f, 0o600)
        os.link(f, f + ".link")
        self.addCleanup(os.remove, f + ".link")
        self.assertEqual(self.heads(), "cccc (head)\n")
        # the cache the run wrote is the user's alone
        self.assertEqual(oct(os.stat(f).st_mode & 0o777), "0o600")

    def test_no_cache(self):
        r = self.p.ok("heads", env={"LUAMIG_CACHE_DIR": self.cache, "LUAMIG_NO_CACHE": "1"})
        self.assertEqual(r.out, "cccc (head)\n")
        self.assertEqual(glob.glob(os.path.join(self.cache, "*.idx")), [])


if __name__ == "__main__":
    main()
