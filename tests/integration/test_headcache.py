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
        self.assertEqual([ln.split("\t")[7] for ln in lines[1:-1]], ["aaaa", "bbbb", "cccc"])
        # [2, 1, 3]: no line follows the one found before it, so cccc is found
        # by the index alone
        for order in ([2, 1, 3], [3, 2, 1], [1, 3, 2]):
            with open(f, "w", newline="") as fh:
                fh.write("\n".join([lines[0]] + [lines[i] for i in order]) + "\n")
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

    def test_no_cache(self):
        r = self.p.ok("heads", env={"LUAMIG_CACHE_DIR": self.cache, "LUAMIG_NO_CACHE": "1"})
        self.assertEqual(r.out, "cccc (head)\n")
        self.assertEqual(glob.glob(os.path.join(self.cache, "*.idx")), [])


if __name__ == "__main__":
    main()
