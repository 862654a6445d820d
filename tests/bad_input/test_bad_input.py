"""The bad-input catalogue: malformed revision files, ini files, URLs, command
lines, version-table contents and environments, each run through the real
binary against a database that already holds two applied revisions.

Every case asserts what a user would check: the exit status (1 failure,
2 usage), exactly one line on stderr naming the culprit (the file and line,
the revision, the setting), no sanitizer report, and the database (its
catalog, the version rows and the rows of its tables) exactly as it was.

    BAD_INPUT_SHOW=1 python3 test_bad_input.py   prints each case's output
"""
import os
import re
import sys
import unittest

import pg
from luamigtest import Project, backends, main

T1_UP = '  op.create_table("t1", sa.Column("id", sa.Integer, { primary_key = true }))'
T2_UP = ('  local t2 = op.create_table("t2", sa.Column("id", sa.Integer, { primary_key = true }))\n'
         '  op.bulk_insert(t2, { { id = 1 }, { id = 2 } })')
T3_UP = '  op.create_table("t3", sa.Column("id", sa.Integer, { primary_key = true }))'


# ---- what a case may do to the project before the command ------------------

def ini(key, value):
    return lambda p: p.set_option(key, value)


def ini_text(text):
    """Replaces luamig.ini; {url} is the project's URL."""
    return lambda p: p.write("luamig.ini", text.replace("{url}", p.url))


def ini_append(text):
    def f(p):
        with open(p.path("luamig.ini"), "a") as fh:
            fh.write("\n" + text)
    return f


def revision(rev="cccc3333", down="bbbb2222", up=T3_UP, downgrade="", **kw):
    return lambda p: p.revision_file(rev, down=down, up=up, downgrade=downgrade, **kw)


def raw_revision(text, name="0003_raw.lua"):
    return lambda p: p.write("migrations/versions/" + name, text)


def fifo(rel):
    """A named pipe where a revision file would be: reading it would block for good."""
    return lambda p: os.mkfifo(p.path(rel))


def header(body, code="function upgrade()\nend\n\nfunction downgrade()\nend\n"):
    return raw_revision("--[[ raw\n]]\n" + body + "\n" + code)


def checkpoint_file(text, name="bbbb2222_x.lua"):
    return lambda p: p.write("migrations/checkpoints/" + name, text)


def sql(statement):
    return lambda p: p.sql_exec(statement)


def replace_in_env(old, new):
    def f(p):
        text = p.read("migrations/env.lua")
        assert old in text, old
        p.write("migrations/env.lua", text.replace(old, new))
    return f


def append_to(rel, text):
    def f(p):
        with open(p.path(rel), "a") as fh:
            fh.write(text)
    return f


def steps(*fns):
    def f(p):
        for fn in fns:
            fn(p)
    return f


# ---- the catalogue -----------------------------------------------------------
# (name, backends, setup, args, exit status, the one line on stderr: a string
# for an exact match, or a compiled pattern). backends: "all", "sqlite", "pg".
FILE3 = "migrations/versions/0003_cccc3333.lua"
RAW3 = "migrations/versions/0003_raw.lua"

CASES = [
    # -- command line -----------------------------------------------------------
    ("no_command", "sqlite", None, [], 2, "luamig: error: too few arguments (see 'luamig --help')"),
    ("unknown_command", "sqlite", None, ["frob"], 2,
     re.compile(r"^luamig: error: argument command: invalid choice: 'frob' \(choose from ")),
    ("unknown_global_option", "sqlite", None, ["--frob", "current"], 2,
     "luamig: error: unrecognized arguments: --frob (see 'luamig --help')"),
    ("config_without_value", "sqlite", None, ["-c"], 2,
     "luamig: error: argument -c/--config: expected one argument (see 'luamig --help')"),
    ("upgrade_without_revision", "sqlite", None, ["upgrade"], 2,
     "luamig upgrade: error: the following arguments are required: revision "
     "(see 'luamig upgrade --help')"),
    ("upgrade_extra_argument", "sqlite", None, ["upgrade", "head", "x"], 2,
     "luamig upgrade: error: unrecognized arguments: x (see 'luamig upgrade --help')"),
    ("option_of_another_command", "sqlite", None, ["current", "--sql"], 2,
     "luamig current: error: unrecognized arguments: --sql (see 'luamig current --help')"),
    ("message_without_value", "sqlite", None, ["revision", "-m"], 2,
     "luamig revision: error: argument -m/--message: expected one argument "
     "(see 'luamig revision --help')"),
    ("revision_file_is_a_fifo", "sqlite", fifo("migrations/versions/0003_fifo.lua"),
     ["upgrade", "head"], 1, re.compile(r"^FAILED: .*/0003_fifo\.lua: not a regular file$")),
    ("revision_file_is_a_fifo_heads", "sqlite", fifo("migrations/versions/0003_fifo.lua"),
     ["heads"], 1, re.compile(r"^FAILED: .*/0003_fifo\.lua: not a regular file$")),
    # other files luamig reads that a FIFO would make it wait on for good
    ("checkpoint_file_is_a_fifo", "sqlite",
     steps(lambda p: os.makedirs(p.path("migrations/checkpoints")),
           fifo("migrations/checkpoints/bbbb2222_sqlite.lua")),
     ["test"], 1, "FAILED: migrations/checkpoints/bbbb2222_sqlite.lua: not a regular file"),
    ("lint_rules_is_a_fifo", "sqlite", steps(ini("lint_rules", "rules.lua"), fifo("rules.lua")),
     ["lint"], 1,
     re.compile(r"^FAILED: luamig\.ini: lint_rules = rules\.lua: /.*/rules\.lua: not a regular file$")),
    ("lint_rules_is_a_folder", "sqlite",
     steps(ini("lint_rules", "rules.lua"), lambda p: os.mkdir(p.path("rules.lua"))), ["lint"], 1,
     re.compile(r"^FAILED: luamig\.ini: lint_rules = rules\.lua: /.*/rules\.lua: not a regular file$")),
    ("fleet_lua_is_a_fifo", "sqlite",
     steps(ini_append("\n[fleet:f]\nlua = targets.lua\n"), fifo("targets.lua")),
     ["--fleet", "f", "current"], 1,
     re.compile(r"^FAILED: \[fleet:f\] lua: /.*/targets\.lua: not a regular file$")),
    ("upgrade_unknown_revision", "all", None, ["upgrade", "nosuch"], 1,
     "FAILED: Can't locate revision identified by 'nosuch'"),
    ("upgrade_relative_garbage", "all", None, ["upgrade", "+abc"], 1,
     "FAILED: Can't locate revision identified by '+abc'"),
    ("upgrade_relative_too_far", "all", None, ["upgrade", "+5"], 1,
     "FAILED: Relative revision +5 didn't produce 5 migrations"),
    ("downgrade_relative_too_far", "all", None, ["downgrade", "-5"], 1,
     "FAILED: Relative revision -5 didn't produce 5 migrations"),
    ("downgrade_to_a_later_revision", "all", revision(), ["downgrade", "cccc3333"], 1,
     re.compile(r"^FAILED: .*cccc3333")),
    ("upgrade_unknown_branch", "all", None, ["upgrade", "nosuch@head"], 1,
     "FAILED: Can't locate revision identified by 'nosuch'"),
    ("stamp_unknown_revision", "all", None, ["stamp", "nosuch"], 1,
     "FAILED: Can't locate revision identified by 'nosuch'"),
    ("show_unknown_revision", "sqlite", None, ["show", "nosuch"], 1,
     "FAILED: Can't locate revision identified by 'nosuch'"),
    ("history_bad_range", "sqlite", None, ["history", "-r", "abc"], 1,
     "FAILED: History range requires [start]:[end], [start]:, or :[end]"),
    ("downgrade_sql_without_range", "sqlite", None, ["downgrade", "--sql", "base"], 1,
     "FAILED: downgrade with --sql requires <fromrev>:<torev>"),
    ("cli_rev_id_path_traversal", "sqlite", None,
     ["revision", "-m", "x", "--rev-id", "../../x"], 1,
     "FAILED: Character(s) '/' not allowed in revision identifier '../../x'"),
    ("cli_rev_id_quote_injection", "sqlite", None,
     ["revision", "-m", "x", "--rev-id", 'a"os.exit(7)--'], 1,
     "FAILED: Character(s) '\", -' not allowed in revision identifier 'a\"os.exit(7)--'"),
    ("cli_rev_id_too_long", "sqlite", None, ["revision", "-m", "x", "--rev-id", "a" * 40], 1,
     "FAILED: Revision identifier '%s...' is longer than 32 characters (the version table's "
     "version_num column)" % ("a" * 32)),
    ("cli_branch_label_both_quotes", "sqlite", None,
     ["revision", "-m", "x", "--branch-label", "a\"b'c"], 1,
     "FAILED: branch label 'a\"b'c' cannot be written in a revision header: it holds both "
     "quotes, a backslash or a line break"),
    ("revision_message_closes_comment", "sqlite", None,
     ["revision", "-m", "x ]] os.exit(3) --[["], 1,
     "FAILED: A revision message may not contain ']]': it would end the comment that holds it "
     "in the revision file"),
    ("merge_message_closes_long_comment", "sqlite", steps(revision(down="aaaa1111")),
     ["merge", "heads", "-m", "a ]==] b"], 1,
     "FAILED: A revision message may not contain ']==]': it would end the comment that holds "
     "it in the revision file"),
    ("cli_rev_id_empty", "sqlite", None, ["revision", "-m", "x", "--rev-id", ""], 1,
     "FAILED: A revision identifier must not be empty"),
    ("cli_rev_id_duplicate", "sqlite", None, ["revision", "-m", "x", "--rev-id", "aaaa1111"], 1,
     re.compile(r"^FAILED: .*aaaa1111")),
    ("merge_unknown_revision", "sqlite", None, ["merge", "nosuch", "-m", "m"], 1,
     "FAILED: Can't locate revision identified by 'nosuch'"),
    ("revision_head_unknown", "sqlite", None, ["revision", "-m", "x", "--head", "nosuch@head"], 1,
     re.compile(r"^FAILED: .*nosuch")),

    # -- luamig.ini ---------------------------------------------------------------
    ("ini_missing", "sqlite", None, ["-c", "nosuch.ini", "current"], 1,
     re.compile(r"^FAILED: .*nosuch\.ini")),
    ("ini_no_section_header", "sqlite", ini_text("url = {url}\n"), ["current"], 1,
     "FAILED: luamig.ini:1: File contains no section headers."),
    ("ini_malformed_section", "sqlite", ini_text("[luamig\nurl = {url}\n"), ["current"], 1,
     "FAILED: luamig.ini:1: malformed section header"),
    ("ini_line_without_equals", "sqlite", ini_append("[luamig]\njust words\n"), ["current"], 1,
     re.compile(r"^FAILED: .*luamig\.ini")),
    ("ini_duplicate_key", "all", ini_text(
        "[luamig]\nscript_location = migrations\nurl = {url}\nurl = sqlite:///other.db\n"),
     ["upgrade", "head"], 1,
     "FAILED: While reading from 'luamig.ini' [line  4]: option 'url' in section 'luamig' "
     "already exists"),
    ("ini_duplicate_section", "sqlite", ini_text(
        "[luamig]\nscript_location = migrations\nurl = {url}\n[luamig]\nx = 1\n"),
     ["current"], 1,
     "FAILED: While reading from 'luamig.ini' [line  4]: section 'luamig' already exists"),
    ("ini_unknown_interpolation", "sqlite", ini_text(
        "[luamig]\nscript_location = migrations\nurl = sqlite:///%(nosuch)s.db\n"),
     ["upgrade", "head"], 1,
     "FAILED: luamig.ini:3: Bad value substitution: option 'url' in section 'luamig' contains "
     "an interpolation key 'nosuch' which is not a valid option name. Raw value: "
     "(not shown: the value may hold a password)"),
    ("ini_percent_in_url_password", "sqlite", ini_text(
        "[luamig]\nscript_location = migrations\nurl = postgresql://u:s3cr%etpw@h/db\n"),
     ["current"], 1,
     "FAILED: luamig.ini:3: '%' must be followed by '%' or '(', found: (not shown: the value "
     "may hold a password)"),
    ("ini_self_interpolation", "sqlite", ini_text(
        "[luamig]\nscript_location = migrations\nurl = {url}\nx = %(x)s%(x)s\n"),
     ["upgrade", "head"], 1,
     "FAILED: luamig.ini:4: Recursion limit exceeded in value substitution: option 'x' in "
     "section 'luamig' contains an interpolation key which cannot be substituted in 10 steps. "
     "Raw value: '%(x)s%(x)s'"),
    ("ini_lone_percent", "sqlite", ini_text(
        "[luamig]\nscript_location = migrations\nurl = {url}\nx = 100%\n"),
     ["current"], 1,
     "FAILED: luamig.ini:4: '%' must be followed by '%' or '(', found: '%'"),
    ("ini_no_script_location", "sqlite", ini_text("[luamig]\nurl = {url}\n"), ["current"], 1,
     "FAILED: No 'script_location' key found in configuration."),
    ("ini_script_location_missing_folder", "sqlite", ini("script_location", "nowhere"),
     ["current"], 1, re.compile(r"^FAILED: Path doesn't exist: '.*/nowhere'\.  Please use the "
                                r"'init' command to create a new scripts folder\.$")),
    ("ini_no_section_named", "sqlite", None, ["-n", "other", "current"], 1,
     "FAILED: No config file 'luamig.ini' found, or file has no '[other]' section"),
    ("ini_bad_file_template", "sqlite", ini("file_template", "%%(nosuch)s"),
     ["revision", "-m", "x"], 1, re.compile(r"^FAILED: .*nosuch")),
    ("template_renders_no_lua", "sqlite",
     lambda p: p.write("migrations/script.lua.tmpl",
                       'revision = ${up_revision_lua}\ndown_revision = ${down_revision}\n'
                       'function upgrade(\n'),
     ["revision", "-m", "x", "--rev-id", "dddd4444"], 1,
     re.compile(r"^FAILED: The new revision file would not compile \(nothing was written\): "
                r"/.*/migrations/versions/dddd4444_x\.lua:\d+: .*expected near <eof>$")),
    ("ini_file_template_huge_width", "sqlite", ini("file_template", "%%(rev)99999999999s_%%(slug)s"),
     ["revision", "-m", "x"], 1, "FAILED: Invalid file_template '%(rev)99999999999s_%(slug)s'"),
    ("ini_bad_timezone", "sqlite", ini("timezone", "Mars/Olympus"), ["revision", "-m", "x"], 1,
     "FAILED: Can't locate timezone: Mars/Olympus"),
    ("ini_no_url", "sqlite", ini_text("[luamig]\nscript_location = migrations\n"),
     ["upgrade", "head"], 1, re.compile(r"^FAILED: .*url")),

    ("ini_bad_runner_lock", "all", ini("runner_lock", "rows"), ["upgrade", "head"], 1,
     "FAILED: runner_lock must be auto, advisory or table, not 'rows'"),
    ("ini_bad_runner_lock_timeout", "all", ini("runner_lock_timeout", "5min"), ["upgrade", "head"],
     1, "FAILED: runner_lock_timeout must be a number of seconds (0 or more), not '5min'"),
    ("ini_negative_runner_lock_timeout", "sqlite", ini("runner_lock_timeout", "-1"),
     ["upgrade", "head"], 1,
     "FAILED: runner_lock_timeout must be a number of seconds (0 or more), not '-1'"),
    ("ini_bad_runner_lock_lease", "all", ini("runner_lock_lease", "soon"), ["upgrade", "head"], 1,
     "FAILED: runner_lock_lease must be a number of seconds above 0, not 'soon'"),
    # -- fleets (luamig --fleet NAME) ---------------------------------------------
    ("fleet_unknown", "sqlite", None, ["--fleet", "nope", "upgrade", "head"], 1,
     re.compile(r"^FAILED: No fleet 'nope' in .*luamig\.ini: it has no \[fleet:nope\] section "
                r"\(fleets: none\)$")),
    ("fleet_malformed_targets_line", "all", ini_append("\n[fleet:f]\ntargets =\n    lonely\n"),
     ["--fleet", "f", "upgrade", "head"], 1,
     "FAILED: [fleet:f] targets, line 2: expected '<name> <url>', got 'lonely'"),
    ("fleet_malformed_targets_line_password_with_space", "sqlite",
     ini_append('\n[fleet:f]\ntargets =\n    b postgresql://u:p w"xyz-SECRET@127.0.0.1:1/db\n'),
     ["--fleet", "f", "upgrade", "head"], 1,
     "FAILED: [fleet:f] targets, line 2: expected '<name> <url>', got "
     "'b postgresql://u:***@127.0.0.1:1/db'"),
    ("fleet_duplicate_target", "sqlite",
     ini_append("\n[fleet:f]\ntargets =\n    a sqlite:///a.db\n    a sqlite:///b.db\n"),
     ["--fleet", "f", "upgrade", "head"], 1, "FAILED: [fleet:f] targets: target 'a' is named twice"),
    ("fleet_schemas_on_sqlite", "sqlite", ini_append("\n[fleet:f]\nschemas = s1 s2\n"),
     ["--fleet", "f", "upgrade", "head"], 1,
     re.compile(r"^FAILED: \[fleet:f\] schemas: sqlite has no schemas \(tenants as schemas need "
                r"PostgreSQL\); the url is sqlite:///")),
    ("fleet_parallel_zero", "sqlite", None, ["--fleet", "f", "--parallel", "0", "upgrade", "head"],
     2, "luamig: error: argument --parallel: invalid value: '0' (a whole number from 1 to 1024) "
     "(see 'luamig --help')"),

    # -- URLs ---------------------------------------------------------------------
    ("url_unknown_scheme", "sqlite", ini("url", "mysql://u@h/db"), ["upgrade", "head"], 1,
     re.compile(r"^FAILED: .*mysql")),
    ("url_garbage", "sqlite", ini("url", "not a url"), ["upgrade", "head"], 1,
     "FAILED: Could not parse SQLAlchemy URL from string 'not a url'"),
    ("url_sqlite_missing_folder", "sqlite", ini("url", "sqlite:///no/such/dir/app.db"),
     ["upgrade", "head"], 1, re.compile(r"^FAILED: .*unable to open database file")),
    ("url_pg_bad_port", "sqlite", ini("url", "postgresql://u:secret@127.0.0.1:notaport/db"),
     ["upgrade", "head"], 1, re.compile(r"^FAILED: (?!.*secret).*")),
    ("url_pg_refused_password_with_specials", "sqlite",
     ini("url", "postgresql://u:p%%23w%%3Fd%%2F%%27 q@127.0.0.1:1/db"), ["upgrade", "head"], 1,
     re.compile(r"^FAILED: (?!.*p#w)(?!.*p%23w).*127\.0\.0\.1")),

    # libpq decodes a query key's percent-escapes: "passwor%64" is its password keyword
    ("url_pg_password_key_percent_encoded", "sqlite",
     ini("url", "postgresql://u@127.0.0.1:1/db?passwor%%64=s3cr3t-pw"), ["upgrade", "head"], 1,
     re.compile(r"^FAILED: could not connect to postgresql://u@127\.0\.0\.1:1/db\?passwor%64="
                r"\*\*\*(?!.*s3cr3t)")),
    ("url_pg_password_key_percent_encoded_first", "sqlite",
     ini("url", "postgresql://u@127.0.0.1:1/db?sslmode=disable&%%70assword=s3cr3t-pw"),
     ["upgrade", "head"], 1,
     re.compile(r"^FAILED: could not connect to postgresql://u@127\.0\.0\.1:1/db\?sslmode=disable"
                r"&%70assword=\*\*\*(?!.*s3cr3t)")),
    ("url_pg_password_quote_hash_unencoded", "sqlite",
     ini("url", "postgresql://u:se'cr#et@127.0.0.1:1/db"), ["upgrade", "head"], 1,
     re.compile(r"^FAILED: could not connect to "
                r"postgresql://u:\*\*\*@127\.0\.0\.1:1/db: (?!.*cr#et)(?!.*se')")),
    ("url_pg_password_slash_question_unencoded", "sqlite",
     ini("url", "postgresql://u:ab/cd?ef@127.0.0.1:1/db"), ["upgrade", "head"], 1,
     "FAILED: Invalid PostgreSQL URL 'postgresql://u:***@127.0.0.1:1/db': libpq cannot parse "
     "it (write '/', '?', '#' and '@' in a password percent-encoded: %2F, %3F, %23, %40)"),
    ("url_pg_password_space_and_double_quote", "sqlite",
     ini("url", 'postgresql://u:p w"xyz@127.0.0.1:1/db?sslmode=disable'), ["upgrade", "head"], 1,
     re.compile(r"^FAILED: (?!.*p w)(?!.*xyz).*u:\*\*\*@127\.0\.0\.1:1/db\?sslmode=disable")),

    # -- revision files -------------------------------------------------------------
    # a NUL byte in a value: SQL text cannot carry it (a script is read out of step after
    # it), and PostgreSQL's text cannot hold it (libpq would cut the value short)
    ("rev_nul_in_a_value_online", "pg",
     revision(up=T3_UP + '\n  op.execute("SELECT :v", { v = "x\\0y" })'),
     ["upgrade", "head"], 1,
     re.compile(r"^FAILED: upgrade of revision cccc3333 failed at %s:\d+: A string literal cannot "
                r"contain NUL \(0x00\) characters\. \[SQL: SELECT \$1\]$" % re.escape(FILE3))),
    ("rev_nul_in_a_value_offline", "all",
     revision(up='  op.bulk_insert(sa.table("t1", sa.column("id", sa.Integer), '
                 'sa.column("v", sa.String)), { { id = 9, v = "x\\0y" } })'),
     ["upgrade", "bbbb2222:head", "--sql"], 1,
     re.compile(r"^FAILED: upgrade of revision cccc3333 failed at %s:\d+: A string literal cannot "
                r"contain NUL \(0x00\) characters\.$" % re.escape(FILE3))),
    ("rev_syntax_error", "all", revision(up='  op.create_table("t3",'), ["upgrade", "head"], 1,
     "FAILED: %s:12: unexpected symbol near 'end'" % FILE3),
    ("rev_error_at_load", "all",
     raw_revision('revision = "cccc3333"\ndown_revision = "bbbb2222"\nlocal x = nil + 1\n'),
     ["upgrade", "head"], 1, re.compile(r"^FAILED: %s:3: .*arithmetic" % re.escape(RAW3))),
    ("rev_no_revision_line", "sqlite", header('down_revision = "bbbb2222"'), ["heads"], 1,
     "FAILED: %s: no 'revision = \"...\"' line: a revision file must name its revision" % RAW3),
    ("rev_no_down_revision_line", "sqlite", header('revision = "cccc3333"'), ["heads"], 1,
     "FAILED: %s: no 'down_revision = ...' line (use down_revision = nil for a first revision)"
     % RAW3),
    ("rev_short_comment_bracket", "sqlite",
     header('revision = "cccc3333"\ndown_revision = "bbbb2222"\nbranch_labels = nil --[ x ]\n'
            'depends_on = nil'), ["heads"], 0, None),
    ("rev_id_concatenated", "sqlite",
     header('revision = "cccc" .. "3333"\ndown_revision = "bbbb2222"'), ["heads"], 1,
     "FAILED: %s:3: revision must be nil, a string or a list of strings written literally"
     % RAW3),
    ("rev_id_escape", "sqlite", header('revision = "ccc\\0513333"\ndown_revision = "bbbb2222"'),
     ["heads"], 1,
     "FAILED: %s:3: revision must be nil, a string or a list of strings written literally"
     % RAW3),
    ("rev_id_empty", "sqlite", header('revision = ""\ndown_revision = "bbbb2222"'), ["heads"], 1,
     "FAILED: A revision identifier must not be empty"),
    ("rev_id_huge", "sqlite", header('revision = "%s"\ndown_revision = "bbbb2222"' % ("c" * 100000)),
     ["heads"], 1, re.compile(r"^FAILED: Revision identifier 'c{32}\.\.\.' is longer than 32")),
    ("rev_id_illegal_char", "sqlite", header('revision = "cc-33"\ndown_revision = "bbbb2222"'),
     ["heads"], 1, "FAILED: Character(s) '-' not allowed in revision identifier 'cc-33'"),
    ("rev_id_path", "sqlite", header('revision = "../cc"\ndown_revision = "bbbb2222"'),
     ["heads"], 1, "FAILED: Character(s) '/' not allowed in revision identifier '../cc'"),
    ("rev_down_revision_table_expr", "sqlite",
     header('revision = "cccc3333"\ndown_revision = { "bbbb2222" } or nil'), ["heads"], 1,
     "FAILED: %s:4: down_revision must be nil, a string or a list of strings written literally"
     % RAW3),
    ("rev_duplicate_id", "sqlite", revision(rev="bbbb2222", down="aaaa1111"), ["heads"], 1,
     re.compile(r"^FAILED: .*bbbb2222")),
    ("rev_missing_parent", "all", revision(down="nosuch"), ["upgrade", "head"], 1,
     "FAILED: Revision nosuch referenced from cccc3333 is not present"),
    ("rev_self_loop", "sqlite", revision(down="cccc3333"), ["heads"], 1,
     "FAILED: Self-loop is detected in revisions (cccc3333)"),
    ("rev_cycle", "sqlite", steps(revision(rev="cccc3333", down="dddd4444"),
                                  revision(rev="dddd4444", down="cccc3333")), ["heads"], 1,
     re.compile(r"^FAILED: Cycle is detected in revisions")),
    ("rev_depends_on_cycle", "sqlite",
     steps(revision(rev="cccc3333", down="bbbb2222", depends_on="dddd4444"),
           revision(rev="dddd4444", down="bbbb2222", depends_on="cccc3333")),
     ["upgrade", "heads"], 1, re.compile(r"^FAILED: .*[Cc]ycle")),
    ("rev_depends_on_hidden_cycle", "sqlite",
     steps(revision(rev="cccc3333", down="aaaa1111", depends_on="eeee5555"),
           revision(rev="dddd4444", down="cccc3333"),
           revision(rev="eeee5555", down="dddd4444"),
           revision(rev="ffff6666", down="bbbb2222", depends_on="cccc3333")),
     ["history"], 1,
     "FAILED: Dependency cycle is detected in revisions (cccc3333, dddd4444, eeee5555)"),
    ("rev_depends_on_self", "sqlite", revision(depends_on="cccc3333"), ["heads"], 1,
     "FAILED: Dependency self-loop is detected in revisions (cccc3333)"),
    ("rev_runtime_error", "all", revision(up=T3_UP + '\n  error("refusing")'),
     ["upgrade", "head"], 1,
     re.compile(r"^FAILED: upgrade of revision cccc3333 failed at %s:1\d: .*refusing$"
                % re.escape(FILE3))),
    ("rev_sql_error", "all", revision(up=T3_UP + '\n  op.execute("INSERT INTO nowhere VALUES (1)")'),
     ["upgrade", "head"], 1,
     re.compile(r"^FAILED: upgrade of revision cccc3333 failed at %s:1\d: .*nowhere"
                % re.escape(FILE3))),
    ("rev_unknown_op", "all", revision(up='  op.create_tabel("t3")'), ["upgrade", "head"], 1,
     re.compile(r"^FAILED: upgrade of revision cccc3333 failed at %s:1\d: .*create_tabel"
                % re.escape(FILE3))),
    ("rev_bad_op_argument", "all", revision(up='  op.create_table(nil)'), ["upgrade", "head"], 1,
     re.compile(r"^FAILED: upgrade of revision cccc3333 failed at %s:1\d: " % re.escape(FILE3))),
    ("rev_downgrade_error", "all", steps(revision(downgrade='  error("no way back")'),
                                         lambda p: p.ok("upgrade", "head")),
     ["downgrade", "bbbb2222"], 1,
     re.compile(r"^FAILED: downgrade of revision cccc3333 failed at %s:\d+: .*no way back$"
                % re.escape(FILE3))),
    ("rev_os_exit", "all", revision(up=T3_UP + "\n  os.exit(0)"), ["upgrade", "head"], 1,
     re.compile(r"^FAILED: upgrade of revision cccc3333 failed at %s:1\d: .*os\.exit"
                % re.escape(FILE3))),
    ("rev_commit_then_fail", "all",
     revision(up=T3_UP + '\n  op.execute("COMMIT")\n  error("after commit")'),
     ["upgrade", "head"], 1, re.compile(r"^FAILED: upgrade of revision cccc3333 .*")),

    # -- the version table -------------------------------------------------------------
    ("version_unknown_revision", "all", sql("UPDATE luamig_version SET version_num = 'zzzz9999'"),
     ["upgrade", "head"], 1, re.compile(r"^FAILED: .*zzzz9999")),
    ("version_unknown_revision_current", "all",
     sql("UPDATE luamig_version SET version_num = 'zzzz9999'"), ["current"], 1,
     re.compile(r"^FAILED: .*zzzz9999")),
    ("version_garbage", "all",
     sql("UPDATE luamig_version SET version_num = 'a''\"]]--'"), ["upgrade", "head"], 1,
     re.compile(r"^FAILED: .*")),
    ("version_two_rows_same_branch", "all",
     sql("INSERT INTO luamig_version (version_num) VALUES ('aaaa1111')"), ["upgrade", "head"], 1,
     re.compile(r"^FAILED: .*")),
    ("version_row_null", "all",
     steps(sql("DROP TABLE luamig_version"),
           sql("CREATE TABLE luamig_version (version_num VARCHAR(32))"),
           sql("INSERT INTO luamig_version (version_num) VALUES (NULL)")), ["upgrade", "head"], 1,
     "FAILED: The version table luamig_version has a row whose version_num is NULL: delete it, "
     "or replace the rows with 'luamig stamp --purge <revision>'"),
    ("version_table_wrong_shape", "all",
     steps(sql("DROP TABLE luamig_version"),
           sql("CREATE TABLE luamig_version (x INTEGER)")), ["upgrade", "head"], 1,
     re.compile(r"^FAILED: .*version_num")),

    # -- checksums, validate, stamp --resync ---------------------------------------------
    ("checksums_edited_revision_refused", "all",
     steps(ini("history_table", "luamig_history"), ini("checksums", "error"), revision(),
           lambda p: p.ok("upgrade", "head"), append_to(FILE3, "-- edited\n")),
     ["upgrade", "head"], 1,
     re.compile(r"^FAILED: Revision cccc3333 \(%s\) was changed after it was applied: "
                r"checksum fnv1a64-v2:[0-9a-f]{16} when applied, fnv1a64-v2:[0-9a-f]{16} now "
                r"\(luamig stamp --resync cccc3333 records a deliberate edit\)$"
                % re.escape(FILE3))),
    ("checksums_bad_setting", "sqlite", ini("checksums", "strict"), ["current"], 1,
     "FAILED: checksums must be warn, error or off, not 'strict'"),
    ("validate_extra_argument", "sqlite", None, ["validate", "x"], 2,
     "luamig validate: error: unrecognized arguments: x (see 'luamig validate --help')"),
    ("validate_unknown_version_row", "all",
     sql("UPDATE luamig_version SET version_num = 'zzzz9999'"), ["validate"], 1,
     "FAILED: Validation found 1 problem"),
    ("stamp_resync_unknown_revision", "all", ini("history_table", "luamig_history"),
     ["stamp", "--resync", "nosuch"], 1, "FAILED: Can't locate revision identified by 'nosuch'"),
    ("stamp_resync_not_applied", "all", steps(ini("history_table", "luamig_history"), revision()),
     ["stamp", "--resync", "cccc3333"], 1,
     "FAILED: Revision cccc3333 is not applied to the database: stamp --resync records an edit "
     "of an applied revision"),
    ("stamp_resync_base", "sqlite", ini("history_table", "luamig_history"),
     ["stamp", "--resync", "base"], 1,
     "FAILED: stamp --resync needs an applied revision; 'base' names none"),
    ("stamp_resync_without_history_table", "all", None, ["stamp", "--resync", "head"], 1,
     "FAILED: stamp --resync records checksums in the history table: set history_table in "
     "luamig.ini (or in context.configure)"),
    ("stamp_resync_with_sql", "sqlite", None, ["stamp", "--resync", "--sql", "head"], 2,
     "luamig stamp: error: argument --resync: not allowed with argument --sql "
     "(see 'luamig stamp --help')"),
    ("stamp_resync_with_purge", "sqlite", None, ["stamp", "--purge", "--resync", "head"], 2,
     "luamig stamp: error: argument --resync: not allowed with argument --purge "
     "(see 'luamig stamp --help')"),
    ("stamp_resync_without_revision", "sqlite", None, ["stamp", "--resync"], 2,
     "luamig stamp: error: the following arguments are required: revisions "
     "(see 'luamig stamp --help')"),
    ("test_schema_on_sqlite", "sqlite", None, ["test", "--schema"], 1,
     "FAILED: luamig test --schema is for PostgreSQL; SQLite uses a temporary file"),
    ("checkpoint_schema_on_sqlite", "sqlite", None, ["checkpoint", "--schema"], 1,
     "FAILED: luamig checkpoint --schema is for PostgreSQL; SQLite uses a temporary file"),
    ("checkpoint_unknown_revision", "all", None, ["checkpoint", "nosuch"], 1,
     "FAILED: Can't locate revision identified by 'nosuch'"),
    ("checkpoint_two_revisions", "sqlite", None, ["checkpoint", "a", "b"], 2,
     "luamig checkpoint: error: unrecognized arguments: b (see 'luamig checkpoint --help')"),
    # a checkpoint file is read by luamig test (and by a fresh upgrade): one line naming it
    ("checkpoint_file_empty", "all", checkpoint_file(""), ["test"], 1,
     "FAILED: migrations/checkpoints/bbbb2222_x.lua: a checkpoint file sets checkpoint = "
     "{ \"<revision>\", ... }"),
    ("checkpoint_file_binary", "sqlite", checkpoint_file("\x00\x1b\xff\xfe]]--"), ["test"], 1,
     re.compile(r"^FAILED: migrations/checkpoints/bbbb2222_x\.lua:1: ")),
    ("checkpoint_file_syntax", "sqlite", checkpoint_file('checkpoint = { "bbbb2222"\nfunction'),
     ["test"], 1, "FAILED: migrations/checkpoints/bbbb2222_x.lua:2: '}' expected (to close '{' "
     "at line 1) near 'function'"),
    ("checkpoint_file_unknown_revision", "all",
     checkpoint_file('checkpoint = { "zzzz9999" }\ndialect = "sqlite"\nfunction upgrade() end\n'),
     ["test"], 1, "FAILED: migrations/checkpoints/bbbb2222_x.lua: checkpoint stands for revision "
     "'zzzz9999', which the script directory does not have"),
    ("checkpoint_prune_without_checkpoint", "all", None, ["checkpoint", "--prune"], 1,
     "FAILED: luamig checkpoint --prune: no checkpoint stands for bbbb2222 (luamig checkpoint "
     "bbbb2222 writes one)"),
    ("test_unknown_revision", "all", None, ["test", "nosuch"], 1,
     "FAILED: Can't locate revision identified by 'nosuch'"),
    ("test_with_sql", "sqlite", None, ["test", "--sql"], 2,
     "luamig test: error: unrecognized arguments: --sql (see 'luamig test --help')"),
    ("test_env_connects_around_luamig", "all",
     replace_in_env("luamig.connect(", 'require("luamig.core").connect('), ["test"], 1,
     "FAILED: luamig test: env.lua's connection was not made by luamig.connect or "
     "context.configure{ url = }; refusing to run on it"),
    ("test_two_ranges", "sqlite", None, ["test", "base:head", "x"], 2,
     "luamig test: error: unrecognized arguments: x (see 'luamig test --help')"),

    # -- environment ------------------------------------------------------------------
    ("env_config_missing", "sqlite", None, ["current"], 1,
     re.compile(r"^FAILED: .*nosuch\.ini"), {"LUAMIG_CONFIG": "nosuch.ini"}),
    ("env_pg_wrong_password", "pg", None, ["upgrade", "head"], 1,
     re.compile(r"^FAILED: .*password authentication failed"), "pw_wrong"),
    ("env_editor_missing", "sqlite", None, ["edit", "head"], 1,
     "FAILED: Editor false exited with status 1", {"EDITOR": "false"}),
    ("env_error_in_env_lua", "all", replace_in_env("local config = context.config",
                                                   "local config = context.config\nerror('bad env')"),
     ["upgrade", "head"], 1, re.compile(r"^FAILED: migrations/env\.lua:\d+: bad env$")),
]


SANITIZER = re.compile(r"AddressSanitizer|LeakSanitizer|runtime error:|UndefinedBehavior")


def state(p):
    """What must not change: the catalog, the version rows, every row."""
    tables = p.tables()
    rows = {}
    for t in tables:
        rows[t] = sorted(map(repr, p.sql("SELECT * FROM %s" % t)))
    return p.schema(), rows, sorted(os.listdir(p.versions))


class BadInput(unittest.TestCase):
    def run_case(self, case, backend):
        name, _, setup, args, rc, want = case[:6]
        env = case[6] if len(case) > 6 else None
        p = Project(self, backend)
        p.revision_file("aaaa1111", up=T1_UP, downgrade='  op.drop_table("t1")')
        p.revision_file("bbbb2222", down="aaaa1111", up=T2_UP, downgrade='  op.drop_table("t2")')
        p.ok("upgrade", "head")
        if setup:
            setup(p)
        if env == "pw_wrong":
            bad = pg.url(re.search(r"@/([^?]+)", p.url).group(1), password=True, tcp=True)
            bad = bad.replace(pg.password(), "wrong" + pg.password()[:4])
            p.set_option("url", bad.replace("%", "%%"))
            env = None
        before = state(p)
        r = p.run(*args, env=env)
        if os.environ.get("BAD_INPUT_SHOW"):
            sys.stderr.write("%s/%s: rc=%d\n%s" % (name, backend, r.rc, r.err))
        self.assertNotRegex(r.err, SANITIZER, repr(r))
        self.assertEqual(r.rc, rc, repr(r))
        lines = [l for l in r.err.split("\n") if l and not l.startswith(("INFO ", "WARNI"))]
        if want is None:
            self.assertEqual(lines, [], repr(r))
        else:
            self.assertEqual(len(lines), 1, repr(r))
            if isinstance(want, str):
                self.assertEqual(lines[0], want, repr(r))
            else:
                self.assertRegex(lines[0], want, repr(r))
        self.assertEqual(state(p), before, "the database changed: %r" % r)

    def test_catalogue(self):
        self.assertGreaterEqual(len(CASES), 60)
        names = [c[0] for c in CASES]
        self.assertEqual(len(names), len(set(names)))
        have = backends()
        only = os.environ.get("BAD_INPUT_ONLY")
        for case in CASES:
            if only and not re.search(only, case[0]):
                continue
            wanted = {"all": have, "sqlite": ["sqlite"],
                      "pg": [b for b in have if b == "postgresql"]}[case[1]]
            for backend in wanted:
                with self.subTest(case=case[0], backend=backend):
                    self.run_case(case, backend)


if __name__ == "__main__":
    main()
