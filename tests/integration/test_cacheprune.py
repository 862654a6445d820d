"""The cache folder kept from growing (core/cachedir.h): a cache file records its last use in
its mtime (to within a day); a run that writes to the cache removes, at most once a day, this
user's cache files unused for thirty days and the temporary files a killed run left a day ago;
nothing else in the folder is touched."""
import glob
import os
import time
import unittest

from luamigtest import Project, main, temp_dir

DAY = 86400
ENTRY = "0123456789abcdef.luac"


def age(path, days):
    """Sets path's mtime (not following a link) to `days` days ago."""
    t = time.time() - days * DAY
    os.utime(path, (t, t), follow_symlinks=False)


def days_old(path):
    return (time.time() - os.stat(path, follow_symlinks=False).st_mtime) / DAY


class CachePrune(unittest.TestCase):
    def setUp(self):
        self.cache = temp_dir(self, "cache")
        self.chunks = os.path.join(self.cache, "chunks")
        self.env = {"LUAMIG_CACHE_DIR": self.cache}
        self.p = Project(self, "sqlite")
        for rev, down in (("aaaa", None), ("bbbb", "aaaa")):
            self.p.revision_file(rev, down=down, name=rev + ".lua",
                                 up='  op.create_table("t%s", sa.Column("id", sa.Integer))' % rev,
                                 downgrade='  op.drop_table("t%s")' % rev)
        # files an earlier run saw: the upgrade below writes their compiled code
        time.sleep(2.1)
        self.p.ok("heads", env=self.env)
        os.makedirs(self.chunks, exist_ok=True)

    def plant(self, folder, name, days):
        path = os.path.join(folder, name)
        with open(path, "w") as f:
            f.write("planted")
        age(path, days)
        return path

    def names(self, folder):
        return sorted(os.listdir(folder))

    def stamp(self):
        return os.path.join(self.cache, "prune-stamp")

    def add_revision(self, rev, down):
        """A new revision file listed by `heads`: the header cache is written again."""
        self.p.revision_file(rev, down=down, name=rev + ".lua",
                             up='  op.create_table("t%s", sa.Column("id", sa.Integer))' % rev)
        self.p.ok("heads", env=self.env)

    def test_files_unused_for_thirty_days_go_and_nothing_else(self):
        outside = temp_dir(self, "outside")
        target = self.plant(outside, "kept.txt", 100)
        self.plant(self.chunks, ENTRY, 31)
        self.plant(self.chunks, "fedcba9876543210.luac", 29)
        self.plant(self.chunks, ENTRY + ".4242.tmp", 2)
        self.plant(self.chunks, "fedcba9876543210.luac.4243.tmp", 0.5)
        self.plant(self.chunks, "notes.txt", 100)
        self.plant(self.chunks, "0123456789abcdeX.luac", 100)
        self.plant(self.chunks, "0123456789abcdef.idx", 100)  # an index's name, in chunks/
        os.symlink(target, os.path.join(self.chunks, "1111111111111111.luac"))
        age(os.path.join(self.chunks, "1111111111111111.luac"), 100)
        self.plant(self.chunks, "2222222222222222.luac", -3)  # in the future: a clock set back
        shared = self.plant(self.chunks, "3333333333333333.luac", 100)
        os.chmod(shared, 0o664)  # others could have written it: never luamig's to remove
        age(shared, 100)
        self.plant(self.cache, "aaaaaaaaaaaaaaaa.idx", 40)
        self.plant(self.cache, "aaaaaaaaaaaaaaaa.idx.77.tmp", 2)
        self.plant(self.cache, "bbbbbbbbbbbbbbbb.idx", 10)
        self.plant(self.cache, "aaaaaaaaaaaaaaaa.luac", 40)  # a chunk's name, outside chunks/
        before = self.names(self.chunks)
        age(self.stamp(), 1.05)  # setUp's `heads` wrote the header cache and pruned

        self.p.ok("upgrade", "head", env=self.env)

        self.assertEqual(self.p.tables(), ["luamig_version", "taaaa", "tbbbb"])
        written = [n for n in self.names(self.chunks) if n not in before]
        self.assertEqual(len(written), 2, written)  # the two revisions' entries
        self.assertEqual(sorted(set(self.names(self.chunks)) - set(written)), [
            "0123456789abcdeX.luac", "0123456789abcdef.idx", "1111111111111111.luac",
            "3333333333333333.luac", "fedcba9876543210.luac", "fedcba9876543210.luac.4243.tmp",
            "notes.txt"])
        self.assertTrue(os.path.exists(target))
        idx = [n for n in self.names(self.cache) if n.endswith(".idx")]
        self.assertNotIn("aaaaaaaaaaaaaaaa.idx", idx)
        self.assertNotIn("aaaaaaaaaaaaaaaa.idx.77.tmp", self.names(self.cache))
        self.assertIn("bbbbbbbbbbbbbbbb.idx", idx)
        self.assertIn("aaaaaaaaaaaaaaaa.luac", self.names(self.cache))
        self.assertLess(days_old(self.stamp()), 0.01)

    def test_pruned_at_most_once_a_day(self):
        # setUp's `heads` wrote the header cache: the first prune, and the stamp
        self.assertLess(days_old(self.stamp()), 0.01)
        old = self.plant(self.chunks, ENTRY, 31)
        self.p.ok("upgrade", "head", env=self.env)  # writes entries
        self.assertEqual(len(glob.glob(os.path.join(self.chunks, "*.luac"))), 3)
        self.add_revision("cccc", "bbbb")  # writes the header cache
        self.assertTrue(os.path.exists(old))
        age(self.stamp(), 1.05)
        self.add_revision("dddd", "cccc")
        self.assertFalse(os.path.exists(old))

    def test_a_run_that_only_reads_does_not_prune(self):
        self.p.ok("upgrade", "head", env=self.env)
        old = self.plant(self.chunks, ENTRY, 31)
        age(self.stamp(), 2)
        self.p.ok("downgrade", "base", env=self.env)
        self.p.ok("upgrade", "head", env=self.env)  # loads the entries, writes none
        self.p.ok("current", env=self.env)
        self.assertTrue(os.path.exists(old))

    def test_a_cache_file_in_use_stays(self):
        self.p.ok("upgrade", "head", env=self.env)
        entries = glob.glob(os.path.join(self.chunks, "*.luac"))
        index = glob.glob(os.path.join(self.cache, "*.idx"))
        self.assertEqual((len(entries), len(index)), (2, 1))
        for f in entries + index:
            age(f, 40)
        self.p.ok("downgrade", "base", env=self.env)
        self.p.ok("upgrade", "head", env=self.env)  # reads all three: their use recorded
        for f in entries + index:
            self.assertLess(days_old(f), 0.01, f)
        age(self.stamp(), 2)
        self.add_revision("cccc", "bbbb")  # a write: prunes
        for f in entries + index:
            self.assertTrue(os.path.exists(f), f)
        # a use within the day is not written again (a read costs no write)
        for f in entries:
            age(f, 0.5)
        self.p.ok("downgrade", "base", env=self.env)
        self.p.ok("upgrade", "bbbb", env=self.env)
        for f in entries:
            self.assertGreater(days_old(f), 0.49, f)

    def test_a_linked_chunks_folder_is_not_pruned(self):
        outside = temp_dir(self, "elsewhere")
        kept = self.plant(outside, ENTRY, 100)
        os.rmdir(self.chunks)
        os.symlink(outside, self.chunks)
        age(self.stamp(), 2)
        self.add_revision("cccc", "bbbb")  # a write: prunes
        self.assertLess(days_old(self.stamp()), 0.01)
        self.assertTrue(os.path.exists(kept))

    @unittest.skipUnless(os.geteuid() == 0, "needs root to give files to another user")
    def test_what_another_user_owns_is_not_removed(self):
        theirs = self.plant(self.chunks, ENTRY, 31)
        os.chown(theirs, 65534, 65534)
        mine = self.plant(self.chunks, "4444444444444444.luac", 31)
        age(self.stamp(), 2)
        self.p.ok("upgrade", "head", env=self.env)
        self.assertFalse(os.path.exists(mine))  # the prune ran
        self.assertEqual(len(glob.glob(os.path.join(self.chunks, "*.luac"))), 3)
        self.assertTrue(os.path.exists(theirs))
        # nor anything in a folder that is not this user's
        mine = self.plant(self.chunks, "fedcba9876543210.luac", 31)
        os.chown(self.cache, 65534, 65534)
        age(self.stamp(), 2)
        self.add_revision("cccc", "bbbb")
        self.assertTrue(os.path.exists(mine))


if __name__ == "__main__":
    main()
